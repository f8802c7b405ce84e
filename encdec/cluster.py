"""Long work on a Ray cluster: the engine's backend when ENCDEC_RAY_ADDRESS is set.

The web server never talks to Ray itself: a Ray driver ends its own process when the cluster goes
away. Each engine slot is a relay process (engine.py's worker processes, running `relay` instead of
the work): it connects to the cluster once, starts one small mailbox actor there for all its jobs,
sends each piece of work as one Ray task, passes the progress, preview and frames the task posts in
the mailbox on to the engine as a local worker would, and posts Stop there. The task returns the
outcome as bytes (a checkpoint, a map), and the app saves them in the right workspace itself, so the
workers need no share of the app's disk, only the datasets (each node reads ENCDEC_DATA_DIR or
downloads them) and this package (sent with the job). A task that asks for a GPU gets one from the
cluster. Ray is imported only in relay processes and in the Ray workers.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from . import settings
from .engine import STOP_GRACE, EngineError, LocalBackend, _outcome_of
from .train import TrainingError, TrainingStopped
from .work import Reporter

CONNECT_TIMEOUT = 5.0  # seconds to wait for a cluster's address to answer before saying it does not
POLL = 0.25           # seconds between two looks at a running job's mailbox
SILENCE = 10.0         # seconds without a word from a job before the cluster's address is checked again
GONE = ("The Ray cluster stopped answering during this job; nothing was saved. Start it again once the "
        "cluster is back.")
log = logging.getLogger(__name__)


def _answers(address: str) -> bool:
    """Whether something listens at the cluster's address (Ray itself would wait minutes to find out)."""
    if address == "auto":  # the cluster `ray start` started on this machine, if any
        try:
            address = Path("/tmp/ray/ray_current_cluster").read_text().strip()
        except OSError:
            return False
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT):
            return True
    except (OSError, ValueError):
        return False


class Mailbox:
    """What running tasks and the app tell each other, job by job (a Ray actor). A relay keeps one for
    all its jobs: a new actor for each job started a Python process on the cluster whose imports took
    the training's cores for its first seconds (a short CNN training ran 10-15% slower for it)."""

    def __init__(self):
        self.messages: dict[str, list] = {}
        self.stopped: set[str] = set()

    def open(self, job: str) -> None:
        self.messages[job] = []

    def put(self, job: str, message) -> None:
        if job in self.messages:  # a cancelled task's last words, after its job was closed, are dropped
            self.messages[job].append(message)

    def take(self, job: str) -> list:
        out = self.messages.get(job, [])
        if job in self.messages:
            self.messages[job] = []
        return out

    def stop(self, job: str) -> None:
        self.stopped.add(job)

    def is_stopped(self, job: str) -> bool:
        """Whether the app asked this job to stop, or no longer waits for it (its job is closed)."""
        return job in self.stopped or job not in self.messages

    def close(self, job: str) -> None:
        self.messages.pop(job, None)
        self.stopped.discard(job)


class _MailboxReporter(Reporter):
    def __init__(self, mailbox, job: str):
        super().__init__()
        self.mailbox, self.job = mailbox, job

    def send(self, kind: str, payload) -> None:
        self.mailbox.put.remote(self.job, (kind, payload))


class _MailboxStop:
    """Set once the app has asked the mailbox to stop this job (looked up four times a second)."""

    def __init__(self, mailbox, job: str):
        import ray

        self._event = threading.Event()

        def watch():
            while not self._event.is_set():
                try:
                    if ray.get(mailbox.is_stopped.remote(job), timeout=30):
                        self._event.set()
                except ray.exceptions.GetTimeoutError:
                    continue  # a busy cluster answers late: only the mailbox says stop
                except Exception:  # noqa: BLE001 - the mailbox has gone with the app's relay: nobody will save the result
                    self._event.set()
                time.sleep(0.25)
        threading.Thread(target=watch, daemon=True).start()

    def is_set(self) -> bool:
        return self._event.is_set()


