import streamlit as st

from encdec import CODE_DIM_RANGE, KINDS, ModelConfig, TrainConfig, engine, jobs
from encdec.augment import DIGITS_ONLY, PRESETS
from encdec.data import DATASET_TITLES, class_names
from encdec.models import ConfigError
from encdec.nets import DECODERS, ENCODERS
from encdec.store import name_problem
from encdec.train import EPOCHS_RANGE, TrainingError, default_settings
from encdec.ui import cache, progress, state, visitor
from encdec.ui.common import cannot_save, job_of, job_size, option_labels, owner, page, parts_label, submit, t
from encdec.ui.progress import duration
from encdec.ui.state import Key, Link
from encdec.urlstate import LinkError, parse_bounded_int

SIZES = [1000, 2000, 5000, 10000, 20000, 55000]
SHORT = {"autoencoder": "ae", "vae": "vae", "classifier": "clf"}
RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2]

page("page_train", "train_intro", needs_model=False)
data_name = st.session_state.get(Key.DATA, "mnist")


def link_int(key, lo, hi, what, default):
    """A setting from the link, once per session; out-of-range values get one sentence."""
    seen = state.once("seen_link", set())
    if key not in seen:
        seen.add(key)
        try:
            value = parse_bounded_int(state.link(key), lo, hi, t(what))
        except LinkError as e:
            st.warning(t(f"link_{e.key}", **e.values))
            value = None
        st.session_state[key] = value if value is not None else default
    return st.session_state[key]


job = job_of("train")
if job is not None and not job.finished:
    progress.watch(job, Key.job_view("train"), job.spec.params["config"]["dataset"],
                   class_names(job.spec.params["config"]["dataset"]))
    st.stop()
if job is not None:
    progress.adopt(job)
    progress.outcome(job, "train_done")

st.caption(f"{t('dataset')}: {DATASET_TITLES[data_name]}")
kind = st.segmented_control(t("train_kind"), KINDS, format_func=option_labels("kind_"), default="autoencoder",
                            key=Key.TRAIN_KIND) or "autoencoder"
c1, c2 = st.columns(2)
encoder = c1.selectbox(t("train_encoder"), ENCODERS, format_func=option_labels("enc_"), key=Key.TRAIN_ENCODER)
decoder = None
if kind != "classifier":
    decoder = c2.selectbox(t("train_decoder"), DECODERS, format_func=option_labels("dec_"), key=Key.TRAIN_DECODER)
lo, hi = CODE_DIM_RANGE
link_int(Link.CODE_DIM, lo, hi, "setting_code", 16)
link_int(Link.EPOCHS, *EPOCHS_RANGE, "setting_epochs", 3)
defaults = default_settings(kind, encoder, data_name)
code_dim = c1.slider(t("train_code"), lo, hi, key=Key.TRAIN_CODE)
epochs = c2.number_input(t("train_epochs"), min_value=EPOCHS_RANGE[0], max_value=EPOCHS_RANGE[1], key=Key.TRAIN_EPOCHS)
lr = c1.select_slider(t("train_lr"), RATES, value=defaults["lr"], format_func=lambda r: f"{r:g}", key=Key.TRAIN_LR)
size = c2.select_slider(t("train_size"), SIZES, value=10000, format_func=lambda n: f"{n:,}", key=Key.TRAIN_SIZE)
presets = [p for p in PRESETS if data_name == "mnist" or p not in DIGITS_ONLY]
augment = c1.selectbox(t("train_augment"), presets, index=presets.index(defaults["augment"]),
                       format_func=option_labels("augment_"), key=Key.augment(kind, data_name), help=t("train_augment_help"))
gpu = engine.started() and engine.shared().backend.has_gpu() and c2.checkbox(t("train_gpu"), key=Key.TRAIN_GPU)
state.set_link(**{Link.CODE_DIM: code_dim, Link.EPOCHS: epochs})

suggested = f"my-{data_name}-{encoder}-{SHORT[kind]}-{code_dim}"
if st.session_state.get(Key.TRAIN_NAME) in (None, state.get("suggested_name")):
    st.session_state[Key.TRAIN_NAME] = suggested  # the name follows the settings until the user types one
state.put("suggested_name", suggested)
name = st.text_input(t("train_name"), max_chars=80, key=Key.TRAIN_NAME)
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

blocked = cannot_save(job_size(config), job=True)
if blocked:
    st.info(blocked)
if st.button(t("train_start"), type="primary", key=Key.TRAIN_START, disabled=problem is not None or blocked is not None):
    try:
        train_config = TrainConfig(epochs=int(epochs), lr=lr, limit=size, augment=augment)
    except TrainingError as e:
        st.warning(str(e))
        st.stop()
    submit("train", job_size(config), lambda held: jobs.train(engine.shared(), config, train_config, visitor.my_store(),
                                                              name.strip(), owner=owner(), reservation=held, gpu=bool(gpu)))
