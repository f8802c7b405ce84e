import streamlit as st

from encdec import jobs, latent, transfer
from encdec.data import class_names
from encdec.imaging import grid
from encdec.ui import cache, charts
from encdec.ui.common import cannot_train, job_queue, models_of, my_store, option_labels, owner, page, png, t
from encdec.ui.progress import adopt, live, outcome

info = page("page_transfer", "transfer_intro", markdown=True)
data_name = info.config.dataset
data = cache.dataset(data_name)
names = class_names(data_name)
running = st.session_state.setdefault("transfer_jobs", {})  # "probe" | "probe_model" | "decoder" -> Job


def start(slot: str, job: jobs.Job) -> None:
    job.owner = owner()
    running[slot] = job_queue().submit(job)
    st.rerun()


def show(slot: str, done_key: str | None) -> jobs.Job | None:
    """A job of this page: live progress (and Stop) while it runs, one sentence when it has ended."""
    job = running.get(slot)
    if job is not None and not job.finished:
        live(job)
    elif job is not None:
        adopt(job)
        outcome(job, done_key)
    return job


# -- 1. a linear probe on an autoencoder's code --------------------------------------------------
st.subheader(t("probe_title"))
st.caption(t("probe_help"))
aes = list(models_of("autoencoder", data_name))
if aes:
    ae_name = st.selectbox(t("probe_source"), aes, key="probe_ae", index=aes.index(info.name) if info.name in aes else 0)
    ae_info = models_of("autoencoder", data_name)[ae_name]
    busy = running.get("probe") is not None and not running["probe"].finished
    if st.button(t("probe_run"), type="primary", disabled=busy):
        st.session_state["probe_of"] = ae_name
        start("probe", jobs.linear_probe(cache.model(ae_info), data))
    probe = show("probe", None)
    if probe is not None and probe.status == "done" and st.session_state.get("probe_of") == ae_name:
        rows, k = probe.result, ae_info.config.code_dim
        st.dataframe([{t("probe_labels"): r["labels_per_class"] or t("probe_all"), t("probe_train_size"): r["train_size"],
                       t("probe_code", k=k): f"{r['code']:.1%}", t("probe_pixels"): f"{r['pixels']:.1%}",
                       t("probe_pca", k=k): f"{r['pca']:.1%}"} for r in rows], hide_index=True)
        st.plotly_chart(charts.probe_curves(rows, {"code": t("probe_code", k=k), "pixels": t("probe_pixels"),
                                                   "pca": t("probe_pca", k=k)}, t("probe_train_size"), t("metric_accuracy")),
                        key="probe_chart")
        per_class = st.select_slider(t("probe_save_labels"), transfer.LABELS_PER_CLASS,
                                     format_func=lambda n: str(n) if n else t("probe_all"), key="probe_save_n")
        blocked = cannot_train(ae_info.config)
        if blocked:
            st.info(blocked)
        if st.button(t("probe_save"), disabled=blocked is not None):
            start("probe_model", jobs.probe_model(cache.model(ae_info), data, per_class, my_store(),
                                                  f"{ae_name}-probe-{per_class or 'all'}", ae_name))
        show("probe_model", "transfer_saved")
else:
    st.info(t("transfer_need_ae"))

# -- 2. a new decoder on a classifier's code -----------------------------------------------------
st.subheader(t("decoder_title"))
st.caption(t("decoder_help"))
clfs = models_of("classifier", data_name)
if not clfs:
    st.info(t("transfer_need_clf"))
    st.stop()
c1, c2, c3, c4 = st.columns(4)
clf_name = c1.selectbox(t("decoder_source"), list(clfs), key="dec_clf")
decoder = c2.radio(t("train_decoder"), ["deconv", "mlp"], format_func=option_labels("dec_"), key="dec_kind")
epochs = c3.number_input(t("train_epochs"), 1, 10, 2, key="dec_epochs")
size = c4.select_slider(t("train_size"), [5000, 10000, 20000, 55000], 20000, format_func=lambda n: f"{n:,}", key="dec_size")
clf_info = clfs[clf_name]
busy = running.get("decoder") is not None and not running["decoder"].finished
blocked = cannot_train(clf_info.config, times=3)  # a decoder: a few times the head's size
if blocked and not busy:
    st.info(blocked)
if st.button(t("decoder_run"), type="primary", disabled=busy or blocked is not None):
    start("decoder", jobs.new_decoder(cache.model(clf_info), data, decoder, int(epochs), size, my_store(),
                                      f"{clf_name}-{decoder}-decoder", clf_name))
done = show("decoder", "transfer_saved")
if done is not None and done.status == "done":
    new = models_of("autoencoder", data_name).get(done.result)
    if new is not None:
        model = cache.model(new)
        x = data.test.floats(slice(0, 12))
        rows = [x[:, 0], latent.decode(model, latent.encode(model, x))]
        table = [{t("col_model"): t("decoder_from_clf", name=new.name), t("metric_mse"): f"{new.metrics['mse']:.4f}"}]
        captions = [t("input"), t("decoder_from_clf", name=new.name)]
        partners = models_of("autoencoder", data_name, new.config.code_dim)
        partners.pop(new.name, None)
        if partners:
            name, partner = next(iter(partners.items()))
            ae = cache.model(partner)
            rows.append(latent.decode(ae, latent.encode(ae, x)))
            table.append({t("col_model"): name, t("metric_mse"): f"{partner.metrics['mse']:.4f}"})
            captions.append(name)
        st.dataframe(table, hide_index=True)
        for image_row, caption in zip(rows, captions):
            st.image(png(grid(image_row[None], pad=1), 3), caption=caption)
        st.caption(t("decoder_story"))