def _task(spec, mailbox, job: str, threads: int):
    """What a Ray worker runs: the work, reporting to the mailbox; returns (status, payload)."""
    import ray
    import torch

    from .work import run

    torch.set_num_threads(max(1, threads))
    outcome = _outcome_of(run, spec, _MailboxReporter(mailbox, job), _MailboxStop(mailbox, job))
    try:  # an actor runs one caller's calls in order: once this answers, every message sent is in the mailbox
        ray.get(mailbox.is_stopped.remote(job), timeout=30)
    except Exception:  # noqa: BLE001 - the mailbox has gone with the app's relay: nobody reads the messages
        pass
    return outcome


# -- the relay: one per engine slot, in its own process -------------------------------------------------

class _Connection:
    """This relay process's link to the cluster, made on its first job."""

    def __init__(self, address: str):
        import ray

        package = str(Path(__file__).resolve().parent)
        env = {k: os.environ[k] for k in ("ENCDEC_DATA_DIR", "ENCDEC_DOWNLOAD") if k in os.environ}
        try:
            ray.init(address=address, namespace="encdec", log_to_driver=False, ignore_reinit_error=True,
                     runtime_env={"py_modules": [package], "env_vars": env})
        except Exception as e:  # noqa: BLE001 - Ray raises many kinds; all mean the same to a teacher
            raise TrainingError(f"The Ray cluster at {address[:80]} refused the connection ({str(e)[:120]}); "
                                "check ENCDEC_RAY_ADDRESS.") from None
        self.ray, self.address = ray, address
        self.cpus = settings.ray_cpus()
        self.task = ray.remote(_task)
        self._mailbox = None

    def mailbox(self, job: str, stop):
        """The relay's mailbox, opened for `job`: started on the first job, started again if it died.
        Stop is obeyed while a cold cluster starts it."""
        for _ in range(2):
            if self._mailbox is None:
                self._mailbox = self.ray.remote(num_cpus=0)(Mailbox).remote()
            opened, end = self._mailbox.open.remote(job), time.monotonic() + 60
            while not self.ray.wait([opened], timeout=POLL)[0]:
                if stop is not None and stop.is_set():
                    raise TrainingStopped()
                if time.monotonic() > end:
                    raise TimeoutError("the mailbox did not start")  # the relay's handler: the cluster went away
            try:
                self.ray.get(opened)
                return self._mailbox
            except self.ray.exceptions.RayActorError:
                self._mailbox = None
        raise TrainingError("The Ray cluster could not start this job's mailbox; nothing was saved. Start it again.")


_link: _Connection | None = None
_gone = False


