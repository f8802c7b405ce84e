"""What long work does, as plain functions a worker runs: train a model, probe a frozen code, train a
new decoder on a frozen encoder, fit a map, digest a model version for the pages.

Each piece of work is a `Spec` (plain settings, and the bytes of the checkpoint it starts from when it
starts from one), and `run(spec, report, stop)` does it in whatever process it is called in: a local
worker process or a Ray worker on another machine (engine.py). It reports through `report` and
returns an `Outcome`: bytes that the app saves where they belong. Nothing here writes to
ENCDEC_HOME, so a worker needs no share of the app's disk, only the datasets.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import torch

from . import checkpoint, frames, latent, maps, metrics, transfer
from .data import load_dataset
from .models import ModelConfig
from .projection import MapSettings
from .train import Progress, Step, TrainConfig, check_stop, objective, train_model

KINDS = ("train", "probe", "probe_model", "decoder", "map", "digest")
PREVIEW = 6          # test digits whose output is shown while a model trains
RANK_CODES = 16      # test codes at which each dimension's effect is measured for the editor's order


@dataclass
class Spec:
    kind: str                                   # one of KINDS
    params: dict = field(default_factory=dict)  # plain settings (JSON-able)
    model: bytes | None = None                  # the checkpoint the work starts from
    gpu: bool = False                           # ask for a GPU (a Ray cluster gives one to the task)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Unknown kind of work {self.kind!r}.")


@dataclass
class Outcome:
    checkpoint: bytes | None = None   # a model to save
    map: bytes | None = None          # the .npz of its map (the test split's default map for a new model)
    table: list | None = None         # a linear probe's results
    digest: bytes | None = None       # the .npz of a model version's digest (see `digest`)


class Reporter:
    """Where work tells how it goes; a backend sends each message on (`send`). This one keeps them."""

    def __init__(self):
        self.messages: list[tuple[str, object]] = []

    def send(self, kind: str, payload) -> None:
        self.messages.append((kind, payload))

    def progress(self, p: Progress) -> None:
        self.send("progress", {"phase": p.phase, "step": p.step, "total_steps": p.total_steps, "epoch": p.epoch,
                               "epochs": p.epochs, "loss": p.loss, "elapsed": p.elapsed, "fraction": p.fraction,
                               "remaining": p.remaining, "samples_per_s": p.samples_per_s,
                               "val_loss": objective(p.model, p.val) if p.val else None})

    def step(self, s: Step) -> None:
        self.send("step", {"fraction": s.fraction, "stage": s.stage, "values": s.values})

    def __call__(self, s) -> None:
        """A callback for work that reports `Step`s (probes) or `Progress` (trainings)."""
        (self.progress if isinstance(s, Progress) else self.step)(s)


def run(spec: Spec, report: Reporter, stop=None) -> Outcome:
    """Do the work `spec` describes; TrainingStopped when `stop` is set, TrainingError (and the other
    errors a user can cause) with one sentence otherwise."""
    return {"train": _train, "probe": _probe, "probe_model": _probe_model, "decoder": _decoder, "map": _map,
            "digest": _digest}[spec.kind](spec, report, stop)


# -- making models ------------------------------------------------------------------------------------

def _follow(report: Reporter, data, recorder):
    """A training callback: progress, a preview of a few test digits, and each new frame of the code space."""
    preview_x = data.test.floats(slice(0, PREVIEW))
    sent = [0]

    def on_progress(p: Progress) -> None:
        report.progress(p)
        if p.model is None or p.phase == "done":
            return
        was_training = p.model.training
        p.model.eval()
        try:
            out = latent.decoder_output(p.model, latent.encode(p.model, preview_x))
        finally:
            p.model.train(was_training)
        report.send("preview", out.numpy().astype(np.float16))
        if recorder is not None and len(recorder.frames) != sent[0]:
            sent[0] = len(recorder.frames)
            frame = recorder.frames[-1]
            report.send("frame", {"xy": frame.xy.astype(np.float16), "epoch": frame.epoch, "loss": frame.loss,
                                  "labels": recorder.labels.astype(np.uint8)})
    return on_progress


def _finish(model, data, report: Reporter, stop, recorder=None) -> Outcome:
    """The last steps of every job that makes a model: its default test-split map (so that the map
    opens at once) and the checkpoint, as bytes. Stop is obeyed until they are made."""
    report.step(Step(0.0, "job_map", {"n": len(data.test)}))
    codes = latent.encode_split(model, data.test).numpy()
    mapped = maps.compute(codes, maps.DEFAULT, data.test.labels.numpy())
    check_stop(stop)
    report.step(Step(0.6, "job_digest"))
    digested = _npz(digest(model, data.test))
    check_stop(stop)
    report.step(Step(1.0, "job_saving"))
    saved = checkpoint.to_bytes(model.cpu().eval(), frames=recorder.tensors() if recorder is not None else None)
    check_stop(stop)
    return Outcome(checkpoint=saved, map=maps.encode(mapped, maps.bytes_hash(saved), "test"), digest=digested)


def _train(spec: Spec, report: Reporter, stop) -> Outcome:
    config = ModelConfig.from_dict(spec.params["config"])
    train_config = TrainConfig(**spec.params["train"])
    data = load_dataset(config.dataset)
    recorder = frames.recorder(data.val)
    model = train_model(config, train_config, data, callback=_follow(report, data, recorder), stop=stop,
                        recorder=recorder)
    return _finish(model, data, report, stop, recorder)


def _source(spec: Spec):
    model = checkpoint.load_bytes(spec.model)
    return model, load_dataset(model.config.dataset)


def _probe(spec: Spec, report: Reporter, stop) -> Outcome:
    model, data = _source(spec)
    return Outcome(table=transfer.linear_probe(model, data, callback=report, stop=stop))


def _probe_model(spec: Spec, report: Reporter, stop) -> Outcome:
    model, data = _source(spec)
    probe = transfer.probe_model(model, data, per_class=spec.params.get("per_class"),
                                 source_name=spec.params.get("source_name"), callback=report, stop=stop)
    return _finish(probe, data, report, stop)


def _decoder(spec: Spec, report: Reporter, stop) -> Outcome:
    classifier, data = _source(spec)
    recorder = frames.recorder(data.val)
    p = spec.params
    model = transfer.decoder_from_classifier(classifier, data, decoder=p["decoder"], epochs=p["epochs"],
                                             limit=p.get("limit"), source_name=p.get("source_name"), stop=stop,
                                             recorder=recorder, callback=_follow(report, data, recorder))
    return _finish(model, data, report, stop, recorder)


# -- what the pages need of a model version -----------------------------------------------------------------

def _map(spec: Spec, report: Reporter, stop) -> Outcome:
    """A map of a split's codes with the settings asked for (and its quality)."""
    model, data = _source(spec)
    split = data.split(spec.params["split"])
    report.step(Step(0.0, "map_encoding", {"n": len(split)}))
    codes = latent.encode_split(model, split).numpy()
    if not np.isfinite(codes).all():
        raise ValueError("Some codes of this model are not finite numbers, so they cannot be mapped.")
    check_stop(stop)
    report.step(Step(0.2, "map_fitting", {"n": len(split)}))
    mapped = maps.compute(codes, MapSettings(**spec.params["settings"]), split.labels.numpy())
    return Outcome(map=maps.encode(mapped, maps.bytes_hash(spec.model), spec.params["split"]))


