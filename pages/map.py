import streamlit as st
import torch

from encdec import latent
from encdec.data import class_names
from encdec.imaging import grid, map_csv, scatter_png
from encdec.projection import CODE_NEIGHBOURS, METRICS, MapSettings, nearest, selected_indices
from encdec.ui import cache, charts, live
from encdec.ui.common import classifier_for, codes_or_stop, open_in_editor, option_labels, page, png, t
from encdec.urlstate import Start

SHOW = 24      # selected digits shown as pictures

info = page("page_map", "map_intro")
model = cache.model(info)
k = model.config.code_dim
names = class_names(model.config.dataset)

c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 2, 2])
split = c1.radio(t("map_split"), ["test", "train"], format_func=option_labels("map_split_"), key="map_split")
methods = ["umap", "pca"] + (["raw"] if k == 2 else [])
method = c2.radio(t("map_method"), methods, format_func=option_labels("map_method_"), key="map_method")
neighbors = c3.slider(t("map_neighbors"), 2, 100, 15, key="map_neighbors", disabled=method != "umap")
min_dist = c4.slider(t("map_min_dist"), 0.0, 0.99, 0.1, 0.01, key="map_min_dist", disabled=method != "umap")
metric = c5.selectbox(t("map_metric"), METRICS, key="map_metric", disabled=method != "umap")
settings = MapSettings.for_method(method, n_neighbors=neighbors, min_dist=min_dist, metric=metric)

data = cache.split(model.config.dataset, split)
labels = data.labels.numpy()
with st.spinner(t("map_encoding", n=len(data)), show_time=True):
    if not cache.map_ready(info, split, settings):
        codes_or_stop(info, split)  # codes that overflowed are said before any map is made of them
    result, pending = cache.map_now(info, split, settings)
xy = result.embedding


@st.fragment(run_every=1.0)
def wait_for_umap() -> None:
    """Shows PCA while UMAP computes in the background, then swaps the map in."""
    if not cache.map_now(info, split, settings)[1]:
        st.rerun()
    st.info(t("map_pending", n=len(xy)))


if pending:
    wait_for_umap()
else:
    st.caption(t("map_timing", n=len(xy), seconds=result.seconds, source=t(f"map_source_{result.source}")))

# -- decode anywhere, first: its points are drawn before any code is computed; the page runs the
# decoder for whatever place the pointer is over once the codes follow --------------------------------
st.subheader(t("map_explore"))
codes_key = None
if live.can_run(info):
    map_key, codes_key = live.load_map(info, split, result)
    picked = live.view("explore", {"view": "explore", "model_key": live.model_key(info), "map_key": map_key,
                                   "codes_key": codes_key, "k": CODE_NEIGHBOURS, "grid": result.settings.method == "raw",
                                   "classifier": model.is_classifier, "classes": list(names),
                                   "text": {"help": t("map_explore_help"), "at": t("map_explore_at"),
                                            "kept": t("map_explore_kept"), "grid": t("map_explore_grid"),
                                            "wait": t("map_explore_wait")}},
                       picked=None).picked
    live.load_model(info)  # after the view: drawing the points needs only the map
    code = latent.code_from_page(picked, k)
    if code is not None and st.button(t("map_explore_edit"), key="explore_edit"):
        open_in_editor(Start("code"), code)
else:
    st.caption(t("map_explore_server"))

# The codes, before the selection map: the map above is on screen while they are computed, and the
# selection map's 4.7 MB of script would otherwise hold up the browser's first drawing of it.
with st.spinner(t("map_encoding", n=len(data)), show_time=True):
    codes = codes_or_stop(info, split)
if codes_key:
    live.load_codes(codes_key, codes)

st.subheader(t("map_select_title"))
clf = info if model.is_classifier else classifier_for(model.config.dataset)
colourings = ["label"] + (["predicted"] if clf is not None else []) + ([] if model.is_classifier else ["error"])
colour = st.segmented_control(t("map_colour"), colourings, format_func=option_labels("map_colour_"),
                              default="label", key="map_colour") or "label"
if colour == "predicted":
    fig = charts.latent_map(xy, cache.predictions(clf, split), names)
elif colour == "error":
    fig = charts.latent_map(xy, labels, names, values=cache.errors(info, split), value_name=t("map_colour_error"))
else:
    fig = charts.latent_map(xy, labels, names)
event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="map_chart")

q = cache.map_quality(info, split, result)
m1, m2, m3 = st.columns(3)
m1.metric(t("map_knn_code"), f"{q['knn_code']:.1%}", help=t("map_knn_help"))
m2.metric(t("map_knn_map"), f"{q['knn_map']:.1%}", help=t("map_knn_help"))
m3.metric(t("map_trust"), f"{q['trust']:.3f}", help=t("map_trust_help"))

d1, d2 = st.columns(2)
d1.download_button(t("map_download_csv"), map_csv(xy, labels), file_name=f"{info.name}-{split}-map.csv",
                   mime="text/csv", on_click="ignore")
d2.download_button(t("map_download_png"), scatter_png(xy, labels), file_name=f"{info.name}-{split}-map.png",
                   mime="image/png", on_click="ignore")

chosen = selected_indices(event.selection.points if event else [])
if not chosen:
    st.info(t("map_select_hint"))
    st.stop()
st.subheader(t("map_selected", n=len(chosen)))
shown = chosen[:SHOW]
st.image(png(grid(data.floats(torch.tensor(shown))[None, :, 0], pad=1), 3), caption=t("input"))
if not model.is_classifier:
    st.image(png(grid(latent.decode(model, codes[shown])[None], pad=1), 3), caption=t("reconstruction"))
st.dataframe([{"#": i, t("class_label"): names[int(labels[i])], **{f"z{d}": round(float(codes[i, d]), 3) for d in range(k)}}
              for i in chosen[:200]], hide_index=True)

first = st.selectbox(t("map_focus"), chosen[:200], key="map_focus")
near = nearest(codes, codes[first:first + 1], 9)[0].tolist()[1:]
st.caption(t("map_neighbours", i=first))
st.image(png(grid(data.floats(torch.tensor(near))[None, :, 0], pad=1), 3))
if st.button(t("map_open_editor")):
    open_in_editor(Start("test", first) if split == "test" else Start("code"), codes[first])
