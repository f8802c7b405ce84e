import streamlit as st
import torch

from encdec import latent, transfer
from encdec.checkpoint import CheckpointError
from encdec.data import class_names
from encdec.imaging import grid
from encdec.ui import charts
from encdec.ui.common import all_models, dataset, free_name, model_of, page, png, select_model, t, user_store

info = page("page_transfer", "transfer_intro", markdown=True)
data_name = info.config.dataset
data = dataset(data_name)
models = all_models()[0]
names = class_names(data_name)
of_kind = lambda kind: [n for n, i in models.items() if i.config.kind == kind and i.config.dataset == data_name]
results = st.session_state.setdefault("transfer", {})


def save(model, name: str) -> None:
    try:
        saved = free_name(name)
        user_store().save(model, saved)
    except CheckpointError as e:
        st.error(str(e))
        return
    select_model(saved)
    st.success(t("transfer_saved", name=saved))


def progress_bar():
    bar = st.progress(0.0)
    return lambda fraction, message="": bar.progress(min(1.0, fraction), text=message)


# -- 1. a linear probe on an autoencoder's code --------------------------------------------------
st.subheader(t("probe_title"))
st.caption(t("probe_help"))
aes = of_kind("autoencoder")
if aes:
    ae_name = st.selectbox(t("probe_source"), aes, key="probe_ae", index=aes.index(info.name) if info.name in aes else 0)
    if st.button(t("probe_run"), type="primary"):
        report = progress_bar()
        rows = transfer.linear_probe(model_of(models[ae_name]), data, callback=report)
        results["probe"] = (ae_name, rows)
    if "probe" in results and results["probe"][0] == ae_name:
        rows = results["probe"][1]
        k = models[ae_name].config.code_dim
        st.dataframe([{t("probe_labels"): r["labels_per_class"] or t("probe_all"), t("probe_train_size"): r["train_size"],
                       t("probe_code", k=k): f"{r['code']:.1%}", t("probe_pixels"): f"{r['pixels']:.1%}",
                       t("probe_pca", k=k): f"{r['pca']:.1%}"} for r in rows], hide_index=True)
        st.plotly_chart(charts.probe_curves(rows, {"code": t("probe_code", k=k), "pixels": t("probe_pixels"),
                                                   "pca": t("probe_pca", k=k)}, t("probe_train_size"), t("metric_accuracy")),
                        key="probe_chart")
        per_class = st.select_slider(t("probe_save_labels"), transfer.LABELS_PER_CLASS,
                                     format_func=lambda n: str(n) if n else t("probe_all"), key="probe_save_n")
        if st.button(t("probe_save")):
            probe = transfer.probe_model(model_of(models[ae_name]), data, per_class=per_class, source_name=ae_name)
            save(probe, f"{ae_name}-probe-{per_class or 'all'}")
else:
    st.info(t("transfer_need_ae"))

# -- 2. a new decoder on a classifier's code -----------------------------------------------------
st.subheader(t("decoder_title"))
st.caption(t("decoder_help"))
clfs = of_kind("classifier")
if not clfs:
    st.info(t("transfer_need_clf"))
    st.stop()
c1, c2, c3, c4 = st.columns(4)
clf_name = c1.selectbox(t("decoder_source"), clfs, key="dec_clf")
decoder = c2.radio(t("train_decoder"), ["deconv", "mlp"], format_func=lambda d: t(f"dec_{d}"), key="dec_kind")
epochs = c3.number_input(t("train_epochs"), 1, 10, 2, key="dec_epochs")
size = c4.select_slider(t("train_size"), [5000, 10000, 20000, 55000], 20000, format_func=lambda n: f"{n:,}", key="dec_size")
clf_info = models[clf_name]
k = clf_info.config.code_dim
partners = [n for n in of_kind("autoencoder") if models[n].config.code_dim == k]
if st.button(t("decoder_run"), type="primary"):
    report = progress_bar()
    model = transfer.decoder_from_classifier(
        model_of(clf_info), data, decoder=decoder, epochs=int(epochs), limit=size, source_name=clf_name,
        callback=lambda p: report(p.fraction, t("train_running", epoch=p.epoch, epochs=p.epochs)))
    results["decoder"] = (clf_name, model)
if "decoder" in results and results["decoder"][0] == clf_name:
    model = results["decoder"][1]
    x = data.test.floats(slice(0, 12))
    rows = [x[:, 0], latent.render(model, latent.encode(model, x))]
    table = [{t("col_model"): t("decoder_from_clf", name=clf_name), t("metric_mse"): f"{model.meta['metrics']['mse']:.4f}"}]
    captions = [t("input"), t("decoder_from_clf", name=clf_name)]
    if partners:
        ae = model_of(models[partners[0]])
        rows.append(latent.render(ae, latent.encode(ae, x)))
        table.append({t("col_model"): partners[0], t("metric_mse"): f"{models[partners[0]].metrics['mse']:.4f}"})
        captions.append(partners[0])
    st.dataframe(table, hide_index=True)
    for image_row, caption in zip(rows, captions):
        st.image(png(grid(image_row[None], pad=1), 3), caption=caption)
    st.caption(t("decoder_story"))
    if st.button(t("decoder_save")):
        save(model, f"{clf_name}-{decoder}-decoder")
