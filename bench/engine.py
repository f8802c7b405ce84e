"""Long work beside the web server, measured by hand: `python -m bench.engine` prints markdown and writes
bench/engine.md.

- throughput: one training's samples per second in a thread of this process (how the web server
  trained before the engine), in a local worker process, and as a task on a local Ray cluster
  (`ray start --head --num-cpus N` on loopback);
- the web server while trainings run (Chromium drives the Train page): the server process's own CPU
  (its workers not included) while one training runs, and a second browser's page loads (the code
  editor, opened again and again) while 0, 1 and 2 trainings run;
- `--before COMMIT`: the web-server figures again for another version of the app, checked out in a
  temporary git worktree and driven the same way (its trainings ran on a thread of the server).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.chromium import CHROMIUM, FLAGS, ROOT, Server, free_port, open_page, pct, run_report, server_cpu

HERE = Path(__file__).resolve().parent
TRAIN = "/train?code=8&epochs=300"      # an MLP autoencoder: long enough to outlast every measurement
LOADED = "/editor?model=mnist-cnn-ae-16"
CNN_EPOCHS = 2  # about 25 s of a CNN on 2 cores: one epoch (11 s) moved its ratios by 25% between runs



# -- one training's speed where it runs ------------------------------------------------------------------

def _configs(epochs: int, limit: int):
    from encdec import ModelConfig, TrainConfig

    return {"mlp -> mlp autoencoder": (ModelConfig(code_dim=16), TrainConfig(epochs=epochs, limit=limit)),
            "cnn -> deconv autoencoder": (ModelConfig(encoder="cnn", decoder="deconv", code_dim=16),
                                          TrainConfig(epochs=CNN_EPOCHS, limit=limit // 2))}


def in_thread(config, train_config) -> float:
    """Samples per second of a training on a thread of this process, as the web server ran them before."""
    import torch

    from encdec.data import load_dataset
    from encdec.train import train_model

    torch.set_num_threads(os.cpu_count() or 1)
    out = {}
    data = load_dataset(config.dataset)
    t = threading.Thread(target=lambda: out.update(m=train_model(config, train_config, data, test_limit=500)))
    t.start()
    t.join()
    return out["m"].meta["metrics"]["samples_per_s"]


def through(engine, config, train_config) -> float:
    """Samples per second of the same training through an engine (worker process or Ray task)."""
    from encdec import ModelStore, jobs

    store = ModelStore(Path(tempfile.mkdtemp(prefix="encdec-bench-engine-")))
    job = jobs.train(engine, config, train_config, store, "bench")
    engine.wait(job)
    if job.status != "done":
        raise RuntimeError(f"the training did not finish: {job.error}")
    return job.progress["samples_per_s"]


def ray_cluster(cpus: int):
    """A local Ray cluster on loopback: its address and a function that stops it."""
    ray = Path(sys.executable).with_name("ray")
    port, env = free_port(), {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    subprocess.run([str(ray), "start", "--head", "--num-cpus", str(cpus), "--include-dashboard", "false",
                    "--node-ip-address", "127.0.0.1", "--port", str(port), "--disable-usage-stats"],
                   env=env, check=True, capture_output=True, timeout=180)
    return f"127.0.0.1:{port}", lambda: subprocess.run([str(ray), "stop", "--force"], env=env, capture_output=True)


def throughput(epochs: int, limit: int, repeats: int) -> list[str]:
    from encdec import engine

    cpus = os.cpu_count() or 1
    rows = {name: {"thread": [], "worker": [], "ray": []} for name in _configs(epochs, limit)}
    local = engine.Engine(engine.LocalBackend({"train": 1, "maps": 1}), {"train": 1, "maps": 1})
    address, stop_ray = ray_cluster(cpus)
    os.environ.update(ENCDEC_RAY_ADDRESS=address, ENCDEC_RAY_CPUS=str(cpus))
    try:
        on_ray = engine.make_engine()
        for name, (config, train_config) in _configs(epochs, limit).items():
            through(on_ray, config, train_config)  # the cluster's first task starts its worker: not timed
            for _ in range(repeats):
                rows[name]["thread"].append(in_thread(config, train_config))
                rows[name]["worker"].append(through(local, config, train_config))
                rows[name]["ray"].append(through(on_ray, config, train_config))
        on_ray.close()
    finally:
        for k in ("ENCDEC_RAY_ADDRESS", "ENCDEC_RAY_CPUS"):
            os.environ.pop(k, None)
        local.close()
        stop_ray()
    lines = [f"#### One training's speed where it runs (samples/s, median of {repeats}; {cpus} cores, nothing else running)", "",
             f"The MLP trains {epochs} epoch(s) on {limit:,} images, the CNN {CNN_EPOCHS} epochs on {limit // 2:,}, batch 128, "
             "validation included. Thread: a thread of the measuring process (how the web server trained before). "
             f"Worker: a local worker process (spawned, {cpus} torch threads, idle priority). Ray: a task on a local "
             f"one-node Ray cluster asking for {cpus} CPUs, its result returned as bytes.", "",
             "| model | thread (before) | worker | worker / thread | Ray | Ray / thread |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        t, w, ray = (statistics.median(r[k]) for k in ("thread", "worker", "ray"))
        lines.append(f"| {name} | {t:,.0f} | {w:,.0f} | {w / t:.2f} | {ray:,.0f} | {ray / t:.2f} |")
    return lines


# -- the web server while trainings run -------------------------------------------------------------------

def start_training(browser, url: str):
    page = browser.new_context().new_page()
    open_page(page, url + TRAIN)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector("text=epoch", timeout=120_000)
    return page


def stop_training(page) -> None:
    try:
        page.get_by_role("button", name="Stop").click(timeout=10_000)
    except Exception:  # noqa: BLE001 - the page may have gone; the server stops with the benchmark anyway
        pass


def page_loads(browser, url: str, n: int) -> list[float]:
    """Seconds from opening the code editor until the app is idle and the editor is drawn, `n` times."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    out = []
    for _ in range(n + 1):
        page = context.new_page()
        start = time.perf_counter()
        open_page(page, url + LOADED)
        page.wait_for_selector('.live[data-view="editor"] canvas', timeout=120_000)
        out.append(time.perf_counter() - start)
        page.close()
    context.close()
    return out[1:]  # the first load fills the browser's cache, as a student's first visit does


