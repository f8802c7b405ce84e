"""One engine for all long work, never in the web server's own process.

Work (work.py) waits in one of two lanes and runs on workers:

- "train": trainings, linear probes, new decoders. First come, first served; ENCDEC_WORKERS at once;
  at most ENCDEC_MAX_QUEUE waiting.
- "maps": a model version's digest (its codes and what the pages show of them) first, then UMAP
  fits, one pending fit per visitor (a new setting replaces the one still waiting), visitors in turn.

Where the work runs is the backend's business: `LocalBackend` keeps worker processes on this machine
(spawned, each with its own torch threads); `RayBackend` sends each piece of work to an existing Ray
cluster (ENCDEC_RAY_ADDRESS). Either way the work reports its progress, preview and code-space frames
while it runs, Stop takes effect within two seconds, and the result comes back as bytes that the app
saves itself (`on_done`), so nothing is half-written and no worker needs the app's disk. A worker that
dies fails its job with one sentence; the next job gets a fresh worker.
"""
from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import settings
from .work import Outcome, Reporter, Spec

LANES = ("train", "maps")
STOP_GRACE = 2.0  # seconds a stopped job may take to end by itself before its worker is ended for it
log = logging.getLogger(__name__)


class EngineError(RuntimeError):
    """Work cannot be taken now (the queue is full, the cluster does not answer): one sentence, with `key`
    naming it for the pages (a key of the interface's strings) and `values` its blanks."""

    def __init__(self, message: str, key: str = "engine_failed", **values):
        super().__init__(message)
        self.key, self.values = key, values


# -- what the app sees of one piece of work ---------------------------------------------------------

@dataclass
class Job:
    spec: Spec
    lane: str
    owner: str = ""                        # whose (a workspace), for per-person limits and fair turns
    name: str = ""                         # what the user called it (a model is saved under it)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # unguessable: the page polls with it
    status: str = "queued"                 # queued | running | done | stopped | failed
    error: str | None = None
    result: object = None                  # what `on_done` made of the outcome (a saved name, a table)
    progress: dict | None = None           # the latest training progress (work.Reporter.progress)
    step: dict | None = None               # the latest step of other work (fraction, stage, values)
    curve: list = field(default_factory=list)  # (fraction, train loss or None, validation loss or None)
    preview: np.ndarray | None = None      # outputs for a few test digits
    frame: dict | None = None              # the code space's latest frame (xy, epoch, loss, labels)
    on_done: Callable[["Job", Outcome], object] | None = field(default=None, repr=False)
    on_end: list = field(default_factory=list, repr=False)  # called once the job has ended, however
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    submitted: float = field(default_factory=time.time)
    replace_key: str | None = None         # maps: what a newer job of the same owner replaces while it waits
    placed: dict | None = None             # where a cluster runs it (the resources asked for)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")

    @property
    def kind(self) -> str:
        return self.spec.kind

    def deliver(self, kind: str, payload) -> None:
        """A message from the work (backend threads call this)."""
        if kind == "progress":
            self.progress = payload
            if payload["phase"] == "step":
                self.curve.append((payload["fraction"], payload["loss"], None))
            elif payload["phase"] == "epoch":
                self.curve.append((payload["fraction"], None, payload["val_loss"]))
        elif kind == "step":
            self.step = payload
        elif kind == "preview":
            self.preview = np.asarray(payload, dtype=np.float32)
        elif kind == "frame":
            self.frame = payload
        elif kind == "placed":
            self.placed = payload

    def view(self, place: int = 0) -> dict:
        """The job as plain JSON for the page that watches it."""
        frame = None
        if self.frame is not None:
            frame = {"xy": np.round(self.frame["xy"].astype(np.float32), 3).ravel().tolist(),
                     "labels": self.frame["labels"].tolist(), "epoch": self.frame["epoch"], "loss": self.frame["loss"]}
        return {"status": self.status, "place": place, "error": self.error, "kind": self.kind, "progress": self.progress,
                "step": self.step, "curve": self.curve[-400:], "frame": frame,
                "preview": None if self.preview is None else np.round(self.preview, 3).tolist()}


# -- the engine ---------------------------------------------------------------------------------------

