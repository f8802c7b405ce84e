"""Training in background threads, so a server stays responsive while someone trains.

At most `max_running` trainings run at once; later ones wait in a queue and can
see their place. A finished model is saved atomically into the user's store;
a stopped or failed one saves nothing.
"""
from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field

import torch

from .checkpoint import ModelStore
from .data import Dataset
from .latent import encode, render
from .models import ModelConfig
from .train import Progress, TrainConfig, TrainingError, TrainingStopped, objective, train_model

PREVIEW = 6  # test digits whose reconstruction is shown while training


@dataclass
class Job:
    config: ModelConfig
    train_config: TrainConfig
    name: str
    status: str = "queued"     # queued | running | done | stopped | failed
    error: str | None = None
    saved_as: str | None = None
    progress: Progress | None = None
    curve: list = field(default_factory=list)  # (fraction of training, train loss, val loss or None)
    preview: torch.Tensor | None = None        # (PREVIEW, ...) outputs of the model so far
    stop_event: threading.Event = field(default_factory=threading.Event)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")

    def stop(self) -> None:
        self.stop_event.set()


class JobQueue:
    def __init__(self, max_running: int = 1):
        self.max_running = max(1, int(max_running))
        self._lock = threading.Lock()
        self._waiting: deque[Job] = deque()
        self._slots = threading.Semaphore(self.max_running)

    def place(self, job: Job) -> int:
        """1-based place among waiting jobs, 0 once it runs."""
        with self._lock:
            return next((i + 1 for i, j in enumerate(self._waiting) if j is job), 0)

    def submit(self, job: Job, data: Dataset, store: ModelStore) -> Job:
        with self._lock:
            self._waiting.append(job)
        threading.Thread(target=self._run, args=(job, data, store), daemon=True, name=f"train-{job.name}").start()
        return job

    def _run(self, job: Job, data: Dataset, store: ModelStore) -> None:
        while True:  # wait for a free slot, first come first served
            if job.stop_event.is_set():
                with self._lock:
                    self._waiting.remove(job)
                job.status = "stopped"
                return
            with self._lock:
                first = bool(self._waiting) and self._waiting[0] is job
            if first and self._slots.acquire(timeout=0.2):
                break
            time.sleep(0.1)
        with self._lock:
            self._waiting.popleft()
        job.status = "running"
        try:
            preview_x = data.test.floats(slice(0, PREVIEW))

            def callback(p: Progress):
                job.progress = p
                if p.phase == "step":
                    job.curve.append((p.fraction, p.loss, None))
                elif p.phase == "epoch":
                    job.curve.append((p.fraction, None, objective(p.model, p.val)))
                job.preview = preview(p.model, preview_x)  # six images: cheap at every report

            model = train_model(job.config, job.train_config, data, callback=callback, stop=job.stop_event)
            name = store.unique_name(job.name)
            store.save(model, name)
            job.saved_as, job.status = name, "done"
        except TrainingStopped:
            job.status = "stopped"
        except TrainingError as e:
            job.status, job.error = "failed", str(e)
        except Exception as e:  # a bug: keep the server alive, show it, log it
            job.status, job.error = "failed", f"{type(e).__name__}: {e}"
            traceback.print_exc()
        finally:
            self._slots.release()


def preview(model, x: torch.Tensor) -> torch.Tensor:
    """Outputs of a model in training for a few inputs, without disturbing its training mode."""
    was_training = model.training
    model.eval()
    try:
        return render(model, encode(model, x))
    finally:
        model.train(was_training)

