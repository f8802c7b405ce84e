"""How a page shows a background job: place in the queue, progress, what is happening, Stop."""
from __future__ import annotations

import math

import streamlit as st

from ..jobs import Job
from ..train import Progress
from .common import job_queue, select_model, t


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def status_line(job: Job) -> None:
    """The queue place or the progress bar, with a sentence for the current stage, and Stop."""
    if job.status == "queued":
        st.info(t("train_queued", place=max(1, job_queue().place(job))))
    p = job.progress
    if isinstance(p, Progress):
        st.progress(min(1.0, p.fraction), text=t("train_running", epoch=p.epoch, epochs=p.epochs))
        st.caption(t("train_elapsed", elapsed=duration(p.elapsed), remaining=duration(p.remaining)))
    elif p is not None:
        st.progress(min(1.0, p.fraction), text=t(p.stage, **p.values))
    if not job.finished and st.button(t("train_stop"), type="secondary", key=f"stop-{id(job)}"):
        job.stop()


@st.fragment(run_every=1.0)
def live(job: Job, extra=None) -> None:
    """While `job` runs: its status redrawn every second (and `extra(job)` under it); once it has
    ended, the whole page runs again to show the result."""
    if job.finished:
        st.rerun()
    status_line(job)
    if extra is not None:
        extra(job)


def adopt(job: Job) -> None:
    """Make the model a finished job saved the current model, once."""
    seen = st.session_state.setdefault("adopted_jobs", set())
    if job.status == "done" and isinstance(job.result, str) and id(job) not in seen:
        seen.add(id(job))
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