class Engine:
    def __init__(self, backend, slots: dict[str, int], max_queue: int = 20, max_maps: int = 64):
        self.backend = backend
        self.slots = dict(slots)
        self.max_queue, self.max_maps = max_queue, max_maps
        self._cond = threading.Condition()
        self._waiting: dict[str, deque[Job]] = {lane: deque() for lane in LANES}
        self._running: dict[str, list[Job]] = {lane: [] for lane in LANES}
        self._jobs: dict[str, Job] = {}
        self._turns = itertools.count()
        self._last_turn: dict[str, int] = {}  # owner -> when they last had a map run (fair turns)
        self._closed = False
        self._threads = [threading.Thread(target=self._dispatch, args=(lane,), daemon=True, name=f"engine-{lane}")
                         for lane in LANES]
        for t in self._threads:
            t.start()

    # -- taking work ---------------------------------------------------------------------------------

    def submit(self, spec: Spec, lane: str = "train", *, owner: str = "", name: str = "", on_done=None,
               replace: str | None = None) -> Job:
        """Queue `spec`; `replace` (maps only) is a key: a job of the same owner waiting under the same key
        is dropped for this one. EngineError when the lane's queue is full."""
        job = Job(spec, lane, owner, name, on_done=on_done)
        with self._cond:
            if self._closed:
                raise EngineError("The server is shutting down; try again in a moment.", "engine_closed")
            waiting = self._waiting[lane]
            if replace is not None:
                for old in [j for j in waiting if j.owner == owner and j.replace_key == replace]:
                    waiting.remove(old)
                    self._end(old, "stopped")
            limit = self.max_queue if lane == "train" else self.max_maps
            if len(waiting) >= limit:
                raise EngineError(f"{len(waiting)} jobs are waiting already, the most this server queues; "
                                  "try again when one has finished.", "engine_full", n=len(waiting))
            job.replace_key = replace
            waiting.append(job)
            self._jobs[job.token] = job
            self._cond.notify_all()
        return job

    def get(self, token: str) -> Job | None:
        with self._cond:
            return self._jobs.get(token)

    def place(self, job: Job) -> int:
        """1-based place among the lane's waiting jobs, 0 once it runs (or has ended)."""
        with self._cond:
            order = self._order(job.lane)
            return next((i + 1 for i, j in enumerate(order) if j is job), 0)

    def stop(self, job: Job) -> None:
        """Stop a job: a waiting one leaves the queue, a running one ends within STOP_GRACE seconds."""
        job.stop_event.set()
        with self._cond:
            if job in self._waiting[job.lane]:
                self._waiting[job.lane].remove(job)
                self._end(job, "stopped")
                return
        self.backend.stop(job)

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: job.finished, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for lane in LANES:
                for job in list(self._waiting[lane]):
                    self._end(job, "stopped")
                self._waiting[lane].clear()
            self._cond.notify_all()
        self.backend.close()

    # -- running it -----------------------------------------------------------------------------------

    def _order(self, lane: str) -> list[Job]:
        """The lane's waiting jobs in the order they will run: trainings first come first served; in the
        maps lane digests first, then one fit per visitor, whoever waited longest since their last fit first."""
        waiting = list(self._waiting[lane])
        if lane == "train":
            return waiting
        digests = [j for j in waiting if j.kind == "digest"]
        fits = sorted((j for j in waiting if j.kind != "digest"),
                      key=lambda j: (self._last_turn.get(j.owner, -1), j.submitted))
        return digests + fits

    def _dispatch(self, lane: str) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or (self._waiting[lane] and
                                                             len(self._running[lane]) < self.slots[lane]))
                if self._closed:
                    return
                job = self._order(lane)[0]
                self._waiting[lane].remove(job)
                self._running[lane].append(job)
                self._last_turn[job.owner] = next(self._turns)
                job.status = "running"
            threading.Thread(target=self._run, args=(job,), daemon=True, name=f"job-{job.kind}").start()

    def _run(self, job: Job) -> None:
        status, error, outcome = "failed", None, None
        try:
            status, payload = self.backend.run(job)
            if status == "done":
                outcome = payload
                if job.stop_event.is_set():
                    status = "stopped"  # stopped after the work ended, before anything was saved
                elif job.on_done is not None:
                    job.result = job.on_done(job, outcome)
            elif status == "failed":
                error = payload
        except EngineError as e:
            error = str(e)
        except Exception as e:  # a bug (or a disk that refuses the save): say it, keep the server alive
            traceback.print_exc()
            status, error = "failed", f"{type(e).__name__}: {e}"
        with self._cond:
            self._running[job.lane].remove(job)
            if job.result is None and outcome is not None and outcome.table is not None:
                job.result = outcome.table
            job.error = error
            self._end(job, status)

    def _end(self, job: Job, status: str) -> None:
        """Set a job's final status (its error first, so whoever sees the status sees why) and call its
        `on_end` hooks once. Called with the lock held."""
        job.status = status
        for hook in job.on_end:
            try:
                hook(job)
            except Exception:  # noqa: BLE001 - a hook must not keep other jobs from ending
                log.exception("a job's end hook failed")
        job.on_end = []
        self._cond.notify_all()


