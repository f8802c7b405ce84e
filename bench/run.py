"""Benchmarks, run by hand: `python -m bench` prints markdown tables and writes bench/results.md.

1. reconstruction vs code size: the MLP autoencoder next to PCA, same run, MNIST test split
2. training throughput: this project's loop vs a DataLoader over torchvision MNIST with ToTensor
3. latency of the interactive paths (encode one, decode one, decode a 10x10 grid)
4. memory: peak RSS of a process that loads every shipped model

`--tiny` shrinks every part so a test can prove the script works; its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import encdec
from encdec import ModelConfig, TrainConfig, build, evaluate, fit
from encdec.store import ModelStore, shipped_store_dir
from encdec.models import losses

HERE = Path(__file__).resolve().parent
# The three encoder families with their default widths, plus a narrow MLP whose compute is light
# enough that the data pipeline, not the arithmetic, decides the speed.
THROUGHPUT_MODELS = [
    ("mlp -> mlp autoencoder", ModelConfig(encoder="mlp", decoder="mlp")),
    ("cnn -> deconv autoencoder", ModelConfig(encoder="cnn", decoder="deconv")),
    ("lstm -> lstm autoencoder", ModelConfig(encoder="lstm", decoder="lstm")),
    ("narrow mlp -> mlp autoencoder (width 128)", ModelConfig(encoder="mlp", decoder="mlp", hidden=128)),
]


def median(xs):
    return statistics.median(xs)


def reconstruction(data, sizes, epochs, limit, repeats):
    """Test MSE/pixel of the MLP autoencoder and of PCA at each code size."""
    from sklearn.decomposition import PCA

    train_x = data.train.head(limit).images.reshape(-1, 784).float().div(255).numpy()
    test_x = data.test.images.reshape(-1, 784).float().div(255).numpy()
    rows = []
    for k in sizes:
        pca = PCA(n_components=k, random_state=0).fit(train_x)
        pca_mse = float(((pca.inverse_transform(pca.transform(test_x)) - test_x) ** 2).mean())
        ae = []
        for seed in range(repeats):
            torch.manual_seed(seed)
            model = build(ModelConfig(code_dim=k))
            fit(model, data, TrainConfig(epochs=epochs, lr=2e-3, limit=limit, seed=seed))
            ae.append(evaluate(model, data.test)["mse"])
        rows.append((k, median(ae), pca_mse))
    return rows


def _baseline_epoch(model, root, batch_size, limit):
    """One epoch written the usual way: a DataLoader over torchvision MNIST with ToTensor."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    ds = datasets.MNIST(root, train=True, transform=transforms.ToTensor(), download=False)
    if limit:
        ds = Subset(ds, range(limit))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    n, start = 0, time.perf_counter()
    for x, y in loader:
        loss = losses(model, model(x), x, y)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += len(x)
    return n / (time.perf_counter() - start)


def throughput(data, root, limit, repeats, batch_size=128):
    """Samples per second for one epoch, ours (includes the validation pass) vs the DataLoader baseline."""
    rows = []
    n = len(data.train.head(limit))
    for name, config in THROUGHPUT_MODELS:
        ours, base = [], []
        for r in range(repeats):
            torch.manual_seed(r)
            model = build(config)
            start = time.perf_counter()
            fit(model, data, TrainConfig(epochs=1, limit=limit, batch_size=batch_size, seed=r))
            ours.append(n / (time.perf_counter() - start))
            torch.manual_seed(r)
            base.append(_baseline_epoch(build(config), root, batch_size, limit))
        rows.append((name, median(ours), median(base)))
    return rows


def _timed(fn, calls):
    fn()  # warm up
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return median(times) * 1000


@torch.inference_mode()
def latency(models, data, calls):
    rows = []
    x = data.test.floats(0)
    for name, model in models:
        k = model.config.code_dim
        z = model.encode(x)
        grid = torch.randn(100, k)
        rows.append((name, _timed(lambda: model.encode(x), calls), _timed(lambda: model.decode(z), calls),
                     _timed(lambda: model.decode(grid), calls)))
    return rows


