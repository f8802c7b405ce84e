"""Encoder–Decoder Explorer: `streamlit run app.py`.

`streamlit run` first imports this file as a module and serves `app`: a server that imports the
libraries the pages use before it takes its first visitor (`encdec/ui/server.py`). Each visit then
runs this file as the script `__main__`, which draws the sidebar and the page that was asked for.
"""
import streamlit as st

if __name__ == "__main__":
    from encdec.ui.common import shell, t

    pages = [
        st.Page("pages/home.py", title=t("page_home"), icon=":material/home:", default=True),
        st.Page("pages/lesson.py", title=t("page_lesson"), icon=":material/school:", url_path="lesson"),
        st.Page("pages/editor.py", title=t("page_editor"), icon=":material/tune:", url_path="editor"),
        st.Page("pages/map.py", title=t("page_map"), icon=":material/scatter_plot:", url_path="map"),
        st.Page("pages/draw.py", title=t("page_draw"), icon=":material/draw:", url_path="draw"),
        st.Page("pages/classifier.py", title=t("page_classifier"), icon=":material/category:", url_path="classifier"),
        st.Page("pages/transfer.py", title=t("page_transfer"), icon=":material/swap_horiz:", url_path="transfer"),
        st.Page("pages/models.py", title=t("page_models"), icon=":material/folder_open:", url_path="models"),
        st.Page("pages/train.py", title=t("page_train"), icon=":material/model_training:", url_path="train"),
    ]
    shell(pages)
else:
    from encdec.ui.server import lifespan, routes

    app = st.App(__file__, lifespan=lifespan, routes=routes())
