import numpy as np
import streamlit as st
import torch

from encdec import latent
from encdec.data import class_names
from encdec.imaging import grid, scatter_png
from encdec.projection import METRICS, MapSettings, knn_accuracy, nearest, selected_indices, trustworthiness
from encdec.ui import charts
from encdec.ui.common import classifier_for, latent_map, model_of, open_in_editor, page, png, split_codes, split_of, t
from encdec.urlstate import Start

SHOW = 24  # selected digits shown as pictures

info = page("page_map", "map_intro")
model = model_of(info)
k = model.config.code_dim
names = class_names(model.config.dataset)

c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 2, 2])
split = c1.radio(t("map_split"), ["test", "train"], format_func=lambda s: t(f"map_split_{s}"), key="map_split")
methods = ["umap", "pca"] + (["raw"] if k == 2 else [])
method = c2.radio(t("map_method"), methods, format_func=lambda m: t(f"map_method_{m}"), key="map_method")
neighbors = c3.slider(t("map_neighbors"), 2, 100, 15, key="map_neighbors", disabled=method != "umap")
min_dist = c4.slider(t("map_min_dist"), 0.0, 0.99, 0.1, 0.01, key="map_min_dist", disabled=method != "umap")
metric = c5.selectbox(t("map_metric"), METRICS, key="map_metric", disabled=method != "umap")
settings = MapSettings(method, neighbors, min_dist, metric) if method == "umap" else MapSettings(method)

data = split_of(info, split)
with st.spinner(t("map_computing", n=len(data)), show_time=True):
    codes = split_codes(info, split)
    result = latent_map(info, split, settings)
xy = result.embedding
labels = data.labels.numpy()
st.caption(t("map_timing", n=len(xy), seconds=result.seconds, source=t("map_cached") if result.cached else t("map_fresh")))

colourings = ["label"] + (["predicted"] if model.is_classifier or classifier_for(model.config.dataset) else []) + \
    ([] if model.is_classifier else ["error"])
colour = st.segmented_control(t("map_colour"), colourings, format_func=lambda c: t(f"map_colour_{c}"),
                              default="label", key="map_colour") or "label"


@st.cache_data(show_spinner=False, max_entries=8)
def predicted(path: str, split: str) -> np.ndarray:
    clf_info = info if model.is_classifier else classifier_for(model.config.dataset)
    return latent.predictions(model_of(clf_info), data).numpy()


@st.cache_data(show_spinner=False, max_entries=8)
def errors(path: str, split: str) -> np.ndarray:
    out = [((latent.render(model, codes[i:i + 2000]) - data.floats(slice(i, i + 2000))[:, 0]) ** 2).mean((1, 2))
           for i in range(0, len(data), 2000)]
    return torch.cat(out).numpy()


@st.cache_data(show_spinner=False, max_entries=16)
def quality(path: str, split: str, settings: MapSettings) -> tuple[float, float, float]:
    return knn_accuracy(codes, labels), knn_accuracy(torch.from_numpy(xy), labels), trustworthiness(codes, xy)


if colour == "predicted":
    fig = charts.latent_map(xy, predicted(str(info.path), split), names)
elif colour == "error":
    fig = charts.latent_map(xy, labels, names, values=errors(str(info.path), split), value_name=t("map_colour_error"))
else:
    fig = charts.latent_map(xy, labels, names)
event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="map_chart")

q_code, q_map, q_trust = quality(str(info.path), split, settings)
m1, m2, m3 = st.columns(3)
m1.metric(t("map_knn_code"), f"{q_code:.1%}", help=t("map_knn_help"))
m2.metric(t("map_knn_map"), f"{q_map:.1%}", help=t("map_knn_help"))
m3.metric(t("map_trust"), f"{q_trust:.3f}", help=t("map_trust_help"))

d1, d2 = st.columns(2)
csv = "index,x,y,label\n" + "".join(f"{i},{x:.5f},{y:.5f},{int(l)}\n" for i, ((x, y), l) in enumerate(zip(xy, labels)))
d1.download_button(t("map_download_csv"), csv, file_name=f"{info.name}-{split}-map.csv", mime="text/csv", on_click="ignore")
d2.download_button(t("map_download_png"), scatter_png(xy, labels), file_name=f"{info.name}-{split}-map.png",
                   mime="image/png", on_click="ignore")

chosen = selected_indices(event.selection.points if event else [])
if not chosen:
    st.info(t("map_select_hint"))
    st.stop()
st.subheader(t("map_selected", n=len(chosen)))
shown = chosen[:SHOW]
images = data.floats(torch.tensor(shown))[:, 0]
st.image(png(grid(images[None], pad=1), 3), caption=t("input"))
if not model.is_classifier:
    st.image(png(grid(latent.render(model, codes[shown])[None], pad=1), 3), caption=t("reconstruction"))
st.dataframe([{"#": i, t("class_label"): names[int(labels[i])], **{f"z{d}": round(float(codes[i, d]), 3) for d in range(k)}}
              for i in chosen[:200]], hide_index=True)

first = st.selectbox(t("map_focus"), chosen[:200], key="map_focus")
near = nearest(codes, codes[first:first + 1], 9)[0].tolist()[1:]
st.caption(t("map_neighbours", i=first))
st.image(png(grid(data.floats(torch.tensor(near))[None, :, 0], pad=1), 3))
if st.button(t("map_open_editor")):
    start = Start("test", first) if split == "test" else Start("code")
    open_in_editor(start, codes[first])
