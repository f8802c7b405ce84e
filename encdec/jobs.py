"""Long work in background threads, so a server stays responsive: trainings, linear probes, new
decoders on frozen encoders. One queue runs them all.

A `Job` carries `work(callback, stop)`: it reports progress through `callback` and ends early when
`stop` is set. At most `max_running` jobs run at once; later ones wait, first come first served,
on a condition (no polling), and can see their place. A job's result is set before its status,
and its error before its status too, so whoever sees a finished status sees why.
"""
from __future__ import annotations

import threading
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from . import maps
from .frames import Recorder, recorder
from .checkpoint import CheckpointError
from .store import ModelStore
from .data import Dataset
from .latent import decoder_output, encode
from .models import ModelConfig
from . import transfer
from .train import (Progress, Step, TrainConfig, TrainingError, TrainingStopped, check_stop, objective,
                    train_model)

PREVIEW = 6  # test digits whose output is shown while a model trains


@dataclass
class Job:
    name: str                                  # what the user called it (a model is saved under it)
    work: Callable[[Callable, threading.Event], Any] | None = None
    kind: str = "train"                        # train | probe | probe_model | decoder
    owner: str = ""                            # whose job (a workspace), for per-person limits
    config: ModelConfig | None = None
    train_config: TrainConfig | None = None
    status: str = "queued"                     # queued | running | done | stopped | failed
    error: str | None = None
    result: Any = None                         # what `work` returned (a saved name, a table)
    progress: Progress | Step | None = None
    curve: list = field(default_factory=list)  # (fraction, train loss or None, val loss or None)
    preview: torch.Tensor | None = None        # (PREVIEW, ...) outputs of the model so far
    recorder: Recorder | None = None           # the code space as it forms (frames.py)
    stop_event: threading.Event = field(default_factory=threading.Event)
    _wake: Callable[[], None] = field(default=lambda: None, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")

    @property
    def fraction(self) -> float:
        return self.progress.fraction if self.progress is not None else 0.0

    def stop(self) -> None:
        self.stop_event.set()
        self._wake()

    def report(self, progress) -> None:
        """The callback `work` gets: a training's `Progress` or a `Step`."""
        self.progress = progress


class JobQueue:
    def __init__(self, max_running: int = 1):
        self.max_running = max(1, int(max_running))
        self._cond = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._running: list[Job] = []

    def place(self, job: Job) -> int:
        """1-based place among waiting jobs, 0 once it runs."""
        with self._cond:
            return next((i + 1 for i, j in enumerate(self._waiting) if j is job), 0)

    def active(self, owner: str) -> int:
        """Jobs of `owner` waiting or running."""
        with self._cond:
            return sum(j.owner == owner for j in (*self._waiting, *self._running))

    def submit(self, job: Job) -> Job:
        job._wake = self._notify
        with self._cond:
            self._waiting.append(job)
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"job-{job.kind}").start()
        return job

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _run(self, job: Job) -> None:
        with self._cond:  # first come first served, woken when a slot frees or the job is stopped
            self._cond.wait_for(lambda: job.stop_event.is_set() or
                                (self._waiting[0] is job and len(self._running) < self.max_running))
            self._waiting.remove(job)
            if job.stop_event.is_set():
                job.status = "stopped"
                self._cond.notify_all()
                return
            self._running.append(job)
        job.status = "running"
        try:
            job.result = job.work(job.report, job.stop_event)  # work saves nothing once stopped
            job.status = "done"
        except TrainingStopped:
            job.status = "stopped"
        except (TrainingError, CheckpointError, ValueError) as e:
            job.error = str(e)
            job.status = "failed"
        except Exception as e:  # a bug: keep the server alive, show it, log it
            job.error = f"{type(e).__name__}: {e}"
            job.status = "failed"
            traceback.print_exc()
        finally:
            with self._cond:
                self._running.remove(job)
                self._cond.notify_all()


