import streamlit as st

from encdec.data import class_names
from encdec.digitize import MAX_PICTURE_MB, DrawingError, to_mnist
from encdec.latent import code_from_page
from encdec.projection import PLACE_NEIGHBOURS, MapSettings
from encdec.ui import cache, live, state
from encdec.ui.common import classifier_for, models_of, open_in_editor, owner, page, png, t, texts
from encdec.ui.state import Key
from encdec.urlstate import Start

info = page("page_draw", "draw_intro")
names = class_names(info.config.dataset)
clfs = models_of("classifier", info.config.dataset)
clf_info = None
if clfs:
    default = info if info.config.kind == "classifier" else classifier_for(info.config.dataset)
    clf_names = list(clfs)
    clf_info = clfs[st.selectbox(t("draw_classifier"), clf_names, index=clf_names.index(default.ref), key=Key.DRAW_CLASSIFIER)]
else:
    st.info(t("draw_no_classifier"))

left, right = st.columns([3, 1])
with right:
    upload = st.file_uploader(t("draw_upload"), type=["png", "jpg", "jpeg"], key=Key.DRAW_UPLOAD, max_upload_size=MAX_PICTURE_MB)
uploaded = None
if upload is not None:
    try:
        uploaded = to_mnist(cache.ink_of_picture(upload.getvalue()))
    except DrawingError as e:
        right.warning(t(f"drawing_{e.key}", **e.values))
    else:
        right.image(png(uploaded, 4), caption=t("draw_seen_upload"))

# -- the drawing: read, placed and compared in the page; Python hears of it when the code goes to the editor --
blobs = {"model": cache.weights_url(info), "classifier": cache.weights_url(clf_info) if clf_info else None,
         "atlas": cache.atlas_url(info.config.dataset, "test")}
found, _ = cache.digest(info)
if found is not None and "order" in found:
    shown, _ = cache.map_now(info, "test", MapSettings(), owner())
    if shown is not None:
        blobs.update(map=cache.map_url(info, "test", shown), codes=cache.codes_url(info, "test"))
if blobs["model"] is None:
    st.caption(t("editor_server_side"))
TEXT = texts("reconstruction", undo="draw_undo", clear="draw_clear", pen="draw_pen", help="draw_canvas_help",
             seen="draw_seen", seen_upload="draw_seen_upload", speck="draw_speck", empty="draw_empty",
             sure="draw_live", unsure="draw_live_unsure", no_classifier="draw_no_classifier", edit="draw_edit",
             on_map="draw_on_map", neighbours="draw_neighbours", gone="job_gone")
TEXT["code"] = t("home_code", k=info.config.code_dim)
with left:
    sent = live.view(Key.DRAW_VIEW, {"view": "draw", "blobs": blobs, "classes": list(names), "pen": 18,
                                     "place_k": PLACE_NEIGHBOURS, "text": TEXT,
                                     "uploaded": None if uploaded is None else [round(float(v), 4) for v in uploaded.flatten()]},
                     edit=None).edit
seen = state.once("edits_seen", {})
if isinstance(sent, dict) and sent.get("seq") != seen.get(Key.DRAW_VIEW):
    seen[Key.DRAW_VIEW] = sent.get("seq")
    code = code_from_page(sent, info.config.code_dim)
    if code is not None:
        open_in_editor(Start("code"), code)
