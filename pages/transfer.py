import streamlit as st

from encdec import engine, jobs, latent, transfer
from encdec.data import class_names
from encdec.imaging import grid
from encdec.ui import cache, charts, progress, state, visitor
from encdec.ui.common import cannot_save, job_of, job_size, models_of, option_labels, owner, page, png, submit, t
from encdec.ui.state import Key

info = page("page_transfer", "transfer_intro", markdown=True)
data_name = info.config.dataset
names = class_names(data_name)


def show(slot: str, done_key: str | None):
    """A job of this page: live progress (and Stop) while it runs, one sentence when it has ended."""
    job = job_of(slot)
    if job is not None and not job.finished:
        progress.watch(job, Key.job_view(slot), data_name, names)
    elif job is not None:
        progress.adopt(job)
        progress.outcome(job, done_key)
    return job


def busy(slot: str) -> bool:
    job = job_of(slot)
    return job is not None and not job.finished


# -- 1. a linear probe on an autoencoder's code --------------------------------------------------
st.subheader(t("probe_title"))
st.caption(t("probe_help"))
aes = models_of("autoencoder", data_name)
if aes:
    ae_names = list(aes)
    ae_name = st.selectbox(t("probe_source"), ae_names, key=Key.PROBE_SOURCE,
                           index=ae_names.index(info.ref) if info.ref in ae_names else 0)
    ae_info = aes[ae_name]
    if st.button(t("probe_run"), type="primary", disabled=busy("probe"), key=Key.PROBE_RUN):
        state.put("probe_of", ae_name)
        submit("probe", 0, lambda held: jobs.probe(engine.shared(), ae_info.path, owner=owner()))
    probe = show("probe", None)
    if probe is not None and probe.status == "done" and state.get("probe_of") == ae_name:
        rows, k = probe.result, ae_info.config.code_dim
        st.dataframe([{t("probe_labels"): r["labels_per_class"] or t("probe_all"), t("probe_train_size"): r["train_size"],
                       t("probe_code", k=k): f"{r['code']:.1%}", t("probe_pixels"): f"{r['pixels']:.1%}",
                       t("probe_pca_column", k=k): f"{r['pca']:.1%}"} for r in rows], hide_index=True)
        st.plotly_chart(charts.probe_curves(rows, {"code": t("probe_code", k=k), "pixels": t("probe_pixels"),
                                                   "pca": t("probe_pca_column", k=k)}, t("probe_train_size"), t("metric_accuracy")),
                        key="probe_chart")
        per_class = st.select_slider(t("probe_save_labels"), transfer.LABELS_PER_CLASS,
                                     format_func=lambda n: str(n) if n else t("probe_all"), key=Key.PROBE_LABELS)
        blocked = cannot_save(job_size(ae_info.config), job=True)
        if blocked:
            st.info(blocked)
        if st.button(t("probe_save"), disabled=blocked is not None or busy("probe_model"), key=Key.PROBE_SAVE):
            submit("probe_model", job_size(ae_info.config),
                   lambda held: jobs.probe_model(engine.shared(), ae_info.path, per_class, visitor.my_store(),
                                                 f"{ae_name}-probe-{per_class or 'all'}", ae_name, owner=owner(),
                                                 reservation=held))
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
clf_name = c1.selectbox(t("decoder_source"), list(clfs), key=Key.DECODER_SOURCE)
decoder = c2.radio(t("train_decoder"), ["deconv", "mlp"], format_func=option_labels("dec_"), key=Key.DECODER_KIND)
epochs = c3.number_input(t("train_epochs"), 1, 10, 2, key=Key.DECODER_EPOCHS)
size = c4.select_slider(t("train_size"), [5000, 10000, 20000, 55000], 20000, format_func=lambda n: f"{n:,}",
                        key=Key.DECODER_SIZE)
clf_info = clfs[clf_name]
blocked = cannot_save(job_size(clf_info.config, 3), job=True)  # a decoder: a few times the head's size
if blocked and not busy("decoder"):
    st.info(blocked)
if st.button(t("decoder_run"), type="primary", disabled=busy("decoder") or blocked is not None, key=Key.DECODER_RUN):
    submit("decoder", job_size(clf_info.config, 3),
           lambda held: jobs.new_decoder(engine.shared(), clf_info.path, decoder, int(epochs), size, visitor.my_store(),
                                         f"{clf_name.removeprefix('class:')}-{decoder}-decoder", clf_name, owner=owner(),
                                         reservation=held))
done = show("decoder", "transfer_saved")
if done is not None and done.status == "done":
    new = models_of("autoencoder", data_name).get(done.result)
    if new is not None:
        model = cache.model(new)
        x = cache.split(data_name, "test").floats(slice(0, 12))
        rows = [x[:, 0], latent.decode(model, latent.encode(model, x))]
        table = [{t("col_model"): t("decoder_from_clf", name=new.name), t("metric_mse"): f"{new.metrics['mse']:.4f}"}]
        captions = [t("input"), t("decoder_from_clf", name=new.name)]
        partners = models_of("autoencoder", data_name, new.config.code_dim)
        partners.pop(new.ref, None)
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
