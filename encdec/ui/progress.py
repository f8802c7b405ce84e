"""How a page shows a job of the engine: the page's element watches it through the server's job route
(its place, progress, curves, preview, the code space forming, Stop) without any script run, and
tells Python once when it has ended, so the page can show what it made."""
from __future__ import annotations

import math

import streamlit as st

from ..engine import Job
from . import cache, live, state
from .common import select_model, t

STAGES = ("job_map", "job_digest", "job_saving", "map_encoding", "map_fitting", "probe_encoding", "probe_pca",
          "probe_fitting_code", "probe_fitting_pixels", "probe_fitting_pca")


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def watch(job: Job, key: str, dataset: str = "mnist", classes=()) -> None:
    """The job's live view; when the job has ended, the view makes the page run again once."""
    text = {k: t(v) for k, v in {"stop": "train_stop", "queued": "train_queued", "running": "train_running",
                                 "elapsed": "train_elapsed", "curve_train": "train_curve_train",
                                 "curve_val": "train_curve_val", "preview": "train_preview",
                                 "frame": "frames_title_template", "gone": "job_gone", "lost": "job_lost"}.items()}
    text["stages"] = {s: t(s) for s in STAGES}
    live.view(key, {"view": "job", "url": f"/encdec/job/{job.token}", "token": job.token,
                    "blobs": {"atlas": cache.atlas_url(dataset, "test")}, "classes": list(classes), "text": text},
              ended=None)


def adopt(job: Job) -> None:
    """Make the model a finished job saved the current model, once."""
    seen = state.once("adopted", set())
    if job.status == "done" and isinstance(job.result, str) and job.token not in seen:
        seen.add(job.token)
        select_model(job.result)
        st.rerun()


def outcome(job: Job, done_key: str | None) -> None:
    """One sentence for a finished job: done (with `done_key`, if any), stopped, or failed and why."""
    if job.status == "done":
        if done_key:
            st.success(t(done_key, name=job.result))
    elif job.status == "stopped":
        st.warning(t("train_stopped"))
    elif job.status == "failed":
        st.error(t("train_failed", error=job.error))


def wait_for(job: Job, key: str, message: str) -> None:
    """A page that cannot be shown before `job` (a digest, a map) has ended: one sentence, the job's view,
    and the page ends here; it runs again by itself when the job is done."""
    if job.status == "failed":
        st.error(t("train_failed", error=job.error))
        st.stop()
    st.info(message)
    watch(job, key)
    st.stop()