def relay(spec, report: Reporter, stop):
    """Run `spec` on the cluster and pass on what it reports: the Outcome, or TrainingStopped /
    TrainingError with one sentence, as local work would."""
    global _link, _gone
    address = settings.ray_address()
    if _link is None:
        _link = _Connection(address)
    ray, link = _link.ray, _link
    options = {"num_cpus": link.cpus, "max_retries": 0}
    if spec.gpu:
        options["num_gpus"] = 1
    report.send("placed", {"cluster": address, **options})
    job, mailbox = uuid.uuid4().hex, None
    stopped_at, asked, heard, next_ask = None, None, time.monotonic(), 0.0
    try:
        mailbox = link.mailbox(job, stop)
        ref = link.task.options(**options).remote(spec, mailbox, job, link.cpus)
        while True:
            # The mailbox is read at most four times a second: asking again the moment it answers would
            # keep this process and the mailbox's busy, taking the cores the training needs. A cold
            # cluster takes a while to start the mailbox and the task (a new worker process, the package
            # unpacked): only silence while the address no longer answers means it is gone.
            if asked is None and time.monotonic() >= next_ask:
                asked, next_ask = mailbox.take.remote(job), time.monotonic() + POLL
            waiting = [ref] if asked is None else [ref, asked]
            ready, _ = ray.wait(waiting, num_returns=1, timeout=POLL if asked is not None else max(0.0, next_ask - time.monotonic()))
            if ready:
                heard = time.monotonic()
            if asked in ready:
                for kind, payload in ray.get(asked, timeout=30):
                    report.send(kind, payload)
                asked = None
            if ref in ready:
                # The task made sure its last messages were in the mailbox before it returned.
                pending = ray.get(asked, timeout=30) if asked is not None else []
                for kind, payload in pending + ray.get(mailbox.take.remote(job), timeout=30):
                    report.send(kind, payload)
                status, payload = ray.get(ref, timeout=60)
                if status == "stopped":
                    raise TrainingStopped()
                if status == "failed":
                    raise TrainingError(payload)
                return payload
            if stop is not None and stop.is_set():
                if stopped_at is None:
                    stopped_at = time.monotonic()
                    mailbox.stop.remote(job)
                elif time.monotonic() - stopped_at > STOP_GRACE * 0.6:  # busy where it cannot look (a UMAP fit)
                    ray.cancel(ref, force=True)
                    raise TrainingStopped()
            if time.monotonic() - heard > SILENCE:
                if not _answers(address):
                    _gone = True
                    raise TrainingError(GONE)
                heard = time.monotonic()
    except (TrainingStopped, TrainingError):
        raise
    except ray.exceptions.TaskCancelledError:
        raise TrainingStopped() from None
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayActorError, ray.exceptions.ActorDiedError):
        if stop is not None and stop.is_set():
            raise TrainingStopped() from None
        if _leaving(address):  # the cluster's own shutdown ends its workers first
            _gone = True
            raise TrainingError(GONE) from None
        raise TrainingError("The Ray worker running this job stopped unexpectedly (it may have run out of "
                            "memory); nothing was saved. Start it again.") from None
    except Exception:  # noqa: BLE001 - a timeout, a lost connection: the cluster went away
        if stop is not None and stop.is_set():
            raise TrainingStopped() from None
        _gone = True
        raise TrainingError(GONE) from None
    finally:
        try:
            if mailbox is not None:
                mailbox.close.remote(job)
        except Exception:  # noqa: BLE001 - gone with the cluster
            pass


def _leaving(address: str, seconds: float = 3.0) -> bool:
    """Whether the cluster's address stops answering within a few seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _answers(address):
            return True
        time.sleep(0.3)
    return False


def spent() -> bool:
    """Whether this relay's cluster went away (its process then ends; the engine starts a fresh one)."""
    return _gone


# -- the backend the engine uses ------------------------------------------------------------------------

PROBE = ("import json, sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); "
         "print(json.dumps(ray.cluster_resources()))")


class RayBackend(LocalBackend):
    """Relay processes instead of worker processes; the engine cannot tell the difference."""

    name = "ray"
    runner = "ray"
    DIED = GONE

    def __init__(self, slots: dict[str, int], address: str):
        if not _answers(address):
            raise EngineError(f"The Ray cluster at {address[:80]} does not answer; start it (ray start --head) "
                              "or unset ENCDEC_RAY_ADDRESS to run long work on this machine.", "engine_ray_down",
                              address=address[:80])
        self.address = address
        self.resources: dict = {}
        threading.Thread(target=self._probe, daemon=True, name="ray-probe").start()
        super().__init__(slots)

    def _probe(self) -> None:
        """What the cluster has (for the Train page's GPU choice), asked once by a short-lived process."""
        try:
            out = subprocess.run([sys.executable, "-c", PROBE, self.address], capture_output=True, text=True,
                                 timeout=120)
            self.resources = json.loads(out.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            log.warning("could not ask the Ray cluster at %s what it has", self.address[:80])

    def has_gpu(self) -> bool:
        return self.resources.get("GPU", 0) > 0