# -- local worker processes ----------------------------------------------------------------------------

def _threads_for(lane: str) -> int:
    given = settings.worker_threads()
    return given or (max(1, os.cpu_count() or 1) if lane == "train" else 1)


class _PipeReporter(Reporter):
    def __init__(self, conn, seq: int):
        super().__init__()
        self.conn, self.seq = conn, seq

    def send(self, kind: str, payload) -> None:
        self.conn.send((self.seq, kind, payload))


class _SeqStop:
    """Set when the engine has asked to stop the job with this sequence number (a shared integer, so a
    stop meant for the last job never reaches the next)."""

    def __init__(self, shared, seq: int):
        self.shared, self.seq = shared, seq

    def is_set(self) -> bool:
        return self.shared.value == self.seq


def _outcome_of(run_work, spec, reporter, stop) -> tuple[str, object]:
    """Run work and say how it ended: ("done", Outcome), ("stopped", None) or ("failed", a sentence)."""
    from .checkpoint import CheckpointError
    from .data import DataError
    from .models import ConfigError
    from .train import TrainingError, TrainingStopped

    try:
        return "done", run_work(spec, reporter, stop)
    except TrainingStopped:
        return "stopped", None
    except (TrainingError, CheckpointError, DataError, ConfigError, ValueError) as e:
        return "failed", str(e)
    except MemoryError:
        return "failed", "The work ran out of memory; choose a smaller model or fewer images."
    except Exception as e:  # a bug: one sentence for the page, the whole story in the worker's log
        traceback.print_exc()
        return "failed", f"{type(e).__name__}: {e}"


def _runner(name: str):
    """What a worker process does with a spec: run it here ("local"), or relay it to a Ray cluster ("ray",
    cluster.relay: the cluster's driver lives in the worker, so a cluster that goes away can take only
    that process with it, never the web server)."""
    if name == "ray":
        from .cluster import relay, spent

        return relay, spent
    from .work import run

    return run, lambda: False


def _yield_processor(nice: int | str) -> None:
    """Lower this process's claim on the processor (settings.worker_nice): SCHED_IDLE for every thread it
    has (threads started later inherit it), or a nice value."""
    if nice == settings.IDLE:
        tasks = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["0"]
        for tid in tasks:
            try:
                os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
            except (ProcessLookupError, PermissionError):
                pass  # a thread that has ended, or a system that refuses: the others still yield
    elif nice and hasattr(os, "nice"):
        os.nice(nice)


def _worker_main(conn, stop_seq, threads: int, runner: str = "local", nice: int | str = 0) -> None:
    """A worker process: takes (seq, spec) from the engine, runs it, sends messages and the outcome back."""
    import torch

    _yield_processor(nice)  # the web server beside it comes first
    torch.set_num_threads(threads)
    run, spent = _runner(runner)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        seq, spec = message
        status, payload = _outcome_of(run, spec, _PipeReporter(conn, seq), _SeqStop(stop_seq, seq))
        try:
            conn.send((seq, status, payload))
        except (OSError, ValueError):
            return
        if spent():  # a relay whose cluster went away: the next job gets a fresh one
            return


