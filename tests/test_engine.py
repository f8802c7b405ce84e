"""The engine: its queue, places, fair turns and limits (on a backend that runs nothing), and real work
in real worker processes: progress, preview and frames while it runs, Stop, a killed worker, a save."""
import os
import signal
import threading
import time

import pytest

import encdec
from encdec import ModelConfig, ModelStore, TrainConfig, engine, jobs, maps, work
from encdec.engine import Engine, EngineError


def wait(pred, timeout=120):
    end = time.time() + timeout
    while not pred():
        if time.time() > end:
            raise TimeoutError
        time.sleep(0.02)


class Held:
    """A backend whose jobs run until the test releases them (or stops them); it records the order."""

    name = "held"

    def __init__(self):
        self.started, self.release = [], {}

    def run(self, job):
        self.started.append(job.name)
        gate = self.release.setdefault(job.name, threading.Event())
        while not (gate.is_set() or job.stop_event.is_set()):
            time.sleep(0.005)
        return ("stopped", None) if job.stop_event.is_set() else ("done", work.Outcome(table=[job.name]))

    def stop(self, job):
        pass

    def close(self):
        pass

    def let(self, name):
        self.release.setdefault(name, threading.Event()).set()


def spec(kind="train"):
    return work.Spec(kind, {})


def test_trainings_keep_their_limit_and_order_and_show_places():
    backend = Held()
    e = Engine(backend, {"train": 2, "maps": 1})
    a, b, c, d = (e.submit(spec(), name=n) for n in "abcd")
    wait(lambda: len(backend.started) == 2)
    time.sleep(0.1)
    assert backend.started == ["a", "b"] and [e.place(j) for j in (a, b, c, d)] == [0, 0, 1, 2]
    e.stop(d)  # leaves the queue without running
    assert d.status == "stopped"
    for n in "abc":
        backend.let(n)
    wait(lambda: all(j.finished for j in (a, b, c)))
    assert backend.started == ["a", "b", "c"] and [j.status for j in (a, b, c)] == ["done"] * 3
    assert [j.result for j in (a, b, c)] == [["a"], ["b"], ["c"]]
    e.close()


def test_a_full_queue_refuses_one_more_with_a_sentence():
    backend = Held()
    e = Engine(backend, {"train": 1, "maps": 1}, max_queue=2)
    running = e.submit(spec(), name="r")
    wait(lambda: backend.started)
    e.submit(spec(), name="w1")
    e.submit(spec(), name="w2")
    with pytest.raises(EngineError, match="2 jobs are waiting") as full:
        e.submit(spec(), name="w3")
    assert full.value.key == "engine_full"
    e.stop(running)
    e.close()


def test_maps_run_one_pending_fit_per_visitor_in_fair_turns_and_digests_first():
    backend = Held()
    e = Engine(backend, {"train": 1, "maps": 1})
    e.submit(spec("map"), "maps", owner="x", name="blocker")
    wait(lambda: backend.started == ["blocker"])
    ann = [e.submit(spec("map"), "maps", owner="ann", name=f"ann{i}", replace="map") for i in range(5)]
    bob = e.submit(spec("map"), "maps", owner="bob", name="bob", replace="map")
    dig = e.submit(spec("digest"), "maps", name="digest")
    assert [j.status for j in ann] == ["stopped"] * 4 + ["queued"]  # a new setting replaced the waiting one
    assert e.place(dig) == 1 and {e.place(ann[-1]), e.place(bob)} == {2, 3}
    for name in ("blocker", "digest", "ann4", "bob"):
        backend.let(name)
    wait(lambda: all(j.finished for j in (dig, ann[-1], bob)))
    assert backend.started[:2] == ["blocker", "digest"] and set(backend.started[2:]) == {"ann4", "bob"}
    e.close()


def test_a_visitor_who_had_a_fit_waits_behind_one_who_had_none():
    backend = Held()
    e = Engine(backend, {"train": 1, "maps": 1})
    first = e.submit(spec("map"), "maps", owner="ann", name="ann-first", replace="map")
    wait(lambda: backend.started == ["ann-first"])
    again = e.submit(spec("map"), "maps", owner="ann", name="ann-again", replace="map")
    other = e.submit(spec("map"), "maps", owner="bob", name="bob-first", replace="map")
    assert e.place(other) == 1 and e.place(again) == 2
    for n in ("ann-first", "ann-again", "bob-first"):
        backend.let(n)
    wait(lambda: again.finished and other.finished and first.finished)
    assert backend.started == ["ann-first", "bob-first", "ann-again"]
    e.close()


def test_a_failed_job_has_its_error_set_before_its_status_and_end_hooks_run_once():
    class Failing(Held):
        def run(self, job):
            return "failed", "the loss diverged"

    e = Engine(Failing(), {"train": 1, "maps": 1})
    seen, ended = [], []
    job = e.submit(spec(), name="x")
    job.on_end.append(lambda j: (seen.append((j.status, j.error)), ended.append(1)))
    wait(lambda: job.finished)
    assert seen == [("failed", "the loss diverged")] and ended == [1]
    e.close()


