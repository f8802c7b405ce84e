"""Training and evaluation on in-memory tensors.

`fit` slices mini-batches from uint8 tensors (no DataLoader), uses Adam with a
one-cycle learning-rate schedule, and reports progress through a callback.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field

import torch
from torch.nn import functional as F

from .augment import DIGITS_ONLY, PRESETS, default_for, gentler, mix, written_pool
from .augment import apply as augment_batch
from .data import Dataset, Split
from .models import EVAL_BATCH, EncoderDecoder, losses, shown
from .nets import PIXELS

EPOCHS_RANGE = (1, 200)
LR_RANGE = (1e-5, 1e-1)
DEVICES = ("cpu", "cuda", "mps", "xpu")
SEED_MAX = 2**63 - 1


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, a bad setting); nothing is saved."""


class TrainingStopped(RuntimeError):
    """The user asked training to stop; nothing is saved."""


def _whole(v, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _number(v, lo: float, hi: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi


def default_settings(kind: str, encoder: str, dataset: str = "mnist") -> dict:
    """The learning rate and augmentation the Train page and `zoo` start from for a model."""
    return {"lr": 2e-3 if encoder == "mlp" else 3e-3, "augment": default_for(kind, dataset)}


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    limit: int | None = None   # train on the first N training images only
    augment: str = "none"      # a preset of `augment.PRESETS`: none, shift or handwriting
    settle: float = 0.0        # share of the epochs, the last ones, trained with gentler changes (augment.gentler)
    log_every: int = 25        # steps between progress reports

    def __post_init__(self):
        lo, hi = EPOCHS_RANGE
        if not _whole(self.epochs, lo, hi):
            raise TrainingError(f"Epochs must be a whole number from {lo} to {hi}; got {shown(self.epochs)}.")
        if not _number(self.lr, *LR_RANGE):
            raise TrainingError(f"Learning rate must be from {LR_RANGE[0]:g} to {LR_RANGE[1]:g}; got {shown(self.lr)}.")
        if not _whole(self.batch_size, 1, 4096):
            raise TrainingError(f"Batch size must be from 1 to 4096; got {shown(self.batch_size)}.")
        if self.limit is not None and not _whole(self.limit, 1, 10**9):
            raise TrainingError(f"The training-set size must be a whole number of at least 1; got {shown(self.limit)}.")
        if not _whole(self.seed, 0, SEED_MAX):
            raise TrainingError(f"The seed must be a whole number from 0 to 2**63 - 1; got {shown(self.seed)}.")
        if self.augment not in PRESETS:
            raise TrainingError(f"Unknown augmentation {shown(self.augment)}; choose one of {', '.join(PRESETS)}.")
        if not _number(self.settle, 0, 0.5):
            raise TrainingError(f"The share of settling epochs must be from 0 to 0.5; got {shown(self.settle)}.")
        if not _whole(self.log_every, 1, 10**6):
            raise TrainingError(f"Steps between reports must be a whole number of at least 1; got {shown(self.log_every)}.")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    """What a callback sees: `phase` is 'step', 'epoch' (with `val`) or 'done'."""
    phase: str
    step: int
    total_steps: int
    epoch: int           # 1-based; fractional progress is step / total_steps
    epochs: int
    loss: float          # mean training loss since the last report
    elapsed: float       # seconds
    samples_per_s: float
    val: dict = field(default_factory=dict)
    model: EncoderDecoder | None = field(default=None, repr=False)  # the model being trained

    @property
    def fraction(self) -> float:
        return self.step / max(1, self.total_steps)

    @property
    def remaining(self) -> float:
        return self.elapsed * (1 - self.fraction) / self.fraction if self.fraction > 0 else float("nan")


@dataclass
class Step:
    """Progress of work that is not a training loop: the share done and what is happening, as a
    key of the interface's strings with `values` for its blanks (pages translate it)."""
    fraction: float
    stage: str
    values: dict = field(default_factory=dict)


def _available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return hasattr(torch, "xpu") and torch.xpu.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then MPS, then CPU; a named device must exist on this machine."""
    name = str(name).strip().lower()
    if name == "auto":
        return torch.device(next(k for k in ("cuda", "mps", "cpu") if _available(k)))
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise TrainingError(f"Unknown device {shown(name)}; use auto, {', '.join(DEVICES)}.")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise TrainingError(f"Unknown device {shown(name)}; use auto, {', '.join(DEVICES)}.") from None
    if not _available(kind):
        raise TrainingError(f"{kind.upper()} was asked for but this machine has none; use auto or cpu.")
    if kind == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise TrainingError(f"There is no {name}: this machine has {torch.cuda.device_count()} CUDA device(s).")
    return device


@torch.no_grad()
def evaluate(model: EncoderDecoder, split: Split, batch_size: int = EVAL_BATCH) -> dict:
    """Metrics on a split: MSE and BCE per pixel (plus KL, ELBO for a VAE), or accuracy."""
    was_training = model.training
    model.eval()
    device = model.device
    sums: dict[str, float] = {}
    n = len(split)
    for i in range(0, n, batch_size):
        x = split.floats(slice(i, i + batch_size)).to(device)
        y = split.labels[i:i + batch_size].to(device)
        out = model(x)
        parts = losses(model, out, x, y)
        m = len(x)
        if model.is_classifier:
            batch = {"accuracy": (out["logits"].argmax(1) == y).float().sum().item(),
                     "cross_entropy": parts["cross_entropy"].item() * m}
        else:
            recon = torch.sigmoid(out["recon_logits"])
            batch = {"mse": F.mse_loss(recon, x, reduction="sum").item() / PIXELS,
                     "bce": parts["bce"].item() * m}
            if "kl" in parts:
                batch["kl"] = parts["kl"].item() * m
                batch["neg_elbo"] = parts["neg_elbo"].item() * m
        for key, v in batch.items():
            sums[key] = sums.get(key, 0.0) + v
    model.train(was_training)
    return {key: v / n for key, v in sums.items()}


def fit(model: EncoderDecoder, data: Dataset, config: TrainConfig | None = None, *,
        callback=None, stop: threading.Event | None = None, **overrides) -> dict:
    """Train `model` in place on `data.train`, validating on `data.val` each epoch.

    `callback(Progress)` is called every `log_every` steps and after each epoch.
    Setting `stop` ends training with TrainingStopped. Returns the history.
    """
    config = TrainConfig(**{**(config.to_dict() if config else {}), **overrides})
    if config.augment in DIGITS_ONLY and data.name != "mnist":
        raise TrainingError(f"The {config.augment} augmentation adds written digits, so it is for MNIST only; "
                            "choose handwriting, shift or none.")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    train = data.train.head(config.limit)
    n = len(train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.epochs
    model.to(device).train()
    trainable = [p for p in model.parameters() if p.requires_grad]  # a frozen encoder is left out
    opt = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    # warm up over the first 15% of the steps, then anneal: short CPU trainings reach a good loss quickly
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.15)
    images, labels = train.images.to(device), train.labels.to(device)
    augment = PRESETS[config.augment]
    settle_from = config.epochs - round(config.settle * config.epochs) + 1  # the first settling epoch
    pool = written_pool(n, config.seed) if augment.styles else None
    history = {"epoch": [], "train_loss": [], "val_loss": []}
    start, step, seen = time.perf_counter(), 0, 0
    running, running_n = 0.0, 0
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(n, generator=gen).to(device)
        aug = gentler(augment) if epoch >= settle_from else augment
        epoch_loss, epoch_n = 0.0, 0
        for b in range(steps_per_epoch):
            check_stop(stop)
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x = images[idx].unsqueeze(1).float().div_(255.0)  # (B,1,28,28)
            y = labels[idx]
            if pool is not None:
                x, y = mix(x, y, pool, aug.styles, gen)
            x = augment_batch(x, aug, gen)
            loss = losses(model, model(x), x, y)["loss"]
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"Training diverged: the loss became {loss.item()} at step {step + 1}; "
                    "lower the learning rate and try again. No model was saved.")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += len(idx)
            lv = loss.item()
            running, running_n = running + lv * len(idx), running_n + len(idx)
            epoch_loss, epoch_n = epoch_loss + lv * len(idx), epoch_n + len(idx)
            if callback is not None and step % config.log_every == 0:
                elapsed = time.perf_counter() - start
                callback(Progress("step", step, total, epoch, config.epochs, running / running_n,
                                  elapsed, seen / elapsed, model=model))
                running, running_n = 0.0, 0
        val = evaluate(model, data.val) if len(data.val) else {}
        val_loss = objective(model, val)
        history["epoch"].append(epoch)
        history["train_loss"].append(epoch_loss / max(1, epoch_n))
        history["val_loss"].append(val_loss)
        elapsed = time.perf_counter() - start
        if callback is not None:
            callback(Progress("epoch", step, total, epoch, config.epochs, epoch_loss / max(1, epoch_n),
                              elapsed, seen / elapsed, val, model=model))
    wall = time.perf_counter() - start
    history["wall_time_s"] = wall
    history["samples_per_s"] = seen / wall
    history["device"] = str(device)
    model.eval()
    if callback is not None:
        callback(Progress("done", step, total, config.epochs, config.epochs, history["train_loss"][-1],
                          wall, seen / wall, {}, model=model))
    return history


def objective(model: EncoderDecoder, metrics: dict) -> float | None:
    """The training objective's value from evaluation metrics (same units as the train loss)."""
    if not metrics:
        return None
    if model.is_classifier:
        return metrics["cross_entropy"]
    if "neg_elbo" in metrics:
        return metrics["neg_elbo"] / PIXELS
    return metrics["bce"]


def time_per_sample(model: EncoderDecoder, batch_size: int = 128, steps: int = 3, device: str = "auto") -> float:
    """Seconds per training sample, measured on a few random batches (for time estimates): forward and
    backward passes, which are nearly all of a step's time. No optimizer is made, because the first one
    in a process imports torch's compiler (seconds of imports a web server need not pay)."""
    dev = resolve_device(device)
    probe = type(model)(model.config).to(dev).train()
    x = torch.rand(batch_size, 1, 28, 28, device=dev)
    y = torch.randint(0, 10, (batch_size,), device=dev)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        losses(probe, probe(x), x, y)["loss"].backward()
        for p in probe.parameters():
            p.grad = None
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2] / batch_size


def check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise TrainingStopped("Training was stopped; no model was saved.")


def train_model(config, train_config: TrainConfig, data: Dataset, *, callback=None,
                stop: threading.Event | None = None, command: str | None = None,
                test_limit: int | None = None, recorder=None, round_to: torch.dtype | None = None) -> EncoderDecoder:
    """Build, train and test a model (on the first `test_limit` test images, all by default); its
    `meta` holds test metrics, history and recipe. `recorder` (frames.recorder) records the code
    space as it forms: its `tensors()` go to `save`. With `round_to` (torch.float16) the weights are
    rounded as a half-precision file stores them before they are tested, so the stored metrics are
    those of the saved model. A set `stop` raises TrainingStopped at any point, the test included."""
    from .checkpoint import round_weights
    from .models import build

    if recorder is not None:
        callback = both(recorder, callback)
    if config.dataset != data.name:
        raise TrainingError(f"The model is for {config.dataset} but the data is {data.name}.")
    torch.manual_seed(train_config.seed)  # the initial weights are part of the recipe
    model = build(config)
    history = fit(model, data, train_config, callback=callback, stop=stop)
    check_stop(stop)
    if round_to is not None:
        round_weights(model.cpu(), round_to)
    test = data.test.head(test_limit)
    metrics = evaluate(model, test)
    check_stop(stop)
    metrics.update(wall_time_s=history["wall_time_s"], samples_per_s=history["samples_per_s"],
                   train_size=len(data.train.head(train_config.limit)), test_size=len(test))
    recipe = {"train": train_config.to_dict(), "device": history["device"]}
    if command:
        recipe["command"] = command
    model.meta = {"metrics": metrics, "recipe": recipe, "dataset": data.name,
                  "history": {k: history[k] for k in ("epoch", "train_loss", "val_loss")}}
    return model.cpu().eval()


def both(first, second):
    """One progress callback that calls two (the second may be None)."""
    def callback(p):
        first(p)
        if second is not None:
            second(p)
    return callback


def estimate_seconds(per_sample: float, train_config: TrainConfig, n_train: int, n_val: int = 5000,
                     n_test: int = 10000) -> float:
    """Rough wall time of `train_model` from the seconds one training sample takes (`time_per_sample`)
    and the work to do (an evaluation pass costs about a third of a training step per image)."""
    n = min(n_train, train_config.limit or n_train)
    return per_sample * (train_config.epochs * (n + n_val / 3) + n_test / 3)