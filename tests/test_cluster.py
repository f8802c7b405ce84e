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


def start_cluster(temp: Path):
    """A one-CPU Ray cluster on loopback: its address, and a function that stops it."""
    if not RAY.exists():
        pytest.fail("Ray is not installed in this environment; pip install -r requirements.txt")
    port = free_port()
    # Without a token (a machine where `ray start` once made ~/.ray/auth_token would otherwise ask for it)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    started = subprocess.run([str(RAY), "start", "--head", "--num-cpus", "1", "--include-dashboard", "false",
                              "--node-ip-address", "127.0.0.1", "--port", str(port), "--temp-dir", str(temp),
                              "--disable-usage-stats"], env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr[-2000:]

    def stop():
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)
    return f"127.0.0.1:{port}", stop


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The module's cluster: (address, stop); the last test stops it while a job runs."""
    temp = tmp_path_factory.mktemp("ray")
    address, stop = start_cluster(temp)
    yield address, stop
    stop()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_engine(cluster):
    e = engine_on(cluster[0])
    assert e.backend.name == "ray"
    yield e
    e.close()


def engine_on(address: str):
    os.environ["ENCDEC_RAY_ADDRESS"] = address
    try:
        return make_engine()
    finally:
        del os.environ["ENCDEC_RAY_ADDRESS"]


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


def test_a_job_that_asks_for_a_gpu_asks_the_cluster_for_one(ray_engine):
    job = jobs.train(ray_engine, ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=300), ModelStore("/nonexistent"),
                     "gpu", gpu=True)
    deadline = time.time() + 120
    while job.placed is None and not job.finished and time.time() < deadline:
        time.sleep(0.05)
    ray_engine.stop(job)  # this cluster has no GPU: the task would wait for one for ever
    assert ray_engine.wait(job, 10) and job.status == "stopped"
    assert job.placed is not None and job.placed["num_gpus"] == 1 and job.placed["num_cpus"] >= 1


def test_one_relay_s_mailbox_serves_job_after_job_without_mixing_their_messages(ray_engine, tmp_path, user_home):
    """After the stopped jobs above, the relay's one mailbox still carries each new job's own messages."""
    store = ModelStore(tmp_path / "models")
    for name, epochs in (("first", 1), ("second", 2)):
        job = jobs.train(ray_engine, ModelConfig(code_dim=3), TrainConfig(epochs=epochs, limit=600, log_every=2),
                         store, name)
        seen = set()
        while not job.finished:
            if job.progress is not None:
                seen.add(job.progress["epochs"])
            time.sleep(0.02)
        assert job.status == "done" and job.result == name, job.error
        assert seen == {epochs}
    assert sorted(i.name for i in store.list()) == ["first", "second"]


def test_the_mailbox_keeps_each_job_apart_and_tells_a_closed_job_to_stop():
    from encdec.cluster import Mailbox

    box = Mailbox()
    box.open("a"), box.open("b")
    box.put("a", ("progress", 1)), box.put("b", ("progress", 2)), box.put("a", ("preview", 3))
    assert box.take("a") == [("progress", 1), ("preview", 3)] and box.take("a") == []
    assert not box.is_stopped("b")
    box.stop("b")
    assert box.is_stopped("b") and not box.is_stopped("a")
    box.close("a")
    box.put("a", ("progress", 4))  # a cancelled task's late message
    assert box.take("a") == [] and box.is_stopped("a") and box.messages.keys() == {"b"}


def test_a_cluster_that_goes_away_mid_training_fails_the_job_in_one_sentence(cluster, tmp_path, user_home):
    """The last test here: the cluster is stopped while a training runs on it. The job fails with one
    sentence, nothing is saved, and this process (a web server's) lives on."""
    address, stop_cluster = cluster
    # A Ray driver gives its lost cluster this long before it ends its own process (60 s by default);
    # the relays inherit it, so the test can watch a relay end and this process live on in seconds.
    os.environ["RAY_gcs_rpc_server_reconnect_timeout_s"] = "15"
    try:
        engine = engine_on(address)
    finally:
        del os.environ["RAY_gcs_rpc_server_reconnect_timeout_s"]
    try:
        store = ModelStore(tmp_path / "models")
        job = jobs.train(engine, ModelConfig(code_dim=3), TrainConfig(epochs=50), store, "orphan")
        deadline = time.time() + 180
        while job.progress is None and not job.finished and time.time() < deadline:
            time.sleep(0.05)
        assert job.progress is not None, job.error
        stop_cluster()
        assert engine.wait(job, 60)
        assert job.status == "failed" and "stopped answering" in job.error and job.error.count(".") <= 2
        assert not list((tmp_path / "models").glob("*"))
        time.sleep(25)  # past the moment a driver ends its own process: this one (a web server's) lives on
        assert job.finished and job.status == "failed"
    finally:
        engine.close()
