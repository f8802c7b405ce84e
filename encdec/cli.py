"""python -m encdec {train,evaluate,list,zoo}"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from . import checkpoint
from .checkpoint import CheckpointError
from .data import DATASETS, DataError, load_dataset
from .models import KINDS, ConfigError, ModelConfig, build
from .nets import DECODERS, ENCODERS
from .train import TrainConfig, TrainingError, TrainingStopped, evaluate, train_model

# The shipped models: name -> (model settings, training settings). `zoo` trains them all.
ZOO = {
    "mnist-mlp-ae-2": (dict(kind="autoencoder", encoder="mlp", decoder="mlp", code_dim=2), dict(epochs=60, batch_size=128, lr=2e-3)),
    "mnist-mlp-ae-16": (dict(kind="autoencoder", encoder="mlp", decoder="mlp", code_dim=16), dict(epochs=40, batch_size=128, lr=2e-3)),
    "mnist-cnn-ae-16": (dict(kind="autoencoder", encoder="cnn", decoder="deconv", code_dim=16), dict(epochs=15, lr=3e-3)),
    "mnist-lstm-ae-16": (dict(kind="autoencoder", encoder="lstm", decoder="lstm", code_dim=16), dict(epochs=15, lr=3e-3)),
    "mnist-cnn-vae-16": (dict(kind="vae", encoder="cnn", decoder="deconv", code_dim=16), dict(epochs=15, lr=3e-3)),
    "mnist-mlp-clf": (dict(kind="classifier", encoder="mlp", code_dim=16, dropout=0.2), dict(epochs=20, lr=2e-3, augment=True)),
    "mnist-cnn-clf": (dict(kind="classifier", encoder="cnn", code_dim=16, dropout=0.2), dict(epochs=12, lr=3e-3, augment=True)),
    "mnist-lstm-clf": (dict(kind="classifier", encoder="lstm", code_dim=16), dict(epochs=15, lr=3e-3)),
    # Half the default width keeps models/ under 25 MB (Fashion-MNIST has no bar, only a reported MSE).
    "fashion-cnn-ae-16": (dict(kind="autoencoder", encoder="cnn", decoder="deconv", code_dim=16, hidden=16, dataset="fashion"), dict(epochs=15, lr=3e-3)),
}


def zoo_args(name: str, out_dir: str = "models") -> list[str]:
    """The `train` arguments that reproduce a shipped model."""
    model, train = ZOO[name]
    args = ["train", "--dataset", model.get("dataset", "mnist"), "--kind", model["kind"],
            "--encoder", model["encoder"], "--code-dim", str(model["code_dim"])]
    if model.get("decoder"):
        args += ["--decoder", model["decoder"]]
    if model.get("dropout"):
        args += ["--dropout", str(model["dropout"])]
    if model.get("hidden"):
        args += ["--hidden", str(model["hidden"])]
    for key, flag in (("epochs", "--epochs"), ("batch_size", "--batch-size"), ("lr", "--lr")):
        if key in train:
            args += [flag, str(train[key])]
    if train.get("augment"):
        args.append("--augment")
    return args + ["--seed", "0", "--out", f"{out_dir}/{name}.safetensors"]


def _tqdm_callback(bar):
    def callback(p):
        if p.phase == "step":
            bar.update(p.step - bar.n)
            bar.set_postfix(epoch=p.epoch, loss=f"{p.loss:.4f}", rate=f"{p.samples_per_s:,.0f}/s")
        elif p.phase == "epoch":
            bar.update(p.step - bar.n)
            val = ", ".join(f"{k} {v:.4f}" for k, v in p.val.items())
            bar.write(f"epoch {p.epoch}/{p.epochs}: train loss {p.loss:.4f}; validation: {val}")
    return callback


def cmd_train(a) -> int:
    from tqdm import tqdm

    config = ModelConfig(kind=a.kind, encoder=a.encoder, decoder=a.decoder, code_dim=a.code_dim,
                         hidden=a.hidden, dropout=a.dropout, dataset=a.dataset)
    train_config = TrainConfig(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                               device=a.device, limit=a.limit, augment=a.augment)
    data = load_dataset(a.dataset)
    n = len(data.train.head(a.limit))
    steps = -(-n // a.batch_size) * a.epochs
    print(f"training {config.title} on {n:,} {a.dataset} images for {a.epochs} epochs", file=sys.stderr)
    with tqdm(total=steps, unit="step", file=sys.stderr, disable=a.quiet) as bar:
        command = "python -m encdec " + shlex.join(a.argv)
        model = train_model(config, train_config, data, callback=_tqdm_callback(bar), command=command)
    path = checkpoint.save(model, a.out)
    print(json.dumps(model.meta["metrics"], indent=2))
    print(f"saved {path}", file=sys.stderr)
    return 0


def cmd_evaluate(a) -> int:
    model = checkpoint.load(a.path)
    limit = a.limit
    data = load_dataset(model.config.dataset)
    metrics = evaluate(model, data.test.head(limit))
    if a.json:
        print(json.dumps(metrics))
    else:
        print(f"{Path(a.path).name}: {model.config.title}, {model.num_parameters():,} parameters")
        for k, v in metrics.items():
            print(f"  {k:14s} {v:.6g}")
    return 0


def markdown_table(infos) -> str:
    """The shipped-models table of README, from each checkpoint's own metadata."""
    rows = ["| name | kind | encoder -> decoder | code | parameters | test metrics | epochs | train time |",
            "|---|---|---|---:|---:|---|---:|---:|"]
    for info in infos:
        c, m = info.config, info.metrics
        if "accuracy" in m:
            score = f"accuracy {m['accuracy']:.2%}"
        else:
            score = f"MSE/pixel {m['mse']:.4f}, BCE/pixel {m['bce']:.4f}"
            if "neg_elbo" in m:
                score += f", -ELBO {m['neg_elbo']:.1f} nats (KL {m['kl']:.1f})"
        params = build(c).num_parameters()
        epochs = info.meta.get("recipe", {}).get("train", {}).get("epochs", "")
        rows.append(f"| {info.name} | {c.kind} | {c.encoder} -> {c.decoder} | {c.code_dim} | {params:,} | {score} "
                    f"| {epochs} | {m.get('wall_time_s', 0) / 60:.1f} min |")
    return "\n".join(rows)