def peak_rss_mb() -> dict:
    """Run a fresh process that imports torch and loads every shipped model; report its peak RSS."""
    # VmHWM is this process image's own peak; ru_maxrss would carry the parent's peak across exec.
    code = (
        "import json, re, encdec\n"
        "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024\n"
        "before = hwm()\n"
        "models = [encdec.load(i.path) for i in encdec.ModelStore(encdec.shipped_store_dir()).list() if not i.error]\n"
        "print(json.dumps({'models': len(models), 'import_mb': before, 'peak_mb': hwm()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE.parent).stdout
    return json.loads(out)


def frames_cost(data, tiny: bool) -> list[str]:
    """What recording the code space costs a training at the Train page's defaults: the time the
    recorder itself spent (timed inside it), as a share of the training's time."""
    from encdec.frames import BUDGET, FRAME_SHARE, MIN_SAMPLE, SAMPLE, Recorder
    from encdec.train import train_model

    epochs, limit = (1, 500) if tiny else (3, 10000)
    lines = ["### Recording the code space while training (frames)", "",
             f"The Train page's defaults: {epochs} epochs on {limit:,} images. A frame encodes {MIN_SAMPLE:,} to "
             f"{SAMPLE:,} validation images (as many as one frame can encode in {FRAME_SHARE:.1%} of the training), at "
             f"each progress report while frames have cost under {BUDGET:.1%} of the time so far, and at the last "
             "report. The cost is the recorder's own time "
             "(timed inside it) over the training's; the two wall times differ by about as much as two runs "
             "without frames do on this shared machine.", "",
             "| model | training | frames | points per frame | recording | cost |", "|---|---:|---:|---:|---:|---:|"]
    for name, config in THROUGHPUT_MODELS[:3]:
        torch.manual_seed(0)
        recorder = Recorder(data.val)
        start = time.perf_counter()
        train_model(config, TrainConfig(epochs=epochs, limit=limit), data, recorder=recorder, test_limit=1000)
        wall = time.perf_counter() - start
        lines.append(f"| {name} | {wall:.1f} s | {len(recorder.frames)} | {len(recorder.labels):,} | "
                     f"{recorder.spent:.2f} s | {100 * recorder.spent / wall:.1f}% |")
    return lines


def shipped_classifiers(folder: Path, before: str = "") -> list:
    """The MNIST classifiers in `folder` as (name, model, info); with `before`, those shipped at that git
    revision, written there first by `git show`, so both are measured on the very same digits."""
    if before:
        listed = subprocess.run(["git", "ls-tree", "--name-only", before, "models/"], cwd=HERE.parent,
                                capture_output=True, text=True, check=True).stdout.split()
        for path in (p for p in listed if p.startswith("models/mnist-") and p.endswith("-clf.safetensors")):
            blob = subprocess.run(["git", "show", f"{before}:{path}"], cwd=HERE.parent, capture_output=True, check=True)
            (folder / Path(path).name).write_bytes(blob.stdout)
    return [(i.name, encdec.load(i.path), i) for i in ModelStore(folder, shipped=True).list()
            if not i.error and i.config.kind == "classifier" and i.config.dataset == "mnist"]


def drawn_digits_table(before: str = "") -> list[str]:
    """Each shipped classifier on MNIST's test split and on digits that never came from MNIST, made by
    other code than the digits the classifiers learn from (encdec/strokes.py); with `before`, the
    classifiers shipped at that revision too."""
    from bench.drawn import drawn_digits, sklearn_digits
    from bench.fonts import KINDS, font_digits, fonts

    sets = {"drawn": drawn_digits(), "other writers (8x8)": sklearn_digits()}
    images, labels, kinds = font_digits(per_font=6, seed=11)
    for kind in ("print", *KINDS):
        sets[f"{kind} fonts"] = (images[kinds == kind], labels[kinds == kind])
    lines = ["### Classifiers on digits that are not MNIST's", "",
             f"Drawn: {len(sets['drawn'][1]):,} pen-stroke digits made by `bench/drawn.py` (strokes drawn like the Draw "
             "page's canvas: a 1 with flag and foot, a 7 with a bar, an open 4, a curved 9 among them, then "
             f"`encdec.digitize.to_mnist`). Other writers: scikit-learn's {len(sets['other writers (8x8)'][1]):,} 8x8 digits "
             f"by 43 writers (UCI), made 28x28 the same way. Fonts (`bench/fonts.py`): every digit of the {len(fonts())} fonts "
             "fontconfig finds (Debian's URW base 35 for print, serif and script forms, and ten "
             "handwriting families), 6 times each at a random size, slant, turn and pen width, made 28x28 the same "
             "way. None of them is used in training." + (f" Before: the classifiers shipped at {before}." if before else ""), "",
             "| classifier | augmentation | MNIST test | " + " | ".join(f"{k} ({len(v[1]):,})" for k, v in sets.items()) + " |",
             "|---|---|---:|" + "---:|" * len(sets)]
    with tempfile.TemporaryDirectory(prefix="bench-before-") as folder:
        rows = [(f"{name} (before)", m, i) for name, m, i in shipped_classifiers(Path(folder), before)] if before else []
    for label, model, info in sorted(rows + shipped_classifiers(shipped_store_dir()), key=lambda r: r[0]):
        with torch.no_grad():
            acc = [float((model.classify(torch.from_numpy(x)[:, None]).argmax(1).numpy() == y).mean()) if len(y) else float("nan")
                   for x, y in sets.values()]
        augment = info.meta.get("recipe", {}).get("train", {}).get("augment", "")
        lines.append(f"| {label} | {augment} | {info.metrics['accuracy']:.2%} | " + " | ".join(f"{a:.1%}" for a in acc) + " |")
    return lines


SECTIONS = ("reconstruction", "throughput", "latency", "maps", "drawn", "frames", "memory")


def report(args) -> str:
    data = encdec.load_dataset("mnist")
    root = str(encdec.settings.data_dir())
    tiny = args.tiny
    repeats = 1 if tiny else args.repeats
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    lines = [f"Machine: {os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads. Medians of {repeats} run(s)" + (" (tiny run: numbers mean nothing)." if tiny else "."), ""]

    if "reconstruction" in only:
        sizes = [2, 8] if tiny else [2, 8, 16, 32]
        rec = reconstruction(data, sizes, 1 if tiny else args.epochs, 500 if tiny else None, 1 if tiny else args.recon_repeats)
        lines += ["### Reconstruction vs code size (MNIST test MSE per pixel; lower is better)", "",
                  f"MLP autoencoder trained {1 if tiny else args.epochs} epochs per size (median of {1 if tiny else args.recon_repeats} seed(s)); "
                  "PCA fitted on the same 55,000 training images.", "",
                  "| code size | autoencoder | PCA | autoencoder / PCA |", "|---:|---:|---:|---:|"]
        lines += [f"| {k} | {ae:.4f} | {pca:.4f} | {ae / pca:.2f} |" for k, ae, pca in rec]

    if "throughput" in only:
        thr = throughput(data, root, 512 if tiny else None, repeats)
        lines += ["", "### Training throughput (samples/s, one epoch of 55,000 images, batch 128)", "",
                  "Ours: mini-batches sliced from in-memory uint8 tensors, timed including the validation pass. "
                  "Baseline: `DataLoader(torchvision.datasets.MNIST(transform=ToTensor()))`, same model and batch size.", "",
                  "| model | ours | DataLoader baseline | speed-up |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {ours:,.0f} | {base:,.0f} | {ours / base:.1f}x |" for name, ours, base in thr]
        lines += ["", "Parameters: " + ", ".join(f"{name.split(' autoencoder')[0]} {build(c).num_parameters():,}"
                                                  for name, c in THROUGHPUT_MODELS) + "."]

    if "latency" in only:
        store = ModelStore(shipped_store_dir(), shipped=True)
        shipped = [(i.name, encdec.load(i.path)) for i in store.list() if not i.error and i.config.kind != "classifier"]
        lat = latency(shipped, data, 5 if tiny else args.calls)
        lines += ["", f"### Latency of the interactive paths (ms, median of {5 if tiny else args.calls} calls, CPU)", "",
                  "| model | encode 1 image | decode 1 code | decode 10x10 grid |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {e:.2f} | {d:.2f} | {g:.2f} |" for name, e, d, g in lat]

    if "maps" in only:
        from bench import maps as map_bench

        lines += [""] + map_bench.report(tiny)
    if "drawn" in only:
        lines += [""] + drawn_digits_table(args.before)
    if "frames" in only:
        lines += [""] + frames_cost(data, tiny)
    if "memory" in only:
        mem = peak_rss_mb()
        lines += ["", "### Memory", "",
                  f"Peak RSS of a fresh process that loads all {mem['models']} shipped models: **{mem['peak_mb']:.0f} MB** "
                  f"(of which {mem['import_mb']:.0f} MB is Python, torch and the library before any model)."]
    return "\n".join(lines) + "\n"


def merge(old: str, new: str) -> str:
    """`old` with each '### ' section that `new` also has replaced by the new one."""
    def sections(text):
        parts, head = {}, None
        for line in text.splitlines():
            if line.startswith("### "):
                head = line
                parts[head] = []
            if head is not None:
                parts[head].append(line)
        return parts

    fresh = sections(new)
    out, skipping = [], False
    for line in old.splitlines():
        if line.startswith("### "):
            skipping = line in fresh
            if skipping:
                section = fresh.pop(line)
                while section and not section[-1].strip():
                    section.pop()
                out += section + [""]  # one blank line before whatever follows
        if not skipping:
            out.append(line)
    for lines in fresh.values():
        out += [""] + lines
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10, help="autoencoder epochs per code size")
    p.add_argument("--recon-repeats", type=int, default=1, help="seeds per code size (the median is reported)")
    p.add_argument("--calls", type=int, default=200, help="calls per latency figure")
    p.add_argument("--only", default="", help=f"comma-separated sections to run again ({','.join(SECTIONS)}), "
                                                 "replacing them in --out and keeping the rest")
    p.add_argument("--before", default="", help="drawn digits: also measure the classifiers shipped at this git revision")
    p.add_argument("--out", default=str(HERE / "results.md"))
    args = p.parse_args(argv)
    text = report(args)
    print(text)
    out = Path(args.out)
    out.write_text(merge(out.read_text(), text) if args.only and out.exists() else text)
    return 0
