"""Encoder–Decoder Explorer: `streamlit run app.py`."""
import streamlit as st

from encdec.ui.common import sidebar, t

st.set_page_config(page_title="Encoder–Decoder Explorer", page_icon="🔢", layout="wide")
st.session_state["current"] = sidebar()
pages = [
    st.Page("pages/home.py", title=t("page_home"), icon="🏠", default=True, url_path="home"),
    st.Page("pages/editor.py", title=t("page_editor"), icon="🎛️", url_path="editor"),
    st.Page("pages/models.py", title=t("page_models"), icon="🗂️", url_path="models"),
    st.Page("pages/train.py", title=t("page_train"), icon="🏋️", url_path="train"),
]
st.navigation(pages).run()
