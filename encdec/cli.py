"""python -m encdec {train,evaluate,list,sample,frames,zoo,maps,lesson}"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from . import checkpoint, store
from .augment import PRESETS
from .checkpoint import CheckpointError, metric_summary
from .data import DATASETS, DataError, load_dataset
from .models import KINDS, ConfigError, ModelConfig
from .nets import DECODERS, ENCODERS
from .settings import SettingsError
from .train import TrainConfig, TrainingError, TrainingStopped, default_settings, evaluate, train_model

# The shipped models: name -> (model settings, training settings beyond the defaults for their kind).
# `zoo` trains them all with seed 0; `default_settings` gives each its learning rate and augmentation.
ZOO = {
    "mnist-mlp-ae-2": (dict(kind="autoencoder", encoder="mlp", decoder="mlp", code_dim=2), dict(epochs=60)),
    "mnist-mlp-ae-16": (dict(kind="autoencoder", encoder="mlp", decoder="mlp", code_dim=16), dict(epochs=40)),
    "mnist-cnn-ae-16": (dict(kind="autoencoder", encoder="cnn", decoder="deconv", code_dim=16), dict(epochs=15)),
    # At the family's 3e-3 an LSTM autoencoder can sit on a plateau for most of its epochs (seen: a test MSE
    # of 0.035 after 15 epochs, against 0.009); at 2e-3 it trains steadily.
    "mnist-lstm-ae-16": (dict(kind="autoencoder", encoder="lstm", decoder="lstm", code_dim=16), dict(epochs=15, lr=0.002)),
    "mnist-cnn-vae-16": (dict(kind="vae", encoder="cnn", decoder="deconv", code_dim=16), dict(epochs=15)),
    # MNIST classifiers read digits deskewed and learn from digits written in many styles (augment.py,
    # strokes.py); the MLP is twice the default width: reading every style needs it (bench/).
    # The MLP and the CNN spend their last fifth of epochs settling on gentler changes (docs/models.md:
    # 99.30% / 99.58% on MNIST's test split, 99.27% / 99.51% without).
    "mnist-mlp-clf": (dict(kind="classifier", encoder="mlp", code_dim=16, hidden=1024, dropout=0.2, deskew=True), dict(epochs=40, settle=0.2)),
    "mnist-cnn-clf": (dict(kind="classifier", encoder="cnn", code_dim=16, dropout=0.2, deskew=True), dict(epochs=25, settle=0.2)),
    "mnist-lstm-clf": (dict(kind="classifier", encoder="lstm", code_dim=16, deskew=True), dict(epochs=30)),
    # Fashion-MNIST models use half the CNN width (16 channels) to keep models/ under 30 MB; clothes
    # are not drawn by hand, so its classifier learns with small shifts only.
    "fashion-cnn-ae-16": (dict(kind="autoencoder", encoder="cnn", decoder="deconv", code_dim=16, hidden=16, dataset="fashion"), dict(epochs=15)),
    # A 2-number code of clothes: its plane of decoded pictures is the lesson's decoder step for Fashion-MNIST.
    "fashion-mlp-ae-2": (dict(kind="autoencoder", encoder="mlp", decoder="mlp", code_dim=2, dataset="fashion"), dict(epochs=60)),
    "fashion-cnn-vae-16": (dict(kind="vae", encoder="cnn", decoder="deconv", code_dim=16, hidden=16, dataset="fashion"), dict(epochs=15)),
    "fashion-cnn-clf": (dict(kind="classifier", encoder="cnn", code_dim=16, hidden=16, dropout=0.2, dataset="fashion"), dict(epochs=20, augment="shift")),
}
AUGMENT_NAMES = {False: "none", True: "shift"}  # how models trained before the presets recorded it
# Every shipped model keeps its code space as it trained (1,000 points a frame) and float16 weights,
# so that all of them fit in models/ under 30 MB.
ZOO_STORAGE = ["--frame-points", "1000", "--half"]
DRY_RUN = dict(epochs=1, limit=512, test_limit=500)  # what --dry-run shrinks a training to


def zoo_args(name: str, out_dir: str | Path = "models") -> list[str]:
    """The `train` arguments that reproduce a shipped model."""
    model, extra = ZOO[name]
    train = {**default_settings(model["kind"], model["encoder"], model.get("dataset", "mnist")), **extra}
    args = ["train", "--dataset", model.get("dataset", "mnist"), "--kind", model["kind"],
            "--encoder", model["encoder"], "--code-dim", str(model["code_dim"])]
    if model.get("decoder"):
        args += ["--decoder", model["decoder"]]
    if model.get("dropout"):
        args += ["--dropout", str(model["dropout"])]
    if model.get("deskew"):
        args += ["--deskew"]
    if model.get("hidden"):
        args += ["--hidden", str(model["hidden"])]
    args += ["--epochs", str(train["epochs"]), "--lr", str(train["lr"]), "--augment", train["augment"]]
    if train.get("settle"):
        args += ["--settle", str(train["settle"])]
    return args + ZOO_STORAGE + ["--seed", "0", "--out", f"{out_dir}/{name}.safetensors"]


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


def _whole(lo: int, hi: int | None = None):
    """An argparse type: a whole number from lo (to hi)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{value} is outside {lo} to {hi if hi is not None else 'any'}")
        return value
    return parse


