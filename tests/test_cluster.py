"""Long work on a real Ray cluster, started here on loopback with one CPU (`ray start --head`): a training
runs through it with progress, preview and frames, Stop works, the model lands in the right store;
an address that does not answer is said in one sentence and never replaced by local workers."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from encdec import ModelConfig, ModelStore, TrainConfig, jobs, settings
from encdec.engine import EngineError, make_engine

pytestmark = pytest.mark.slow
RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not RAY.exists():
        pytest.fail("Ray is not installed in this environment; pip install -r requirements.txt")
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = subprocess.run([str(RAY), "start", "--head", "--num-cpus", "1", "--include-dashboard", "false",
                              "--node-ip-address", "127.0.0.1", "--port", str(port), "--temp-dir", str(temp),
                              "--disable-usage-stats"], env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr[-2000:]
    yield f"127.0.0.1:{port}"
    subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_engine(cluster):
    os.environ["ENCDEC_RAY_ADDRESS"] = cluster
    try:
        e = make_engine()
    finally:
        del os.environ["ENCDEC_RAY_ADDRESS"]
    assert e.backend.name == "ray"
    yield e
    e.close()


def test_a_training_on_the_cluster_streams_progress_and_lands_in_its_store(ray_engine, tmp_path, user_home):
    store = ModelStore(tmp_path / "workspace" / "models")
    job = jobs.train(ray_engine, ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=1500, log_every=2), store, "on-ray")
    seen = set()
    while not job.finished:
        seen |= {k for k in ("progress", "preview", "frame") if getattr(job, k) is not None}
        time.sleep(0.05)
    assert job.status == "done" and job.result == "on-ray", job.error
    assert seen == {"progress", "preview", "frame"}
    assert [i.name for i in store.list()] == ["on-ray"]


def test_stop_ends_a_training_on_the_cluster_and_saves_nothing(ray_engine, tmp_path, user_home):
    store = ModelStore(tmp_path / "models")
    job = jobs.train(ray_engine, ModelConfig(encoder="cnn", decoder="deconv", code_dim=3), TrainConfig(epochs=50),
                     store, "stopped")
    deadline = time.time() + 180
    while job.progress is None and not job.finished and time.time() < deadline:
        time.sleep(0.05)
    assert job.progress is not None, job.error
    start = time.monotonic()
    ray_engine.stop(job)
    assert ray_engine.wait(job, 10) and time.monotonic() - start < 3.0
    assert job.status == "stopped" and not list((tmp_path / "models").glob("*.safetensors"))


def test_an_address_that_does_not_answer_is_one_sentence_and_not_local_work(monkeypatch):
    monkeypatch.setenv("ENCDEC_RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    start = time.monotonic()
    with pytest.raises(EngineError, match="does not answer") as e:
        make_engine()
    assert time.monotonic() - start < 15 and e.value.key == "engine_ray_down"


@pytest.mark.parametrize("address", ["no port here", "ray:// x", "a" * 300])
def test_a_malformed_ray_address_is_refused_by_the_settings(monkeypatch, address):
    monkeypatch.setenv("ENCDEC_RAY_ADDRESS", address)
    with pytest.raises(settings.SettingsError, match="ENCDEC_RAY_ADDRESS"):
        settings.ray_address()


def test_a_job_that_asks_for_a_gpu_asks_the_cluster_for_one(ray_engine, monkeypatch):
    asked = []
    task = ray_engine.backend._task

    class Recording:
        def options(self, **options):
            asked.append(options)
            return task.options(**{k: v for k, v in options.items() if k != "num_gpus"})
    monkeypatch.setattr(ray_engine.backend, "_task", Recording())
    job = jobs.train(ray_engine, ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=300), ModelStore("/nonexistent"),
                     "gpu", gpu=True)
    deadline = time.time() + 60
    while not asked and time.time() < deadline:
        time.sleep(0.05)
    ray_engine.stop(job)
    ray_engine.wait(job, 120)
    assert asked and asked[0]["num_gpus"] == 1