# -- real work in real worker processes ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def local():
    e = engine.Engine(engine.LocalBackend({"train": 1, "maps": 1}), {"train": 1, "maps": 1})
    yield e
    e.close()


def tiny(epochs=1, limit=1500, **kw):
    return TrainConfig(epochs=epochs, limit=limit, log_every=2, **kw)


@pytest.mark.slow
def test_a_training_in_a_worker_reports_as_it_goes_and_saves_its_model_map_and_digest(local, tmp_path, mnist, user_home):
    store = ModelStore(tmp_path / "models")
    job = jobs.train(local, ModelConfig(code_dim=3), tiny(), store, "mine")
    seen = set()
    while not job.finished:
        seen |= {k for k in ("progress", "preview", "frame") if getattr(job, k) is not None}
        time.sleep(0.05)
    assert job.status == "done" and job.result == "mine", job.error
    assert seen == {"progress", "preview", "frame"} and job.curve
    assert job.preview.shape == (work.PREVIEW, 28, 28) and len(job.frame["labels"]) == len(job.frame["xy"])
    view = job.view()
    assert view["status"] == "done" and view["frame"] and view["progress"]["fraction"] == pytest.approx(1.0)
    path = store.path_for("mine")
    assert encdec.load(path).meta["metrics"]["mse"] > 0 and encdec.checkpoint.read_frames(path)
    model_hash = maps.file_hash(path)
    assert maps.find(path, model_hash, "test", len(mnist.test), maps.DEFAULT).source == "cache"
    digest = jobs.read_digest(path, model_hash, "test", len(mnist.test), 3)
    assert digest["codes"].shape == (len(mnist.test), 3) and sorted(digest["order"]) == [0, 1, 2]
    assert os.getpid() not in local.backend.pids()  # the work ran elsewhere
    if encdec.settings.IDLE_SUPPORTED:  # every thread of every worker leaves the processor to the web server first
        tasks = [int(t) for pid in local.backend.pids() for t in os.listdir(f"/proc/{pid}/task")]
        assert len(tasks) > len(local.backend.pids())
        assert {os.sched_getscheduler(t) for t in tasks} == {os.SCHED_IDLE}


@pytest.mark.slow
def test_stop_takes_effect_within_two_seconds_and_saves_nothing(local, tmp_path, mnist, user_home):
    store = ModelStore(tmp_path / "models")
    job = jobs.train(local, ModelConfig(encoder="cnn", decoder="deconv", code_dim=3), TrainConfig(epochs=50), store, "long")
    wait(lambda: job.progress is not None, 120)
    start = time.monotonic()
    local.stop(job)
    assert local.wait(job, 5) and time.monotonic() - start < 2.0
    assert job.status == "stopped" and not list((tmp_path / "models").glob("*.safetensors"))


@pytest.mark.slow
def test_a_killed_worker_fails_its_job_in_one_sentence_and_the_next_job_runs(local, tmp_path, mnist, user_home):
    store = ModelStore(tmp_path / "models")
    doomed = jobs.train(local, ModelConfig(code_dim=3), TrainConfig(epochs=50), store, "doomed")
    wait(lambda: doomed.progress is not None, 120)
    os.kill(local.backend._busy[doomed.token].proc.pid, signal.SIGKILL)
    assert local.wait(doomed, 10)
    assert doomed.status == "failed" and "stopped unexpectedly" in doomed.error and doomed.error.count(".") <= 3
    assert not list((tmp_path / "models").glob("*"))
    after = jobs.train(local, ModelConfig(code_dim=3), tiny(), store, "after")
    assert local.wait(after, 300) and after.status == "done", after.error


@pytest.mark.slow
def test_work_that_cannot_go_on_says_why(local, tmp_path, user_home):
    store = ModelStore(tmp_path / "models")
    job = jobs.train(local, ModelConfig(code_dim=3, dataset="fashion"), tiny(augment="styles"), store, "x")
    assert local.wait(job, 120) and job.status == "failed" and "for MNIST only" in job.error


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["job_map", "job_digest", "job_saving"])
def test_stop_at_each_last_step_of_a_training_gives_back_nothing_to_save(stage, mnist, monkeypatch):
    """Stop set while a finished training maps, digests or packs its model: the work ends with
    TrainingStopped (so no outcome reaches the app to be saved), whichever step it was."""
    from encdec.projection import MapSettings

    monkeypatch.setattr(maps, "DEFAULT", MapSettings("pca"))  # the steps, not UMAP's time, are what is tested
    stop = threading.Event()

    class StopAt(work.Reporter):
        def send(self, kind, payload):
            super().send(kind, payload)
            if kind == "step" and payload["stage"] == stage:
                stop.set()
    reporter = StopAt()
    spec = work.Spec("train", {"config": ModelConfig(code_dim=3).to_dict(), "train": tiny(limit=600).to_dict()})
    with pytest.raises(encdec.TrainingStopped):
        work.run(spec, reporter, stop)
    stages = [p["stage"] for k, p in reporter.messages if k == "step"]
    assert stages[-1] == stage and [k for k, _ in reporter.messages].count("progress") > 0
