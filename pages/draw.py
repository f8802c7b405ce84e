import streamlit as st
import torch
from streamlit_drawable_canvas import st_canvas

from encdec import latent
from encdec.data import class_names
from encdec.digitize import DrawingError, ink_from_canvas, ink_from_image, is_empty, to_mnist
from encdec.projection import MapSettings, nearest
from encdec.ui import cache, charts
from encdec.ui.common import (classifier_for, codes_or_stop, models_of, open_in_editor, page, png, probability_chart,
                              t)
from encdec.imaging import grid
from encdec.urlstate import Start

UNSURE = 0.6  # below this top probability the prediction is shown as a guess

info = page("page_draw", "draw_intro")
model = cache.model(info)
names = class_names(model.config.dataset)

left, right = st.columns([1, 2])
with left:
    canvas = st_canvas(stroke_width=18, stroke_color="#ffffff", background_color="#000000", height=280, width=280,
                       drawing_mode="freedraw", return_image_data=True, key="canvas")
    st.caption(t("draw_canvas_help"))
    upload = st.file_uploader(t("draw_upload"), type=["png", "jpg", "jpeg"], key="draw_upload")

try:
    if upload is not None:
        ink = ink_from_image(upload.getvalue())
    else:
        rgba = canvas.image_data if canvas is not None else None
        ink = ink_from_canvas(rgba) if rgba is not None else None
    if ink is None or is_empty(ink):
        right.info(t("draw_empty"))
        st.stop()
    x = to_mnist(ink)
except DrawingError as e:
    right.warning(str(e))
    st.stop()

code = latent.encode(model, x[None, None])  # (1, k)
with right:
    a, b, c = st.columns(3)
    a.image(png(x, 5), caption=t("draw_seen"))
    if not model.is_classifier:
        b.image(png(latent.decode(model, code)[0], 5), caption=t("reconstruction"))
    c.plotly_chart(charts.code_bars(code[0]), key="draw_code")
    c.caption(t("home_code", k=model.config.code_dim))

    clfs = models_of("classifier", model.config.dataset)
    if clfs:
        clf_names = list(clfs)
        default = info.name if model.is_classifier else classifier_for(model.config.dataset).name
        clf_name = st.selectbox(t("draw_classifier"), clf_names, index=clf_names.index(default), key="draw_clf")
        clf = cache.model(clfs[clf_name])
        probs = latent.class_probabilities(clf, latent.encode(clf, x[None, None]))[0]
        top = int(probs.argmax())
        if probs[top] >= UNSURE:
            st.success(t("draw_prediction", label=names[top], p=float(probs[top])))
        else:
            st.warning(t("draw_unsure", label=names[top], p=float(probs[top])))
        probability_chart(probs, names)
    if st.button(t("draw_edit"), type="primary"):
        open_in_editor(Start("code"), code[0])

st.subheader(t("draw_on_map"))
codes = codes_or_stop(info)
result, pending = cache.map_now(info, "test", MapSettings())
if pending:
    st.caption(t("map_pca_for_now"))
where = result.projector(codes).transform(code.numpy())
test = cache.split(model.config.dataset, "test")
st.plotly_chart(charts.latent_map(result.embedding, test.labels.numpy(), names, marked=where,
                                  marked_name=t("draw_yours"), height=520), key="draw_map")
near = nearest(codes, code, 8)[0]
st.caption(t("draw_neighbours"))
st.image(png(grid(test.floats(near)[None, :, 0], pad=1), 3))