def web_server(root: Path, loads: int, seconds: float) -> dict:
    """The server's own CPU while one training runs, and page loads while 0, 1 and 2 run."""
    from playwright.sync_api import sync_playwright

    env = {"ENCDEC_WORKERS": "2", "ENCDEC_MAX_TRAININGS": "2"}  # two trainings at once (the before's name too)
    server = Server(Path(tempfile.mkdtemp(prefix="encdec-bench-")), env=env, root=root)
    out = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            out["idle"] = page_loads(browser, server.url, loads)
            trainers = [start_training(browser, server.url)]
            time.sleep(3)
            cpu, start = server_cpu(server.proc.pid), time.perf_counter()
            time.sleep(seconds)
            out["server_cpu"] = (server_cpu(server.proc.pid) - cpu) / (time.perf_counter() - start)
            out["one"] = page_loads(browser, server.url, loads)
            trainers.append(start_training(browser, server.url))
            out["two"] = page_loads(browser, server.url, loads)
            for page in trainers:
                stop_training(page)
            browser.close()
    finally:
        server.stop()
    return out


def worktree(commit: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="encdec-before-")) / "app"
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), commit], cwd=ROOT, check=True, capture_output=True)
    return folder


def server_lines(label: str, r: dict, loads: int, seconds: float) -> list[str]:
    idle = pct(r["idle"], 95)
    return [f"| {label} | {100 * r['server_cpu']:.0f}% | {statistics.median(r['idle']):.2f} s / {idle:.2f} s "
            f"| {statistics.median(r['one']):.2f} s / {pct(r['one'], 95):.2f} s ({pct(r['one'], 95) / idle:.2f}x) "
            f"| {statistics.median(r['two']):.2f} s / {pct(r['two'], 95):.2f} s ({pct(r['two'], 95) / idle:.2f}x) |"]


def report(args) -> str:
    cpus = os.cpu_count() or 1
    lines = [f"Measured on {cpus} CPU cores (x86_64), Chromium headless on the same machine.", ""]
    if not args.no_throughput:
        lines += throughput(args.epochs, args.limit, args.repeats) + [""]
    lines += [f"#### The web server while trainings run (Chromium; {args.loads} loads of the code editor each, after a first)", "",
              f"Server CPU: the web server process alone (its worker processes not counted) over {args.seconds:.0f} s while "
              "one MLP autoencoder trains, started from the Train page. Page load: opening "
              f"`{LOADED}` until the app is idle and the editor drawn, median / p95 (p95 against the idle p95).", "",
              "| app | server CPU, one training | page load, idle | one training | two trainings |", "|---|---:|---:|---:|---:|"]
    rows = [("this version (workers)", ROOT)]
    made = None
    if args.before:
        made = worktree(args.before)
        rows.insert(0, (f"before ({args.before}, trainings on a server thread)", made))
    try:
        for label, root in rows:
            lines += server_lines(label, web_server(root, args.loads, args.seconds), args.loads, args.seconds)
    finally:
        if made is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(made)], cwd=ROOT, capture_output=True)
            shutil.rmtree(made.parent, ignore_errors=True)
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)  # seconds of training, so that the first steps' warm-up does not decide the figure
    p.add_argument("--limit", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--loads", type=int, default=12)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--before", default=None, help="a commit to measure the web server of, too")
    p.add_argument("--no-throughput", action="store_true", help="only the web-server figures")
    p.add_argument("--out", default=str(HERE / "engine.md"))
    p.add_argument("--dry-run", action="store_true", help="tiny settings, to check that the benchmark runs")
    args = p.parse_args(argv)
    return run_report(args, report, dict(epochs=1, limit=2000, repeats=1, loads=2, seconds=2.0))


if __name__ == "__main__":
    raise SystemExit(main())
