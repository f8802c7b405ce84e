import time

import encdec
from encdec import ModelConfig, ModelStore, TrainConfig
from encdec.jobs import Job, JobQueue


def wait(pred, timeout=120):
    end = time.time() + timeout
    while not pred():
        if time.time() > end:
            raise TimeoutError
        time.sleep(0.05)


def test_finished_job_saves_a_loadable_model(tmp_path, mnist):
    store = ModelStore(tmp_path)
    job = JobQueue(1).submit(Job(ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=400, log_every=1), "mine"),
                             mnist, store)
    wait(lambda: job.finished)
    assert job.status == "done" and job.saved_as == "mine"
    assert store.load("mine").meta["metrics"]["mse"] > 0
    assert job.curve and job.preview.shape == (6, 28, 28)


def test_queue_runs_one_at_a_time_shows_places_and_stop_saves_nothing(tmp_path, mnist):
    store = ModelStore(tmp_path)
    queue = JobQueue(max_running=1)
    long = queue.submit(Job(ModelConfig(code_dim=3), TrainConfig(epochs=200), "long"), mnist, store)
    wait(lambda: long.status == "running")
    short = queue.submit(Job(ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=300), "short"), mnist, store)
    third = queue.submit(Job(ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=300), "third"), mnist, store)
    time.sleep(0.5)
    assert short.status == "queued" and queue.place(short) == 1 and queue.place(third) == 2
    third.stop()   # leaves the queue without running
    long.stop()    # stopped halfway
    wait(lambda: short.finished and long.finished and third.finished)
    assert (long.status, short.status, third.status) == ("stopped", "done", "stopped")
    assert [i.name for i in store.list()] == ["short"]
    assert all(encdec.load(i.path) for i in store.list())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failing_job_reports_the_reason_and_saves_nothing(tmp_path, mnist):
    store = ModelStore(tmp_path)
    job = JobQueue(1).submit(Job(ModelConfig(code_dim=3, dataset="fashion"), TrainConfig(epochs=1, limit=300), "x"),
                             mnist, store)
    wait(lambda: job.finished)
    assert job.status == "failed" and "is for fashion" in job.error
    assert store.list() == []
