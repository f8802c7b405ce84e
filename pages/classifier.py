import streamlit as st
import torch

from encdec import latent, metrics
from encdec.data import class_names
from encdec.imaging import grid
from encdec.models import weight_layers
from encdec.projection import MapSettings
from encdec.ui import cache, charts, live, progress, state
from encdec.ui.common import models_of, owner, page, png, t
from encdec.ui.state import Key

info = page("page_classifier", "clf_intro", markdown=True)
dataset_name = info.config.dataset
classifiers = models_of("classifier", dataset_name)
if not classifiers:
    st.info(t("clf_none"))
    st.stop()
names_list = list(classifiers)
name = st.selectbox(t("page_classifier"), names_list, key=Key.CLF_MODEL,
                    index=names_list.index(info.ref) if info.ref in names_list else 0)
clf_info = classifiers[name]
clf = cache.model(clf_info)
names = class_names(dataset_name)
test = cache.split(dataset_name, "test")
k = clf.config.code_dim

# -- the split: encoder = layers 1..n-1, decoder = layer n --------------------------------
st.subheader(t("clf_split"))
st.graphviz_chart(charts.architecture(weight_layers(clf.encoder), clf.num_parameters("decoder"), {
    "encoder": t("clf_encoder_part", n=clf.num_parameters("encoder")),
    "decoder": t("clf_decoder_part", n=clf.num_parameters("decoder")),
    "input": t("arch_input"), "code": t("arch_code", k=k), "head": t("arch_head", k=k), "output": t("arch_output")}))
st.caption(t("clf_loss"))

# -- one test digit ------------------------------------------------------------------------
st.subheader(t("clf_one"))
i = int(st.number_input(t("start_index"), 0, len(test) - 1, 0, key=Key.CLF_INDEX))
x = test.floats(i)
code = latent.encode(clf, x)
logits = latent.logits(clf, code)[0]
a, b, c, d = st.columns([1, 2, 2, 2])
a.image(png(x[0, 0], 4), caption=f"{t('input')}: {names[int(test.labels[i])]}")
with b:
    live.view("clf-code", {"view": "bars", "values": [round(float(v), 4) for v in code[0]], "caption": t("home_code", k=k),
                           "width": 300})
with c:
    live.view("clf-logits", {"view": "bars", "values": [round(float(v), 4) for v in logits], "caption": t("clf_logits"),
                             "labels": list(names), "width": 300})
with d:
    st.caption(t("probabilities"))
    live.view("clf-probs", {"view": "probs", "probs": [round(float(v), 4) for v in torch.softmax(logits, 0)],
                            "classes": list(names)})

# -- confusion matrix -----------------------------------------------------------------------
st.subheader(t("clf_confusion"))
found, making = cache.digest(clf_info)
if found is None:
    progress.wait_for(making, "digest-clf", t("preparing_codes", n=len(test)))
pred = torch.from_numpy(found["predictions"].astype("int64"))
matrix = metrics.confusion_matrix(test.labels, pred)
st.caption(t("clf_accuracy", acc=metrics.accuracy(matrix), wrong=int(matrix.sum() - torch.diag(matrix).sum()), n=len(test)))
event = st.plotly_chart(charts.confusion(matrix.tolist(), names, t("clf_predicted"), t("clf_true")),
                        on_select="rerun", selection_mode="points", key=Key.CLF_MATRIX)
points = event.selection.points if event else []
worst_true, worst_pred = metrics.most_confused(matrix)  # the most frequent mistake is shown first
st.session_state.setdefault(Key.CLF_TRUE, worst_true)
st.session_state.setdefault(Key.CLF_PRED, worst_pred)
c1, c2 = st.columns(2)
clicked = (str(points[0]["y"]), str(points[0]["x"])) if points else None
if clicked and clicked != state.get("clf_clicked"):  # a newly clicked cell picks the pair
    state.put("clf_clicked", clicked)
    st.session_state[Key.CLF_TRUE], st.session_state[Key.CLF_PRED] = (names.index(v) for v in clicked)
true_c = c1.selectbox(t("clf_true"), range(10), format_func=lambda v: names[v], key=Key.CLF_TRUE)
pred_c = c2.selectbox(t("clf_predicted"), range(10), format_func=lambda v: names[v], key=Key.CLF_PRED)
cell = torch.nonzero((test.labels == true_c) & (pred == pred_c)).flatten()[:40]
st.caption(t("clf_cell", n=int(matrix[true_c, pred_c]), true=names[true_c], pred=names[pred_c]))
if len(cell):
    st.image(png(grid(test.floats(cell)[None, :, 0], pad=1), 3))

# -- the classifier's code next to an autoencoder's -----------------------------------------
st.subheader(t("clf_maps"))
st.caption(t("clf_maps_help"))
autoencoders = models_of("autoencoder", dataset_name, k)
if not autoencoders:
    st.caption(t("clf_no_partner", k=k))
    st.stop()
ae_names = list(autoencoders)
ae_name = st.selectbox(t("clf_ae"), ae_names, key=Key.CLF_AE,
                       index=next((j for j, n in enumerate(ae_names) if autoencoders[n].config.encoder == clf.config.encoder), 0))
for col, which in zip(st.columns(2), (clf_info, autoencoders[ae_name])):
    with col:
        shown, fitting = cache.map_now(which, "test", MapSettings(), owner())
        st.markdown(f"**{which.name}**" + (f" · {t('map_pca_for_now')}" if fitting else ""))
        if shown is None:
            st.caption(t("preparing_codes", n=len(test)))
            continue
        live.view(f"clf-map-{which.name}", {"view": "points", "blobs": {"map": cache.map_url(which, "test", shown)},
                                            "classes": list(names), "size": 420})
        if shown.quality:
            st.metric(t("map_knn_code"), f"{shown.quality['knn_code']:.1%}")
