import streamlit as st

from encdec import latent
from encdec.data import class_names
from encdec.digitize import DrawingError, digit_from_page, to_mnist
from encdec.imaging import grid
from encdec.projection import MapSettings, nearest
from encdec.ui import cache, charts, live
from encdec.ui.common import (classifier_for, codes_or_stop, models_of, open_in_editor, page, png, probability_chart,
                              t)
from encdec.urlstate import Start

UNSURE = 0.6  # below this top probability the prediction is shown as a guess

info = page("page_draw", "draw_intro")
model = cache.model(info)
names = class_names(model.config.dataset)
clfs = models_of("classifier", model.config.dataset)
clf_info = None
if clfs:
    default = info if model.is_classifier else classifier_for(model.config.dataset)
    clf_names = list(clfs)
    clf_info = clfs[st.selectbox(t("draw_classifier"), clf_names, index=clf_names.index(default.name), key="draw_clf")]
else:
    st.info(t("draw_no_classifier"))

in_page = live.load_model(info)
clf_in_page = clf_info is not None and (in_page if clf_info.path == info.path else live.load_model(clf_info))
TEXT = {"undo": t("draw_undo"), "clear": t("draw_clear"), "pen": t("draw_pen"), "help": t("draw_canvas_help"),
        "seen": t("draw_seen"), "reconstruction": t("reconstruction"), "code": t("home_code", k=model.config.code_dim),
        "speck": t("draw_speck"), "live": t("draw_live"), "no_classifier": t("draw_no_classifier")}


@st.fragment
def drawing() -> None:
    left, right = st.columns([3, 2])
    with left:
        live.view("draw", {"view": "draw", "model_key": live.model_key(info) if in_page else None,
                           "classifier_key": live.model_key(clf_info) if clf_in_page else None,
                           "classes": list(names), "pen": 18, "text": TEXT}, digit=None)
    with right:
        upload = st.file_uploader(t("draw_upload"), type=["png", "jpg", "jpeg"], key="draw_upload")
    try:
        if upload is not None:
            x = to_mnist(cache.ink_of_picture(upload.getvalue()))
            right.image(png(x, 4), caption=t("draw_seen_upload"))
        else:
            x = digit_from_page(live.sent("draw", "digit"))
    except DrawingError as e:
        right.warning(t(f"drawing_{e.key}", **e.values))
        return
    if x is None:
        right.info(t("draw_empty"))
        return

    code = latent.encode(model, x[None, None])  # (1, k): Python is the reference from here on
    st.subheader(t("draw_verdict"))
    c1, c2 = st.columns([2, 3])
    with c1:
        if clf_info is not None:
            clf = cache.model(clf_info)
            probs = latent.class_probabilities(clf, latent.encode(clf, x[None, None]))[0]
            top = int(probs.argmax())
            if probs[top] >= UNSURE:
                st.success(t("draw_prediction", label=names[top], p=float(probs[top])))
            else:
                st.warning(t("draw_unsure", label=names[top], p=float(probs[top])))
            probability_chart(probs, names, key="draw_probs")
        if st.button(t("draw_edit"), type="primary"):
            open_in_editor(Start("code"), code[0])
    with c2:
        st.caption(t("draw_on_map"))
        codes = codes_or_stop(info)
        result, pending = cache.map_now(info, "test", MapSettings())
        if pending:
            st.caption(t("map_pca_for_now"))
        where = result.projector(codes).transform(code.numpy())
        test = cache.split(model.config.dataset, "test")
        st.plotly_chart(charts.latent_map(result.embedding, test.labels.numpy(), names, marked=where,
                                          marked_name=t("draw_yours"), height=460), key="draw_map")
        st.caption(t("draw_neighbours"))
        st.image(png(grid(test.floats(nearest(codes, code, 8)[0])[None, :, 0], pad=1), 3))


drawing()