def preview(model, x: torch.Tensor) -> torch.Tensor:
    """Outputs of a model in training for a few inputs, without disturbing its training mode."""
    was_training = model.training
    model.eval()
    try:
        return decoder_output(model, encode(model, x))
    finally:
        model.train(was_training)


def follow_training(job: Job, data: Dataset, callback: Callable) -> Callable:
    """A training callback that keeps the job's loss curve and preview current."""
    preview_x = data.test.floats(slice(0, PREVIEW))

    def on_progress(p: Progress) -> None:
        if p.phase == "step":
            job.curve.append((p.fraction, p.loss, None))
        elif p.phase == "epoch":
            job.curve.append((p.fraction, None, objective(p.model, p.val)))
        job.preview = preview(p.model, preview_x)  # six images: cheap at every report
        callback(p)
    return on_progress


def save_with_map(model, store: ModelStore, name: str, data: Dataset, callback: Callable,
                  stop: threading.Event, recorder: Recorder | None = None) -> str:
    """The last steps of every job that makes a model: its default test-split map (so the map
    opens at once), then the model, saved atomically under a free name. Stop is obeyed until
    the file is written."""
    callback(Step(0.0, "job_map", {"n": len(data.test)}))
    codes = encode(model, data.test.floats()).numpy()
    mapped = maps.compute(codes, maps.DEFAULT, data.test.labels.numpy())
    check_stop(stop)
    callback(Step(1.0, "job_saving"))
    saved = store.save(model, name, frames=recorder.tensors() if recorder is not None else None)
    path = store.path_for(saved)
    maps.write(maps.cache_path(maps.file_hash(path), "test", len(codes), maps.DEFAULT), mapped,
               maps.file_hash(path), "test")
    return saved


def training(config: ModelConfig, train_config: TrainConfig, data: Dataset, store: ModelStore, name: str,
             owner: str = "") -> Job:
    """A job that trains a model, maps its test codes and saves it; its result is the saved name."""
    job = Job(name, kind="train", owner=owner, config=config, train_config=train_config, recorder=recorder(data.val))

    def work(callback, stop):
        model = train_model(config, train_config, data, callback=follow_training(job, data, callback), stop=stop,
                            recorder=job.recorder)
        return save_with_map(model, store, name, data, callback, stop, job.recorder)

    job.work = work
    return job


def linear_probe(model, data: Dataset, owner: str = "") -> Job:
    """A job measuring a linear probe on a frozen autoencoder's code; its result is the table."""
    job = Job("probe", kind="probe", owner=owner)
    job.work = lambda callback, stop: transfer.linear_probe(model, data, callback=callback, stop=stop)
    return job


def probe_model(model, data: Dataset, per_class: int | None, store: ModelStore, name: str, source_name: str,
                owner: str = "") -> Job:
    """A job that saves the linear probe with `per_class` labels per class as a classifier."""
    job = Job(name, kind="probe_model", owner=owner)

    def work(callback, stop):
        probe = transfer.probe_model(model, data, per_class=per_class, source_name=source_name, callback=callback,
                                     stop=stop)
        return save_with_map(probe, store, name, data, callback, stop)

    job.work = work
    return job


def new_decoder(classifier, data: Dataset, decoder: str, epochs: int, limit: int | None, store: ModelStore,
                name: str, source_name: str, owner: str = "") -> Job:
    """A job that trains a new image decoder on a frozen classifier's code and saves it."""
    job = Job(name, kind="decoder", owner=owner, train_config=TrainConfig(epochs=epochs), recorder=recorder(data.val))

    def work(callback, stop):
        model = transfer.decoder_from_classifier(classifier, data, decoder=decoder, epochs=epochs, limit=limit,
                                                 source_name=source_name, stop=stop, recorder=job.recorder,
                                                 callback=follow_training(job, data, callback))
        return save_with_map(model, store, name, data, callback, stop, job.recorder)

    job.work = work
    return job
