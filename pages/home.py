import streamlit as st

from encdec import latent
from encdec.data import class_names
from encdec.ui import cache, charts
from encdec.ui.common import page, png, probability_chart, t

info = page("app_title", "home_intro", markdown=True, needs_model=False)
st.markdown(t("home_classifier"))

if info is not None:
    model = cache.model(info)
    k = model.config.code_dim
    x = cache.dataset(model.config.dataset).test.floats(slice(0, 1))
    code = latent.encode(model, x)
    st.subheader(t("home_pipeline") + f": {info.name}")
    a, b, c = st.columns([1, 2, 1])
    a.image(png(x[0, 0], 6), caption=t("home_input"))
    b.plotly_chart(charts.code_bars(code[0]), key="home_code")
    b.caption(t("home_code", k=k))
    if model.is_classifier:
        with c:
            probability_chart(latent.class_probabilities(model, code)[0], class_names(model.config.dataset))
            st.caption(t("home_output_class"))
    else:
        c.image(png(latent.decode(model, code)[0], 6), caption=t("home_output_image"))
    st.markdown(t("home_ratio", ratio=784 / k, k=k))

st.subheader(t("home_pages"))
for name, icon in [("editor", "tune"), ("map", "scatter_plot"), ("draw", "draw"), ("classifier", "category"),
                   ("transfer", "swap_horiz"), ("models", "folder_open"), ("train", "model_training")]:
    st.page_link(f"pages/{name}.py", label=t(f"page_{name}"), icon=f":material/{icon}:")
    st.caption(t(f"home_link_{name}"))
