import streamlit as st

from encdec import settings, workspace
from encdec.checkpoint import CheckpointError, metric_summary
from encdec.data import class_names
from encdec.ui import cache, charts
from encdec.ui.common import (all_models, cannot_save, class_store, current, kind_label, metric_names, my_store, page,
                              parts_label, select_model, shared_mode, t)
from encdec.ui.visitor import LINK_PARAM, teacher_password

page("page_models", "models_intro", needs_model=False)
visitor = current()


def flash(key: str, **values) -> None:
    st.session_state["flash"] = t(key, **values)
    st.rerun()


@st.dialog(t("delete"))
def confirm_delete(name: str) -> None:
    st.write(t("delete_confirm", name=name))
    yes, no = st.columns(2)
    if yes.button(t("delete_yes"), type="primary"):
        try:
            my_store().delete(name)  # only ever the visitor's own store
            flash("deleted", name=name)
        except CheckpointError:
            flash("delete_gone", name=name)
    if no.button(t("delete_no")):
        st.rerun()


info = st.session_state.get("current")
if info is not None:
    c, m = info.config, info.metrics
    st.subheader(info.name)
    left, right = st.columns(2)
    left.markdown("\n".join([
        f"- **{t('card_kind')}**: {kind_label(c.kind)}",
        f"- **{t('card_parts')}**: {parts_label(c)}",
        f"- **{t('card_code')}**: {c.code_dim}",
        f"- **{t('card_params')}**: {c.num_parameters():,}",
        f"- **{t('card_dataset')}**: {c.dataset}",
        f"- **{t('card_created')}**: {info.meta.get('created', '–')}",
        f"- **{t('card_source')}**: {t('source_' + info.source)}",
    ]))
    right.markdown(f"**{t('card_metrics')}**")
    right.table({t("metric_" + k): (f"{m[k]:.2%}" if k == "accuracy" else f"{m[k]:.5g}")
                 for k in ("accuracy", "cross_entropy", "mse", "bce", "kl", "neg_elbo") if k in m})
    recorded = cache.frames(info)
    if recorded is not None:
        frames, labels = recorded
        st.markdown(f"**{t('frames_replay')}**")
        st.plotly_chart(charts.code_space_replay(frames, labels, class_names(c.dataset), t("frames_title_template"),
                                                 t("frames_play")), key="frames_replay")
        st.caption(t("frames_help", n=len(labels)))
    st.download_button(t("download_model"), info.path.read_bytes(), file_name=info.path.name,
                       mime="application/octet-stream", on_click="ignore")
    if info.source == "own":
        b1, b2 = st.columns([1, 3])
        if b1.button(t("delete")):
            confirm_delete(info.name)
        if visitor.shared and visitor.teacher and b2.button(t("publish")):
            try:
                flash("published", name=workspace.publish(my_store(), info.name, class_store()))
            except CheckpointError as e:
                st.error(t("upload_bad", error=e))
    elif info.source == "class" and visitor.teacher:
        if st.button(t("unpublish")):
            try:
                class_store().delete(info.name)
                flash("unpublished", name=info.name)
            except CheckpointError:
                flash("delete_gone", name=info.name)
    else:
        st.caption(t(f"{info.source}_readonly"))

if msg := st.session_state.pop("flash", None):
    st.success(msg)

st.subheader(t("upload"))
upload = st.file_uploader(t("upload"), type=["safetensors"], help=t("upload_help"), label_visibility="collapsed")
if upload is not None and st.session_state.get("uploaded") != upload.file_id:
    st.session_state["uploaded"] = upload.file_id
    limit = settings.quotas()["upload_mb"] if visitor.shared else None
    blocked = (t("quota_upload", mb=upload.size / 2**20, limit=limit) if limit and upload.size > limit * 2**20
               else cannot_save(upload.size))
    if blocked:
        st.session_state["upload_error"] = blocked
    else:
        try:
            name = my_store().import_bytes(upload.getvalue(), upload.name)
        except CheckpointError as e:
            st.session_state["upload_error"] = t("upload_bad", error=e)
        else:
            select_model(name)
            st.session_state["flash"] = t("upload_ok", name=name)
    st.rerun()
if err := st.session_state.pop("upload_error", None):
    st.error(err)

st.subheader(t("all_models"))
st.dataframe([{t("col_name"): n, t("col_model"): f"{kind_label(i.config.kind)}, {parts_label(i.config)}, {i.config.code_dim}",
               t("card_dataset"): i.config.dataset, t("col_score"): metric_summary(i.metrics, metric_names()),
               t("col_source"): t("source_" + i.source)} for n, i in all_models()[0].items()],
             hide_index=True, width="stretch")

if shared_mode():
    st.subheader(t("workspace_title"))
    if visitor.workspace is None:
        st.info(t("workspace_wait"))
    else:
        count, used = visitor.workspace.usage()
        quotas = settings.quotas()
        st.caption(t("workspace_usage", n=count, most=quotas["models"], mb=used / 2**20, limit=quotas["megabytes"]))
        key = st.session_state.get("workspace_key")
        if key and visitor.email is None:
            with st.expander(t("workspace_link")):
                st.caption(t("workspace_link_help"))
                st.code(f"{st.context.url.split('?')[0]}?{LINK_PARAM}={key}", language=None)
    if not visitor.teacher and visitor.workspace is not None:
        with st.expander(t("teacher_title")):
            typed = st.text_input(t("teacher_password"), type="password", key="teacher_typed")
            if st.button(t("teacher_enter")):
                if workspace.password_matches(typed, teacher_password()):
                    visitor.workspace.make_teacher(typed)
                    flash("teacher_welcome")
                st.error(t("teacher_wrong"))
    else:
        st.caption(t("teacher_you"))
