import streamlit as st
import torch

from encdec import latent
from encdec.data import class_names
from encdec.imaging import grid
from encdec.projection import MapSettings, knn_accuracy
from encdec.ui import charts
from encdec.ui.common import (all_models, latent_map, map_is_ready, model_of, page, png, probability_chart,
                              split_codes, split_of, t)

info = page("page_classifier", "clf_intro", markdown=True)
dataset_name = info.config.dataset
models = all_models()[0]
classifiers = [n for n, i in models.items() if i.config.kind == "classifier" and i.config.dataset == dataset_name]
if not classifiers:
    st.info(t("clf_none"))
    st.stop()
name = st.selectbox(t("page_classifier"), classifiers, key="clf_model",
                    index=classifiers.index(info.name) if info.name in classifiers else 0)
clf_info = models[name]
clf = model_of(clf_info)
names = class_names(dataset_name)
test = split_of(clf_info, "test")
k = clf.config.code_dim

# -- the split: encoder = layers 1..n-1, decoder = layer n --------------------------------
st.subheader(t("clf_split"))
st.graphviz_chart(charts.architecture(latent.layers(clf.encoder), k, clf.num_parameters("decoder"),
                                      t("clf_encoder_part", n=clf.num_parameters("encoder")),
                                      t("clf_decoder_part", n=clf.num_parameters("decoder"))))
st.caption(t("clf_loss"))

# -- one test digit ------------------------------------------------------------------------
st.subheader(t("clf_one"))
i = st.number_input(t("start_index"), 0, len(test) - 1, 0, key="clf_index")
x = test.floats(int(i))
code = latent.encode(clf, x)
logits = latent.logits(clf, code)[0]
a, b, c, d = st.columns([1, 2, 2, 2])
a.image(png(x[0, 0], 4), caption=f"{t('input')}: {names[int(test.labels[i])]}")
b.caption(t("home_code", k=k))
b.plotly_chart(charts.code_bars(code[0]), key="clf_code")
c.caption(t("clf_logits"))
c.plotly_chart(charts.code_bars(logits), key="clf_logits")
with d:
    st.caption(t("probabilities"))
    probability_chart(torch.softmax(logits, 0), names)

# -- confusion matrix -----------------------------------------------------------------------
st.subheader(t("clf_confusion"))


@st.cache_data(show_spinner=False, max_entries=8)
def predicted(path: str, mtime: float) -> torch.Tensor:
    return latent.predictions(clf, test)


pred = predicted(str(clf_info.path), clf_info.path.stat().st_mtime)
matrix = latent.confusion_matrix(test.labels, pred)
st.caption(t("clf_accuracy", acc=float((pred == test.labels).float().mean()), wrong=int((pred != test.labels).sum())))
event = st.plotly_chart(charts.confusion(matrix.tolist(), names, t("clf_predicted"), t("clf_true")),
                        on_select="rerun", selection_mode="points", key="clf_matrix")
points = event.selection.points if event else []
worst = int((matrix - torch.diag(torch.diag(matrix))).argmax())  # the most frequent mistake is shown first
st.session_state.setdefault("clf_true", worst // 10)
st.session_state.setdefault("clf_pred", worst % 10)
c1, c2 = st.columns(2)
clicked = (str(points[0]["y"]), str(points[0]["x"])) if points else None
if clicked and clicked != st.session_state.get("clf_clicked"):  # a newly clicked cell picks the pair
    st.session_state["clf_clicked"] = clicked
    st.session_state["clf_true"], st.session_state["clf_pred"] = (names.index(c) for c in clicked)
true_c = c1.selectbox(t("clf_true"), range(10), format_func=lambda c: names[c], key="clf_true")
pred_c = c2.selectbox(t("clf_predicted"), range(10), format_func=lambda c: names[c], key="clf_pred")
cell = torch.nonzero((test.labels == true_c) & (pred == pred_c)).flatten()[:40]
st.caption(t("clf_cell", n=int(matrix[true_c, pred_c]), true=names[true_c], pred=names[pred_c]))
if len(cell):
    st.image(png(grid(test.floats(cell)[None, :, 0], pad=1), 3))

# -- the classifier's code next to an autoencoder's -----------------------------------------
st.subheader(t("clf_maps"))
st.caption(t("clf_maps_help"))
autoencoders = [n for n, i in models.items() if i.config.kind == "autoencoder" and i.config.dataset == dataset_name
                and i.config.code_dim == k]
if not autoencoders:
    st.stop()
ae_name = st.selectbox(t("clf_ae"), autoencoders, key="clf_ae",
                       index=next((j for j, n in enumerate(autoencoders) if models[n].config.encoder == clf.config.encoder), 0))
ae_info = models[ae_name]
settings = MapSettings()
ready = map_is_ready(clf_info, "test", settings) and map_is_ready(ae_info, "test", settings)
if not ready and not st.button(t("draw_compute_map")):
    st.caption(t("clf_maps_hint"))
    st.stop()
labels = test.labels.numpy()
for col, which in zip(st.columns(2), (clf_info, ae_info)):
    with col, st.spinner(t("map_computing", n=len(test)), show_time=True):
        result = latent_map(which, "test", settings)
        st.markdown(f"**{which.name}**")
        st.plotly_chart(charts.latent_map(result.embedding, labels, names, height=420), key=f"clf_map_{which.name}")
        st.metric(t("map_knn_code"), f"{knn_accuracy(split_codes(which, 'test'), labels):.1%}")
