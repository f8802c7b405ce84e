import threading
import time

import pytest

import encdec
from encdec import ModelConfig, ModelStore, TrainConfig, jobs, maps
from encdec.jobs import Job, JobQueue
from encdec.train import Step


def wait(pred, timeout=120):
    end = time.time() + timeout
    while not pred():
        if time.time() > end:
            raise TimeoutError
        time.sleep(0.02)


def blocking_job(name: str, started: list, release: threading.Event, **kw) -> Job:
    """A job that records that it started and then waits to be released (or stopped)."""
    def work(callback, stop):
        started.append(name)
        callback(Step(0.5, "job_saving"))
        while not (release.is_set() or stop.is_set()):
            time.sleep(0.01)
        if stop.is_set():
            raise encdec.TrainingStopped("stopped")
        return name
    return Job(name, work, **kw)


@pytest.mark.slow
def test_a_finished_training_saves_a_loadable_model_and_its_map(tmp_path, mnist, user_home):
    store = ModelStore(tmp_path)
    job = JobQueue(1).submit(jobs.training(ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=400, log_every=1),
                                           mnist, store, "mine"))
    wait(lambda: job.finished, 300)
    assert job.status == "done" and job.result == "mine", job.error
    model = store.load("mine")
    assert model.meta["metrics"]["mse"] > 0
    assert job.curve and job.preview.shape == (6, 28, 28)
    path = store.path_for("mine")
    found = maps.find(path, maps.file_hash(path), "test", len(mnist.test), maps.DEFAULT)
    assert found is not None and found.embedding.shape == (len(mnist.test), 2) and found.source == "cache"


def test_the_queue_keeps_its_limit_and_order_and_shows_places():
    queue = JobQueue(max_running=2)
    started, release = [], threading.Event()
    a, b, c, d = (queue.submit(blocking_job(n, started, release)) for n in "abcd")
    wait(lambda: len(started) == 2)
    time.sleep(0.2)
    assert started == ["a", "b"] and queue.place(c) == 1 and queue.place(d) == 2 and queue.place(a) == 0
    d.stop()  # leaves the queue without running
    wait(lambda: d.finished)
    release.set()
    wait(lambda: all(j.finished for j in (a, b, c)))
    assert started == ["a", "b", "c"]
    assert [j.status for j in (a, b, c, d)] == ["done", "done", "done", "stopped"]
    assert [j.result for j in (a, b, c)] == ["a", "b", "c"] and d.result is None


def test_a_waiting_job_is_woken_by_a_free_slot_without_polling():
    queue = JobQueue(max_running=1)
    started, release = [], threading.Event()
    first = queue.submit(blocking_job("first", started, release))
    second = queue.submit(blocking_job("second", started, threading.Event()))
    wait(lambda: started == ["first"])
    release.set()
    wait(lambda: started == ["first", "second"], timeout=2)  # promptly, on the condition
    second.stop()
    wait(lambda: first.finished and second.finished)


def test_a_failed_job_has_its_error_set_before_its_status(monkeypatch):
    seen = []

    class Watched(Job):
        def __setattr__(self, key, value):
            if key == "status" and value == "failed":
                seen.append(self.error)
            super().__setattr__(key, value)

    def broken(callback, stop):
        raise encdec.TrainingError("the loss diverged")

    job = JobQueue(1).submit(Watched("x", broken))
    wait(lambda: job.finished)
    assert job.status == "failed" and seen == ["the loss diverged"]


def test_jobs_per_owner_are_counted():
    queue = JobQueue(1)
    started, release = [], threading.Event()
    jobs_ = [queue.submit(blocking_job(str(i), started, release, owner="ann" if i < 2 else "bob")) for i in range(3)]
    wait(lambda: started)
    assert queue.active("ann") == 2 and queue.active("bob") == 1 and queue.active("cy") == 0
    release.set()
    wait(lambda: all(j.finished for j in jobs_))
    assert queue.active("ann") == 0


@pytest.mark.slow
def test_stop_during_any_step_before_the_save_leaves_no_new_file(tmp_path, mnist, monkeypatch, user_home):
    """Stop while the map of the finished model is computed (the last step before saving)."""
    store = ModelStore(tmp_path)
    job = jobs.training(ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=300), mnist, store, "late")
    original = maps.compute

    def slow_map(*a, **k):
        job.stop()  # the user presses Stop while the map is being made
        return original(*a, **k)

    monkeypatch.setattr(maps, "compute", slow_map)
    JobQueue(1).submit(job)
    wait(lambda: job.finished, 300)
    assert job.status == "stopped"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_stopped_training_leaves_no_file_and_a_failing_one_says_why(tmp_path, mnist):
    store = ModelStore(tmp_path)
    queue = JobQueue(2)
    long = queue.submit(jobs.training(ModelConfig(code_dim=3), TrainConfig(epochs=200), mnist, store, "long"))
    wrong = queue.submit(jobs.training(ModelConfig(code_dim=3, dataset="fashion"), TrainConfig(epochs=1, limit=300),
                                       mnist, store, "wrong"))
    wait(lambda: long.status == "running" and long.progress is not None)
    long.stop()
    wait(lambda: long.finished and wrong.finished)
    assert long.status == "stopped" and wrong.status == "failed" and "is for fashion" in wrong.error
    assert list(tmp_path.iterdir()) == []
