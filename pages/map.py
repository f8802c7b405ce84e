import streamlit as st
import torch

from encdec.data import class_names
from encdec.projection import CODE_NEIGHBOURS, METRICS, MapSettings
from encdec.ui import cache, live, progress, state
from encdec.ui.common import classifier_for, open_in_editor, option_labels, owner, page, t, texts
from encdec.ui.state import Key
from encdec.urlstate import Start

info = page("page_map", "map_intro")
k = info.config.code_dim
names = class_names(info.config.dataset)

c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 2, 2])
split = c1.radio(t("map_split"), ["test", "train"], format_func=option_labels("map_split_"), key=Key.MAP_SPLIT)
methods = ["umap", "pca"] + (["raw"] if k == 2 else [])
method = c2.radio(t("map_method"), methods, format_func=option_labels("map_method_"), key=Key.MAP_METHOD)
neighbors = c3.slider(t("map_neighbors"), 2, 100, 15, key=Key.MAP_NEIGHBORS, disabled=method != "umap")
min_dist = c4.slider(t("map_min_dist"), 0.0, 0.99, 0.1, 0.01, key=Key.MAP_MIN_DIST, disabled=method != "umap")
metric = c5.selectbox(t("map_metric"), METRICS, key=Key.MAP_METRIC, disabled=method != "umap")
settings = MapSettings.for_method(method, n_neighbors=neighbors, min_dist=min_dist, metric=metric)
n = len(cache.split(info.config.dataset, split))

found, making = cache.digest(info, split)
if found is not None and "order" not in found:  # codes that overflowed are said before any map is made of them
    st.warning(t("codes_not_finite", name=info.name))
    st.stop()
try:
    result, fitting = cache.map_now(info, split, settings, owner())
except RuntimeError as e:
    st.error(t("train_failed", error=e))
    st.stop()
if result is None:  # not even the codes are here yet: their digest comes first
    progress.wait_for(making or fitting, "digest-map", t("preparing_codes", n=n))
if fitting is not None:
    st.info(t("map_pending", n=n))
    progress.watch(fitting, Key.MAP_JOB, info.config.dataset)
else:
    st.caption(t("map_timing", n=n, seconds=result.seconds, source=t(f"map_source_{result.source}")))

# -- the map, in the page: the points are drawn at once; decoding, selection and colours follow in the page --
clf = info if info.config.kind == "classifier" else classifier_for(info.config.dataset)
weights = cache.weights_url(info)
blobs = {"map": cache.map_url(info, split, result), "model": weights, "atlas": cache.atlas_url(info.config.dataset, split)}
if found is not None:
    blobs.update(codes=cache.codes_url(info, split), values=cache.values_url(info, split))
    if clf is not None and clf.path != info.path and cache.digest(clf, split)[0] is not None:
        blobs["clf_values"] = cache.values_url(clf, split)
if weights is None:
    st.caption(t("map_explore_server"))
TEXT = texts("reconstruction", "input", help="map_explore_help", at="map_explore_at", kept="map_explore_kept",
             grid="map_explore_grid", wait="map_explore_wait", colour="map_colour", colour_label="map_colour_label",
             colour_predicted="map_colour_predicted", colour_error="map_colour_error", mode_decode="map_mode_decode",
             mode_lasso="map_mode_lasso", download_csv="map_download_csv", download_png="map_download_png",
             select_hint="map_select_hint", selected="map_selected", focus="map_focus", neighbours="map_neighbours",
             open_editor="map_open_editor", label="class_label", gone="job_gone")
sent = live.view(Key.MAP_VIEW, {"view": "explore", "blobs": blobs, "k": CODE_NEIGHBOURS, "split": split,
                                "grid": result.settings.method == "raw", "classifier": info.config.kind == "classifier",
                                "classes": list(names), "name": info.name, "text": TEXT}, edit=None).edit
seen = state.once("edits_seen", {})
if isinstance(sent, dict) and sent.get("seq") != seen.get(Key.MAP_VIEW) and found is not None:
    seen[Key.MAP_VIEW] = sent.get("seq")
    from encdec.latent import code_from_page

    code = code_from_page(sent, k)
    index = sent.get("index")
    if code is not None:
        is_test = split == "test" and isinstance(index, int) and 0 <= index < n
        open_in_editor(Start("test", index) if is_test else Start("code"), code if not is_test else torch.from_numpy(found["codes"][index]))

q = result.quality
if q:
    m1, m2, m3 = st.columns(3)
    m1.metric(t("map_knn_code"), f"{q['knn_code']:.1%}", help=t("map_knn_help"))
    m2.metric(t("map_knn_map"), f"{q['knn_map']:.1%}", help=t("map_knn_help"))
    m3.metric(t("map_trust"), f"{q['trust']:.3f}", help=t("map_trust_help"))