def cmd_list(a) -> int:
    store = checkpoint.ModelStore(a.dir) if a.dir else None
    stores = [store] if store else [checkpoint.ModelStore(checkpoint.shipped_store_dir(), shipped=True),
                                    checkpoint.ModelStore(checkpoint.user_store_dir())]
    if a.markdown:
        print(markdown_table([i for s in stores for i in s.list() if not i.error]))
        return 0
    for s in stores:
        for info in s.list():
            if info.error:
                print(f"{info.name:24s} UNREADABLE: {info.error}")
                continue
            m = info.metrics
            score = (f"accuracy {m['accuracy']:.4f}" if "accuracy" in m else
                     f"mse {m['mse']:.5f}" if "mse" in m else "")
            print(f"{info.name:24s} {info.config.dataset:8s} {info.config.title:40s} {score}")
    return 0


def cmd_sample(a) -> int:
    """Decode codes drawn from N(0, I) into a grid picture (what a VAE generates)."""
    import torch

    from .imaging import grid, png_bytes
    from .latent import render

    model = checkpoint.load(a.path)
    if model.is_classifier:
        raise ConfigError("A classifier has no image decoder to sample from.")
    gen = torch.Generator().manual_seed(a.seed)
    z = torch.randn(a.rows * a.cols, model.config.code_dim, generator=gen)
    images = render(model, z).reshape(a.rows, a.cols, 28, 28)
    Path(a.out).write_bytes(png_bytes(grid(images), 2))
    print(f"wrote {a.out}: {a.rows * a.cols} samples from N(0, I) decoded by {Path(a.path).name}", file=sys.stderr)
    return 0


def cmd_zoo(a) -> int:
    names = a.names or list(ZOO)
    for name in names:
        if name not in ZOO:
            raise ConfigError(f"Unknown shipped model {name!r}; choose from {', '.join(ZOO)}.")
    for name in names:
        args = zoo_args(name, a.out_dir)
        if a.dry_run:
            args += ["--limit", "512", "--epochs", "1"]
        print("python -m encdec " + shlex.join(args), file=sys.stderr)
        if a.print_only:
            continue
        rc = main(args)
        if rc:
            return rc
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m encdec", description="Train, evaluate and list encoder-decoder models.")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a model and save it")
    t.add_argument("--dataset", choices=DATASETS, default="mnist")
    t.add_argument("--kind", choices=KINDS, default="autoencoder")
    t.add_argument("--encoder", choices=ENCODERS, default="mlp")
    t.add_argument("--decoder", choices=DECODERS + ("linear",), default=None)
    t.add_argument("--code-dim", type=int, default=16)
    t.add_argument("--hidden", type=int, default=0, help="network width (0: family default)")
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--augment", action="store_true", help="random 2-pixel shifts while training")
    t.add_argument("--limit", type=int, default=None, help="train on the first N images (smoke tests)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--out", required=True)
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="test metrics of a checkpoint")
    e.add_argument("path")
    e.add_argument("--json", action="store_true")
    e.add_argument("--limit", type=int, default=None, help="only the first N test images")
    e.set_defaults(func=cmd_evaluate)
    ls = sub.add_parser("list", help="list models in a folder (default: shipped and user models)")
    ls.add_argument("dir", nargs="?")
    ls.add_argument("--markdown", action="store_true", help="a markdown table of models and test metrics")
    ls.set_defaults(func=cmd_list)
    sp = sub.add_parser("sample", help="decode random codes from N(0, I) into a PNG grid")
    sp.add_argument("path")
    sp.add_argument("--out", required=True)
    sp.add_argument("--rows", type=int, default=8)
    sp.add_argument("--cols", type=int, default=12)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_sample)
    z = sub.add_parser("zoo", help="retrain the shipped models from scratch with fixed seeds")
    z.add_argument("names", nargs="*")
    z.add_argument("--out-dir", default="models")
    z.add_argument("--dry-run", action="store_true", help="1 epoch on 512 images per model")
    z.add_argument("--print-only", action="store_true", help="print the commands, run nothing")
    z.set_defaults(func=cmd_zoo)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parser().parse_args(argv)
    a.argv = argv
    try:
        return a.func(a)
    except (CheckpointError, ConfigError, DataError, TrainingError, TrainingStopped) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was saved", file=sys.stderr)
        return 130