def cmd_train(a) -> int:
    import torch
    from tqdm import tqdm

    from . import frames

    out = checkpoint.check_output(a.out)  # before any work: a training is never lost to a bad path
    if a.no_overwrite and out.exists():
        raise CheckpointError(f"{out} exists already; choose another --out or leave out --no-overwrite.")
    config = ModelConfig(kind=a.kind, encoder=a.encoder, decoder=a.decoder, code_dim=a.code_dim,
                         hidden=a.hidden, dropout=a.dropout, dataset=a.dataset, deskew=a.deskew)
    defaults = default_settings(config.kind, config.encoder, config.dataset)
    epochs, limit, test_limit = (DRY_RUN["epochs"], DRY_RUN["limit"], DRY_RUN["test_limit"]) if a.dry_run else (a.epochs, a.limit, None)
    train_config = TrainConfig(epochs=epochs, batch_size=a.batch_size, lr=defaults["lr"] if a.lr is None else a.lr, seed=a.seed,
                               device=a.device, limit=limit, augment=a.augment or defaults["augment"],
                               settle=a.settle)
    from .train import resolve_device

    resolve_device(train_config.device)  # an unusable device is said now, not after loading data
    data = load_dataset(a.dataset)
    if a.dry_run:
        data = data.with_val(data.val.head(DRY_RUN["test_limit"]))
    n = len(data.train.head(limit))
    steps = -(-n // a.batch_size) * epochs
    print(f"training {config.title} on {n:,} {a.dataset} images for {epochs} epochs"
          f"{' (dry run)' if a.dry_run else ''}", file=sys.stderr)
    recorder = frames.recorder(data.val, a.frame_points)
    with tqdm(total=steps, unit="step", file=sys.stderr, disable=a.quiet) as bar:
        command = "python -m encdec " + shlex.join(a.argv)
        model = train_model(config, train_config, data, callback=_tqdm_callback(bar), command=command,
                            test_limit=test_limit, recorder=recorder, round_to=torch.float16 if a.half else None)
    path = checkpoint.save(model, out, overwrite=not a.no_overwrite, half=a.half,
                           frames=recorder.tensors() if recorder is not None else None)
    print(json.dumps(model.meta["metrics"], indent=2))
    print(f"saved {path}", file=sys.stderr)
    return 0


def cmd_evaluate(a) -> int:
    model = checkpoint.load(a.path)
    data = load_dataset(model.config.dataset)
    metrics = evaluate(model, data.test.head(a.limit))
    if a.json:
        print(json.dumps(metrics))
    else:
        print(f"{Path(a.path).name}: {model.config.title}, {model.num_parameters():,} parameters")
        for k, v in metrics.items():
            print(f"  {k:14s} {v:.6g}")
    return 0


def markdown_table(infos) -> str:
    """The shipped-models table of README, from each checkpoint's own metadata."""
    rows = ["| name | kind | encoder -> decoder | code | parameters | test metrics | augmentation | epochs | train time |",
            "|---|---|---|---:|---:|---|---|---:|---:|"]
    for info in infos:
        c, m = info.config, info.metrics
        train = info.meta.get("recipe", {}).get("train", {})
        rows.append(f"| {info.name} | {c.kind} | {c.encoder} -> {c.decoder} | {c.code_dim} | {c.num_parameters():,} "
                    f"| {metric_summary(m)} | {AUGMENT_NAMES.get(train.get('augment'), train.get('augment', ''))} | {train.get('epochs', '')} "
                    f"| {m.get('wall_time_s', 0) / 60:.1f} min |")
    return "\n".join(rows)


def cmd_list(a) -> int:
    if a.dir and not Path(a.dir).is_dir():
        raise CheckpointError(f"{a.dir[:200]} is not a folder; give a folder of .safetensors models.")
    stores = ([store.ModelStore(a.dir)] if a.dir else
              [store.ModelStore(store.shipped_store_dir(), shipped=True),
               store.ModelStore(store.user_store_dir())])
    infos = [i for s in stores for i in s.list()]
    if a.markdown:
        print(markdown_table([i for i in infos if not i.error]))
        return 0
    for info in infos:
        if info.error:
            print(f"{info.name:24s} UNREADABLE: {info.error}")
        else:
            print(f"{info.name:24s} {info.config.dataset:8s} {info.config.title:40s} {metric_summary(info.metrics)}")
    return 0


def cmd_sample(a) -> int:
    """Decode codes drawn from N(0, I) into a grid picture (what a VAE generates)."""
    import torch

    from .imaging import grid, png_bytes
    from .latent import decode

    out = checkpoint.check_output(a.out)
    model = checkpoint.load(a.path)
    if model.is_classifier:
        raise ConfigError("A classifier has no image decoder to sample from.")
    gen = torch.Generator().manual_seed(a.seed)
    z = torch.randn(a.rows * a.cols, model.config.code_dim, generator=gen)
    images = decode(model, z).reshape(a.rows, a.cols, 28, 28)
    out.write_bytes(png_bytes(grid(images), 2))
    print(f"wrote {out}: {a.rows * a.cols} samples from N(0, I) decoded by {Path(a.path).name}", file=sys.stderr)
    return 0


def cmd_frames(a) -> int:
    """A strip of the code space as a model trained, from the frames in its checkpoint."""
    from .frames import from_tensors
    from .imaging import frames_strip

    out = checkpoint.check_output(a.out)
    recorded = from_tensors(checkpoint.read_frames(a.path))
    if recorded is None:
        raise CheckpointError(f"{Path(a.path).name} holds no frames: it was trained before frames were recorded.")
    frames, labels = recorded
    out.write_bytes(frames_strip(frames, labels, a.count))
    print(f"wrote {out}: {min(a.count, len(frames))} of {len(frames)} frames", file=sys.stderr)
    return 0


def _names(given: list[str]) -> list[str]:
    for name in given:
        if name not in ZOO:
            raise ConfigError(f"Unknown shipped model {name[:40]!r}; choose from {', '.join(ZOO)}.")
    return given or list(ZOO)


def cmd_zoo(a) -> int:
    names = _names(a.names)
    scratch = a.dry_run and not a.out_dir and not a.print_only  # a dry run's own folder, removed at the end
    out_dir = a.out_dir or (tempfile.mkdtemp(prefix="encdec-zoo-dry-run-") if scratch else str(store.shipped_store_dir()))
    try:
        for name in names:
            args = zoo_args(name, out_dir) + (["--dry-run"] if a.dry_run else [])
            print("python -m encdec " + shlex.join(args), file=sys.stderr)
            if a.print_only:
                continue
            rc = main(args)
            if rc:
                return rc
            if not a.no_maps:
                rc = main(["maps", "--dir", out_dir, name] + (["--dry-run"] if a.dry_run else []))
                if rc:
                    return rc
        if scratch:
            print(f"dry run: {len(names)} model(s) trained, saved and mapped in {out_dir}, now removed", file=sys.stderr)
    finally:
        if scratch:
            shutil.rmtree(out_dir, ignore_errors=True)
    return 0


def cmd_maps(a) -> int:
    from . import jobs, maps, work

    folder = Path(a.dir) if a.dir else store.shipped_store_dir()
    names = a.names or sorted(p.stem for p in folder.glob("*" + checkpoint.SUFFIX))
    for name in names:
        path = folder / f"{name}{checkpoint.SUFFIX}"
        model = checkpoint.load(path)
        data = load_dataset(model.config.dataset)
        if not a.dry_run:
            jobs.write_digest(jobs.shipped_digest_path(path, "test"), work.digest(model, data.test), maps.file_hash(path),
                              "test", half=True)
            print(f"{name}: digest of the test split -> {jobs.shipped_digest_path(path, 'test').name}", file=sys.stderr)
        if a.digests_only:
            continue
        for split in maps.SHIPPED_SPLITS:
            result = maps.build_shipped(model, path, data, split, dry_run=a.dry_run)
            print(f"{name}: {split} map of {len(result.embedding):,} points in {result.seconds:.1f} s -> "
                  f"{maps.shipped_path(path, split).name}", file=sys.stderr)
    return 0


def cmd_lesson(a) -> int:
    from . import lesson

    folder = Path(a.dir) if a.dir else store.shipped_store_dir()
    infos = [i for i in store.ModelStore(folder, shipped=True).list() if not i.error]
    found = lesson.build(infos, lambda i: checkpoint.load(i.path), load_dataset)
    lesson.path(folder).write_text(json.dumps(found, indent=1) + "\n")
    print(f"wrote {lesson.path(folder)}: {sum(len(v['flips']) for v in found.values())} code changes, "
          f"{sum(len(v['probes']) for v in found.values())} probes", file=sys.stderr)
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
    t.add_argument("--deskew", action="store_true", help="make each digit upright by its moments before it is encoded")
    t.add_argument("--epochs", type=_whole(1), default=10)
    t.add_argument("--batch-size", type=_whole(1, 4096), default=128)
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: 2e-3 for MLP encoders, else 3e-3)")
    t.add_argument("--augment", choices=list(PRESETS), default=None,
                   help="random changes to training images (default: styles for MNIST classifiers, shift for Fashion-MNIST classifiers, else none)")
    t.add_argument("--settle", type=float, default=0.0,
                   help="share of the epochs, the last ones, trained with gentler changes: half strength, a third of the written digits (0 to 0.5)")
    t.add_argument("--limit", type=_whole(1), default=None, help="train on the first N images")
    t.add_argument("--seed", type=_whole(0, 2**63 - 1), default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda, mps or xpu")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--no-overwrite", action="store_true", help="refuse to replace an existing --out file")
    t.add_argument("--dry-run", action="store_true", help="1 epoch on 512 images, tested on 500: a quick smoke test")
    t.add_argument("--frame-points", type=_whole(0, 2000), default=None,
                   help="validation images in each recorded frame of the code space (0: record none; "
                        "default: as many as the training's pace allows)")
    t.add_argument("--half", action="store_true", help="store the weights as float16 (half the file; tested as stored)")
    t.add_argument("--out", required=True)
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="test metrics of a checkpoint")
    e.add_argument("path")
    e.add_argument("--json", action="store_true")
    e.add_argument("--limit", type=_whole(1), default=None, help="only the first N test images")
    e.set_defaults(func=cmd_evaluate)
    ls = sub.add_parser("list", help="list models in a folder (default: shipped and user models)")
    ls.add_argument("dir", nargs="?")
    ls.add_argument("--markdown", action="store_true", help="a markdown table of models and test metrics")
    ls.set_defaults(func=cmd_list)
    sp = sub.add_parser("sample", help="decode random codes from N(0, I) into a PNG grid")
    sp.add_argument("path")
    sp.add_argument("--out", required=True)
    sp.add_argument("--rows", type=_whole(1, 64), default=8)
    sp.add_argument("--cols", type=_whole(1, 64), default=12)
    sp.add_argument("--seed", type=_whole(0, 2**63 - 1), default=0)
    sp.set_defaults(func=cmd_sample)
    f = sub.add_parser("frames", help="a PNG strip of the code space as a model trained")
    f.add_argument("path")
    f.add_argument("--out", required=True)
    f.add_argument("--count", type=_whole(2, 20), default=6)
    f.set_defaults(func=cmd_frames)
    z = _on_shipped(sub, "zoo", cmd_zoo, "retrain the shipped models from scratch with fixed seeds, and their maps",
                    "1 epoch on 512 images per model, into a temporary folder")
    z.add_argument("--out-dir", default=None, help="default: models/ (with --dry-run a new temporary folder, removed at the end)")
    z.add_argument("--print-only", action="store_true", help="print the commands, run nothing")
    z.add_argument("--no-maps", action="store_true", help="train only; leave the shipped maps as they are")
    m = _on_shipped(sub, "maps", cmd_maps, "rebuild the shipped maps (test and training split) and digests of models",
                    "PCA maps instead of UMAP, and no digest: a quick smoke test")
    m.add_argument("--dir", default=None, help="the models' folder (default: models/)")
    m.add_argument("--digests-only", action="store_true", help="only what the pages show of each model (its digest)")
    les = sub.add_parser("lesson", help="work out what the lesson's steps start from (models/lesson.json)")
    les.add_argument("--dir", default=None, help="the models' folder (default: models/)")
    les.set_defaults(func=cmd_lesson)
    return p


def _on_shipped(sub, name: str, func, about: str, dry_run: str):
    """A subcommand that works on shipped models by name (all of them when none is given)."""
    c = sub.add_parser(name, help=about)
    c.add_argument("names", nargs="*")
    c.add_argument("--dry-run", action="store_true", help=dry_run)
    c.set_defaults(func=func)
    return c


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parser().parse_args(argv)
    a.argv = argv
    try:
        return a.func(a)
    except (CheckpointError, ConfigError, DataError, TrainingError, TrainingStopped, SettingsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was saved", file=sys.stderr)
        return 130
