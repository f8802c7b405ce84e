"""Encoder–Decoder Explorer: `streamlit run app.py`."""
import streamlit as st

from encdec.ui.common import shell, t

pages = [
    st.Page("pages/home.py", title=t("page_home"), icon=":material/home:", default=True),
    st.Page("pages/editor.py", title=t("page_editor"), icon=":material/tune:", url_path="editor"),
    st.Page("pages/map.py", title=t("page_map"), icon=":material/scatter_plot:", url_path="map"),
    st.Page("pages/draw.py", title=t("page_draw"), icon=":material/draw:", url_path="draw"),
    st.Page("pages/classifier.py", title=t("page_classifier"), icon=":material/category:", url_path="classifier"),
    st.Page("pages/transfer.py", title=t("page_transfer"), icon=":material/swap_horiz:", url_path="transfer"),
    st.Page("pages/models.py", title=t("page_models"), icon=":material/folder_open:", url_path="models"),
    st.Page("pages/train.py", title=t("page_train"), icon=":material/model_training:", url_path="train"),
]
shell(pages)
