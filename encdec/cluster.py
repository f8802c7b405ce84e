"""Long work on a Ray cluster: the engine's backend when ENCDEC_RAY_ADDRESS is set.

Each piece of work becomes one Ray task, with a small mailbox actor beside it: the task posts its
progress, preview and frames there as it runs and looks there for Stop; the app reads the mailbox a
few times a second. The task returns the outcome as bytes (a checkpoint, a map), and the app saves
them in the right workspace itself, so the workers need no share of the app's disk, only the
datasets (each node reads ENCDEC_DATA_DIR or downloads them) and this package (sent with the job).
A task that asks for a GPU gets one from the cluster. Ray is imported only here.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

from . import settings
from .engine import STOP_GRACE, EngineError, _outcome_of
from .work import Reporter

CONNECT_TIMEOUT = 5.0  # seconds to wait for a cluster's address to answer before saying it does not
GONE = ("The Ray cluster stopped answering during this job; nothing was saved. Start it again once the "
        "cluster is back.")


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
    """What a running task and the app tell each other (a Ray actor)."""

    def __init__(self):
        self.messages, self.stopped = [], False

    def put(self, message) -> None:
        self.messages.append(message)

    def take(self) -> list:
        out, self.messages = self.messages, []
        return out

    def stop(self) -> None:
        self.stopped = True

    def is_stopped(self) -> bool:
        return self.stopped


class _MailboxReporter(Reporter):
    def __init__(self, mailbox):
        super().__init__()
        self.mailbox = mailbox

    def send(self, kind: str, payload) -> None:
        self.mailbox.put.remote((kind, payload))


class _MailboxStop:
    """Set once the app has asked the mailbox to stop (looked up four times a second)."""

    def __init__(self, mailbox):
        import ray

        self._event = threading.Event()

        def watch():
            while not self._event.is_set():
                try:
                    if ray.get(mailbox.is_stopped.remote(), timeout=10):
                        self._event.set()
                except Exception:  # noqa: BLE001 - the app is gone: nobody will save the result anyway
                    self._event.set()
                time.sleep(0.25)
        threading.Thread(target=watch, daemon=True).start()

    def is_set(self) -> bool:
        return self._event.is_set()


def _task(spec, mailbox, threads: int):
    """What a Ray worker runs: the work, reporting to the mailbox; returns (status, payload)."""
    import torch

    from .work import run

    torch.set_num_threads(max(1, threads))
    return _outcome_of(run, spec, _MailboxReporter(mailbox), _MailboxStop(mailbox))


class RayBackend:
    name = "ray"

    def __init__(self, address: str):
        if not _answers(address):
            raise EngineError(f"The Ray cluster at {address[:80]} does not answer; start it (ray start --head) "
                              "or unset ENCDEC_RAY_ADDRESS to run long work on this machine.", "engine_ray_down",
                              address=address[:80])
        import ray

        package = str(Path(__file__).resolve().parent)
        env = {k: os.environ[k] for k in ("ENCDEC_DATA_DIR", "ENCDEC_DOWNLOAD") if k in os.environ}
        try:
            ray.init(address=address, namespace="encdec", log_to_driver=False, ignore_reinit_error=True,
                     runtime_env={"py_modules": [package], "env_vars": env})
        except Exception as e:  # noqa: BLE001 - Ray raises many kinds; all mean the same to a teacher
            raise EngineError(f"The Ray cluster at {address[:80]} refused the connection ({str(e)[:120]}); check "
                              "ENCDEC_RAY_ADDRESS.", "engine_ray_down", address=address[:80]) from None
        self.ray = ray
        self.cpus = settings.ray_cpus()
        self._mailbox = ray.remote(num_cpus=0)(Mailbox)
        self._task = ray.remote(_task)
        self._lock = threading.Lock()
        self._mailboxes: dict[str, object] = {}

    def run(self, job) -> tuple[str, object]:
        ray = self.ray
        try:
            mailbox = self._mailbox.remote()
            options = {"num_cpus": self.cpus, "max_retries": 0}
            if job.spec.gpu:
                options["num_gpus"] = 1
            ref = self._task.options(**options).remote(job.spec, mailbox, self.cpus)
        except Exception:  # noqa: BLE001
            return "failed", GONE
        with self._lock:
            self._mailboxes[job.token] = mailbox
        stopped_at = None
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=0.25)
                for kind, payload in ray.get(mailbox.take.remote(), timeout=30):
                    job.deliver(kind, payload)
                if ready:
                    return tuple(ray.get(ref, timeout=60))
                if job.stop_event.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > STOP_GRACE:
                        ray.cancel(ref, force=True)
                        return "stopped", None
        except ray.exceptions.TaskCancelledError:
            return "stopped", None
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayActorError, ray.exceptions.ActorDiedError):
            if job.stop_event.is_set():
                return "stopped", None
            return "failed", ("The Ray worker running this job stopped unexpectedly (it may have run out of "
                              "memory); nothing was saved. Start it again.")
        except Exception:  # noqa: BLE001 - a timeout, a lost connection: the cluster went away
            return ("stopped", None) if job.stop_event.is_set() else ("failed", GONE)
        finally:
            with self._lock:
                self._mailboxes.pop(job.token, None)
            try:
                ray.kill(mailbox)
            except Exception:  # noqa: BLE001 - gone with the cluster
                pass

    def stop(self, job) -> None:
        with self._lock:
            mailbox = self._mailboxes.get(job.token)
        if mailbox is not None:
            try:
                mailbox.stop.remote()
            except Exception:  # noqa: BLE001 - the run loop says what happened
                pass

    def has_gpu(self) -> bool:
        try:
            return self.ray.cluster_resources().get("GPU", 0) > 0
        except Exception:  # noqa: BLE001
            return False

    def close(self) -> None:
        try:
            self.ray.shutdown()
        except Exception:  # noqa: BLE001
            pass
