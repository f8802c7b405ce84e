import streamlit as st

from encdec.data import class_names
from encdec.latent import encode, render
from encdec.ui import charts
from encdec.ui.common import dataset, model_of, page, png, probability_chart, t

info = page("app_title", "home_intro", markdown=True, needs_model=False)
st.markdown(t("home_classifier"))

if info is not None:
    model = model_of(info)
    k = model.config.code_dim
    x = dataset(model.config.dataset).test.floats(slice(0, 1))
    code = encode(model, x)
    st.subheader(t("home_pipeline") + f": {info.name}")
    a, b, c = st.columns([1, 2, 1])
    a.image(png(x[0, 0], 6), caption=t("home_input"))
    b.plotly_chart(charts.code_bars(code[0]), key="home_code")
    b.caption(t("home_code", k=k))
    if model.is_classifier:
        with c:
            probability_chart(render(model, code)[0], class_names(model.config.dataset))
            st.caption(t("home_output_class"))
    else:
        c.image(png(render(model, code)[0], 6), caption=t("home_output_image"))
    st.markdown(t("home_ratio", ratio=784 / k, k=k))

st.subheader(t("home_pages"))
for page, icon, blurb in [("editor", "tune", "home_link_editor"), ("map", "scatter_plot", "home_link_map"),
                          ("draw", "draw", "home_link_draw"), ("classifier", "category", "home_link_classifier"),
                          ("transfer", "swap_horiz", "home_link_transfer"), ("models", "folder_open", "home_link_models"),
                          ("train", "model_training", "home_link_train")]:
    st.page_link(f"pages/{page}.py", label=t(f"page_{page}"), icon=f":material/{icon}:")
    st.caption(t(blurb))