class _Worker:
    def __init__(self, ctx, lane: str, runner: str = "local"):
        self.conn, child = ctx.Pipe()
        self.stop_seq = ctx.Value("q", 0)
        self.proc = ctx.Process(target=_worker_main, args=(child, self.stop_seq, _threads_for(lane), runner,
                                                           settings.worker_nice()),
                                daemon=True, name=f"encdec-{lane}-{runner}")
        self.proc.start()
        child.close()
        self.seq = 0
        self._ending = threading.Lock()

    def alive(self) -> bool:
        return self.proc.is_alive()

    def end(self) -> None:
        """End the process and its pipe; safe to call more than once, from any thread (the engine closing
        while a job's thread finds its worker dead)."""
        with self._ending:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
            try:
                self.conn.close()
            except OSError:  # its descriptor is gone already: nothing left to close
                pass


class LocalBackend:
    """Worker processes on this machine (spawned: a fresh interpreter, never a fork of the web server),
    started ahead of time, one per slot of each lane; a dead one is replaced for the next job."""

    name = "local"
    runner = "local"
    DIED = ("The worker process running this job stopped unexpectedly (it may have run out of memory or been "
            "ended); nothing was saved. Start it again.")

    def __init__(self, slots: dict[str, int]):
        self.ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._idle: dict[str, list[_Worker]] = {lane: [] for lane in LANES}
        self._busy: dict[str, _Worker] = {}  # job token -> worker
        self._seqs = itertools.count(1)
        for lane, n in slots.items():
            for _ in range(n):
                self._idle[lane].append(_Worker(self.ctx, lane, self.runner))

    def _take(self, lane: str) -> _Worker:
        with self._lock:
            while self._idle[lane]:
                worker = self._idle[lane].pop()
                if worker.alive():
                    return worker
                worker.end()
        return _Worker(self.ctx, lane, self.runner)

    def run(self, job: Job) -> tuple[str, object]:
        worker = self._take(job.lane)
        worker.seq = next(self._seqs)
        with self._lock:
            self._busy[job.token] = worker
        stopped_at = None
        try:
            worker.conn.send((worker.seq, job.spec))
            while True:
                if worker.conn.poll(0.2):
                    try:
                        seq, kind, payload = worker.conn.recv()
                    except (EOFError, OSError):
                        return self._died(worker, job)
                    if seq != worker.seq:
                        continue
                    if kind in ("done", "stopped", "failed"):
                        with self._lock:
                            self._idle[job.lane].append(worker)  # _take replaces it if it has ended
                        return kind, payload
                    job.deliver(kind, payload)
                elif not worker.alive():
                    return self._died(worker, job)
                if job.stop_event.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > STOP_GRACE:  # busy in code that cannot look (a UMAP fit)
                        worker.end()
                        return "stopped", None
        finally:
            with self._lock:
                self._busy.pop(job.token, None)

    def _died(self, worker: _Worker, job: Job) -> tuple[str, object]:
        worker.end()
        if job.stop_event.is_set():
            return "stopped", None
        return "failed", self.DIED

    def stop(self, job: Job) -> None:
        with self._lock:
            worker = self._busy.get(job.token)
        if worker is not None:
            worker.stop_seq.value = worker.seq

    def has_gpu(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def close(self) -> None:
        with self._lock:
            workers = [w for lane in LANES for w in self._idle[lane]] + list(self._busy.values())
            self._idle = {lane: [] for lane in LANES}
        for w in workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
            w.end()

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and benchmarks)."""
        with self._lock:
            return [w.proc.pid for lane in LANES for w in self._idle[lane]] + [w.proc.pid for w in self._busy.values()]


# -- the engine the app uses --------------------------------------------------------------------------

_shared: Engine | None = None
_shared_lock = threading.Lock()


def make_engine() -> Engine:
    """An engine from the settings: a Ray cluster when ENCDEC_RAY_ADDRESS is set (and answers: a cluster
    that does not answer is said, never silently replaced by local workers), else local workers."""
    slots = {"train": settings.workers(), "maps": settings.map_workers()}
    address = settings.ray_address()
    if address:
        from .cluster import RayBackend

        backend = RayBackend(slots, address)
    else:
        backend = LocalBackend(slots)
    return Engine(backend, slots, settings.max_queue())


def shared() -> Engine:
    """The one engine of this process (made on first use: the web server makes it as it starts)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = make_engine()
        return _shared


def started() -> bool:
    return _shared is not None


def close_shared() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None