def digest(model, split) -> dict[str, np.ndarray]:
    """What the pages show of one model version on one split, computed once for everyone: the codes
    (N, k); each dimension's slider range (1st to 99th percentile) and mean; the dimensions in order
    of their effect on the output, averaged over a few test codes; and a classifier's predictions or
    an autoencoder's reconstruction error per image."""
    codes = latent.encode_split(model, split)
    out = {"codes": codes.numpy().astype(np.float32)}
    if torch.isfinite(codes).all():
        ranges = latent.code_ranges(codes)
        picks = torch.linspace(0, len(codes) - 1, min(RANK_CODES, len(codes))).long()
        effect = torch.stack([latent.rank_dimensions(model, codes[i], ranges)[1] for i in picks]).mean(0)
        out.update(low=ranges.low.numpy(), high=ranges.high.numpy(), mean=ranges.mean.numpy(),
                   effect=effect.numpy(), order=torch.argsort(effect, descending=True).numpy().astype(np.int64))
        if model.is_classifier:
            out["predictions"] = metrics.predictions(model, split).numpy().astype(np.uint8)
        else:
            out["errors"] = metrics.reconstruction_errors(model, split, codes).astype(np.float32)
    return out


def _digest(spec: Spec, report: Reporter, stop) -> Outcome:
    model, data = _source(spec)
    split = data.split(spec.params["split"])
    report.step(Step(0.0, "map_encoding", {"n": len(split)}))
    return Outcome(digest=_npz(digest(model, split)))


def _npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
