import math

import streamlit as st
import torch

from encdec import CODE_DIM_RANGE, KINDS, ModelConfig, TrainConfig, build
from encdec.data import DATASET_TITLES
from encdec.imaging import grid
from encdec.jobs import Job
from encdec.nets import DECODERS, ENCODERS
from encdec.train import EPOCHS_RANGE, estimate_seconds
from encdec.ui import charts
from encdec.ui.common import dataset, free_name, job_queue, page, parts_label, png, select_model, t, user_store
from encdec.urlstate import parse_bounded_int

SIZES = [1000, 2000, 5000, 10000, 20000, 55000]
SHORT = {"autoencoder": "ae", "vae": "vae", "classifier": "clf"}
RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2]

page("page_train", "train_intro", needs_model=False)
data_name = st.session_state.get("data", "mnist")


@st.cache_data(show_spinner=False, max_entries=64)
def estimate(config: dict, epochs: int, size: int) -> float:
    return estimate_seconds(build(ModelConfig(**config)), TrainConfig(epochs=epochs, limit=size), size)


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def url_int(key, lo, hi, what, default):
    """A setting from the link, once per session; out-of-range values get one sentence."""
    if f"_{key}_read" not in st.session_state:
        st.session_state[f"_{key}_read"] = True
        try:
            value = parse_bounded_int(st.query_params.get(key), lo, hi, what)
        except ValueError as e:
            st.warning(str(e))
            value = None
        st.session_state[key] = value if value is not None else default
    return st.session_state[key]


@st.fragment(run_every=1.0)
def show_job():
    job: Job = st.session_state["job"]
    if job.status == "queued":
        st.info(t("train_queued", place=max(1, job_queue().place(job))))
    p = job.progress
    if p is not None:
        st.progress(min(1.0, p.fraction), text=t("train_running", epoch=p.epoch, epochs=p.epochs))
        st.caption(t("train_elapsed", elapsed=duration(p.elapsed), remaining=duration(p.remaining)))
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(charts.loss_curve(job.curve, p.epochs, t("train_curve_train"), t("train_curve_val"),
                                              t("train_step_axis"), t("train_curve")), key="curve")
        if job.preview is not None:
            inputs = dataset(job.config.dataset).test.floats(slice(0, len(job.preview)))[:, 0]
            with right:
                st.caption(t("train_preview"))
                if job.config.kind == "classifier":
                    st.image(png(grid(inputs[None]), 3))
                    st.write(" ".join(str(int(i)) for i in job.preview.argmax(1)))
                else:
                    st.image(png(grid(torch.stack([inputs, job.preview])), 3))
    if not job.finished:
        if st.button(t("train_stop"), type="secondary"):
            job.stop()
    else:
        st.rerun()


job = st.session_state.get("job")
if job is not None and not job.finished:
    show_job()
    st.stop()
if job is not None:
    if job.status == "done" and st.session_state.get("selected_job") is not job:
        st.session_state["selected_job"] = job  # the new model becomes current, once
        select_model(job.saved_as)
        st.rerun()
    if job.status == "done":
        st.success(t("train_done", name=job.saved_as))
    elif job.status == "stopped":
        st.warning(t("train_stopped"))
    else:
        st.error(t("train_failed", error=job.error))

st.caption(f"{t('dataset')}: {DATASET_TITLES[data_name]}")
kind = st.segmented_control(t("train_kind"), KINDS, format_func=lambda k: t(f"kind_{k}"), default="autoencoder",
                            key="kind") or "autoencoder"
c1, c2 = st.columns(2)
encoder = c1.selectbox(t("train_encoder"), ENCODERS, format_func=lambda e: t(f"enc_{e}"), key="encoder")
decoder = None
if kind != "classifier":
    decoder = c2.selectbox(t("train_decoder"), DECODERS, format_func=lambda d: t(f"dec_{d}"), key="decoder")
lo, hi = CODE_DIM_RANGE
url_int("code", lo, hi, "code size", 16)
url_int("epochs", *EPOCHS_RANGE, "epoch count", 3)
code_dim = c1.slider(t("train_code"), lo, hi, key="code")
epochs = c2.number_input(t("train_epochs"), min_value=EPOCHS_RANGE[0], max_value=EPOCHS_RANGE[1], key="epochs")
lr = c1.select_slider(t("train_lr"), RATES, value=2e-3 if encoder == "mlp" else 3e-3, format_func=lambda r: f"{r:g}")
size = c2.select_slider(t("train_size"), SIZES, value=10000, format_func=lambda n: f"{n:,}")
st.query_params.update(code=str(code_dim), epochs=str(epochs))

config = ModelConfig(kind=kind, encoder=encoder, decoder=decoder, code_dim=code_dim, dataset=data_name)
name = st.text_input(t("train_name"), value=f"my-{data_name}-{encoder}-{SHORT[kind]}-{code_dim}", max_chars=60)
params = build(config).num_parameters()
seconds = estimate(config.to_dict(), int(epochs), size)
m1, m2, m3 = st.columns(3)
m1.metric(t("train_params"), f"{params:,}")
m2.metric(t("train_estimate"), duration(seconds), help=t("train_estimate_help"))
m3.metric(t("card_parts"), parts_label(config))
st.caption(t(f"train_loss_note_{kind}"))

if st.button(t("train_start"), type="primary", key="start_training"):
    train_config = TrainConfig(epochs=int(epochs), lr=lr, limit=size,
                               augment=(kind == "classifier"))
    job = Job(config, train_config, free_name(name))
    st.session_state["job"] = job_queue().submit(job, dataset(data_name), user_store())
    st.rerun()
