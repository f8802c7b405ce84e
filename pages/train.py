import streamlit as st
import torch

from encdec import CODE_DIM_RANGE, KINDS, ModelConfig, TrainConfig, jobs
from encdec.augment import DIGITS_ONLY, PRESETS
from encdec.store import name_problem
from encdec.data import DATASET_TITLES, class_names
from encdec.imaging import grid
from encdec.models import ConfigError
from encdec.nets import DECODERS, ENCODERS
from encdec.train import EPOCHS_RANGE, TrainingError, default_settings
from encdec.ui import cache, charts
from encdec.ui.common import cannot_train, job_queue, my_store, option_labels, owner, page, parts_label, png, t
from encdec.ui.progress import adopt, duration, live, outcome
from encdec.urlstate import LinkError, parse_bounded_int

SIZES = [1000, 2000, 5000, 10000, 20000, 55000]
SHORT = {"autoencoder": "ae", "vae": "vae", "classifier": "clf"}
RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2]

page("page_train", "train_intro", needs_model=False)
data_name = st.session_state.get("data", "mnist")


def url_int(key, lo, hi, what, default):
    """A setting from the link, once per session; out-of-range values get one sentence."""
    if f"_{key}_read" not in st.session_state:
        st.session_state[f"_{key}_read"] = True
        try:
            value = parse_bounded_int(st.query_params.get(key), lo, hi, t(what))
        except LinkError as e:
            st.warning(t(f"link_{e.key}", **e.values))
            value = None
        st.session_state[key] = value if value is not None else default
    return st.session_state[key]


def curves_and_preview(job) -> None:
    """The loss curves, the code space as it forms, and a few test digits with what the model makes of them now."""
    if not job.curve:
        return
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(charts.loss_curve(job.curve, job.train_config.epochs, t("train_curve_train"), t("train_curve_val"),
                                          t("train_step_axis"), t("train_curve")), key="curve")
        if job.recorder is not None and job.recorder.frames:
            frame = job.recorder.frames[-1]
            st.plotly_chart(charts.code_space(frame, job.recorder.labels, class_names(job.config.dataset),
                                              t("frames_title", epoch=frame.epoch, loss=frame.loss)), key="code_space")
            st.caption(t("frames_help", n=len(job.recorder.labels)))
    if job.preview is not None:
        inputs = cache.dataset(job.config.dataset).test.floats(slice(0, len(job.preview)))[:, 0]
        with right:
            st.caption(t("train_preview"))
            if job.config.kind == "classifier":
                st.image(png(grid(inputs[None]), 3))
                st.write(" ".join(str(int(i)) for i in job.preview.argmax(1)))
            else:
                st.image(png(grid(torch.stack([inputs, job.preview])), 3))


job = st.session_state.get("job")
if job is not None and not job.finished:
    live(job, curves_and_preview)
    st.stop()
if job is not None:
    adopt(job)
    outcome(job, "train_done")

st.caption(f"{t('dataset')}: {DATASET_TITLES[data_name]}")
kind = st.segmented_control(t("train_kind"), KINDS, format_func=option_labels("kind_"), default="autoencoder",
                            key="kind") or "autoencoder"
c1, c2 = st.columns(2)
encoder = c1.selectbox(t("train_encoder"), ENCODERS, format_func=option_labels("enc_"), key="encoder")
decoder = None
if kind != "classifier":
    decoder = c2.selectbox(t("train_decoder"), DECODERS, format_func=option_labels("dec_"), key="decoder")
lo, hi = CODE_DIM_RANGE
url_int("code", lo, hi, "setting_code", 16)
url_int("epochs", *EPOCHS_RANGE, "setting_epochs", 3)
defaults = default_settings(kind, encoder, data_name)
code_dim = c1.slider(t("train_code"), lo, hi, key="code")
epochs = c2.number_input(t("train_epochs"), min_value=EPOCHS_RANGE[0], max_value=EPOCHS_RANGE[1], key="epochs")
lr = c1.select_slider(t("train_lr"), RATES, value=defaults["lr"], format_func=lambda r: f"{r:g}")
size = c2.select_slider(t("train_size"), SIZES, value=10000, format_func=lambda n: f"{n:,}")
presets = [p for p in PRESETS if data_name == "mnist" or p not in DIGITS_ONLY]
augment = c1.selectbox(t("train_augment"), presets, index=presets.index(defaults["augment"]),
                       format_func=option_labels("augment_"), key=f"augment_{kind}_{data_name}", help=t("train_augment_help"))
st.query_params.update(code=str(code_dim), epochs=str(epochs))

suggested = f"my-{data_name}-{encoder}-{SHORT[kind]}-{code_dim}"
if st.session_state.get("train_name") in (None, st.session_state.get("_suggested_name")):
    st.session_state["train_name"] = suggested  # the name follows the settings until the user types one
st.session_state["_suggested_name"] = suggested
name = st.text_input(t("train_name"), max_chars=80, key="train_name")
problem = name_problem(name)
if problem:
    st.warning(t(f"name_{problem}"))
try:
    config = ModelConfig(kind=kind, encoder=encoder, decoder=decoder, code_dim=code_dim, dataset=data_name)
except ConfigError as e:
    st.warning(str(e))
    st.stop()
m1, m2, m3 = st.columns(3)
m1.metric(t("train_params"), f"{config.num_parameters():,}")
m2.metric(t("train_estimate"), duration(cache.time_estimate(config, int(epochs), size)), help=t("train_estimate_help"))
m3.metric(t("card_parts"), parts_label(config))
st.caption(t(f"train_loss_note_{kind}"))

blocked = cannot_train(config)
if blocked:
    st.info(blocked)
if st.button(t("train_start"), type="primary", key="start_training", disabled=problem is not None or blocked is not None):
    try:
        train_config = TrainConfig(epochs=int(epochs), lr=lr, limit=size, augment=augment)
    except TrainingError as e:
        st.warning(str(e))
        st.stop()
    job = jobs.training(config, train_config, cache.dataset(data_name), my_store(), name.strip(), owner=owner())
    st.session_state["job"] = job_queue().submit(job)
    st.rerun()
