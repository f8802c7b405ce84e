import streamlit as st

from encdec.data import class_names
from encdec.ui import cache, live
from encdec.ui.common import page, png, t

info = page("app_title", "home_intro", markdown=True, needs_model=False)
st.markdown(t("home_classifier"))

if info is not None:
    x, code, out = cache.first_digit(info)
    k = len(code)
    st.subheader(t("home_pipeline") + f": {info.name}")
    a, b, c = st.columns([1, 2, 1])
    a.image(png(x, 6), caption=t("home_input"))
    with b:
        live.view("home-code", {"view": "bars", "values": code, "caption": t("home_code", k=k)})
    with c:
        if info.config.kind == "classifier":
            live.view("home-probs", {"view": "probs", "probs": out, "classes": list(class_names(info.config.dataset))})
            st.caption(t("home_output_class"))
        else:
            st.image(png(out, 6), caption=t("home_output_image"))
    st.markdown(t("home_ratio", ratio=784 / k, k=k))

st.subheader(t("home_pages"))
for name, icon in [("lesson", "school"), ("editor", "tune"), ("map", "scatter_plot"), ("draw", "draw"),
                   ("classifier", "category"), ("transfer", "swap_horiz"), ("models", "folder_open"),
                   ("train", "model_training")]:
    st.page_link(f"pages/{name}.py", label=t(f"page_{name}"), icon=f":material/{icon}:")
    st.caption(t(f"home_link_{name}"))
