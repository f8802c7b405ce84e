import logging

import streamlit as st

from encdec import settings, workspace
from encdec.checkpoint import CheckpointError, metric_summary
from encdec.data import class_names
from encdec.ui import cache, live, state, visitor
from encdec.ui.common import all_models, kind_label, metric_names, page, parts_label, reserve, select_model, t
from encdec.ui.state import Key, Link

page("page_models", "models_intro", needs_model=False)
person = visitor.current()


def flash(key: str, **values) -> None:
    state.put("flash", t(key, **values))
    st.rerun()


@st.dialog(t("delete"))
def confirm_delete(name: str) -> None:
    st.write(t("delete_confirm", name=name))
    yes, no = st.columns(2)
    if yes.button(t("delete_yes"), type="primary", key=Key.DELETE_YES):
        try:
            visitor.my_store().delete(name)  # only ever the visitor's own store
            flash("deleted", name=name)
        except CheckpointError:
            flash("delete_gone", name=name)
    if no.button(t("delete_no"), key=Key.DELETE_NO):
        st.rerun()


def card(info) -> None:
    """A model's card; it draws what it can, and its buttons come whatever fails above them."""
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
    replay = cache.frames_url(info)
    if replay is not None:
        st.markdown(f"**{t('frames_replay')}**")
        live.view(Key.REPLAY_VIEW, {"view": "replay", "blobs": {"frames": replay}, "blobs_order": ["frames"],
                                    "names": [""], "size": 420, "classes": list(class_names(c.dataset)),
                                    "text": {"play": t("frames_play"), "title": t("frames_title_template"),
                                             "help": t("frames_help_replay"), "none": "", "gone": t("job_gone")}})


info = state.get("current")
if info is not None:
    try:
        card(info)
    except CheckpointError as e:  # a file that lists but cannot be read in full: say so, keep Delete below
        st.error(t("upload_bad", error=e))
    except Exception:  # noqa: BLE001 - whatever breaks the card, Delete stays within reach (logged in full)
        logging.getLogger(__name__).exception("the card of %s could not be drawn", info.name)
        st.error(t("card_broken", name=info.name))
    st.download_button(t("download_model"), lambda: info.path.read_bytes(), file_name=info.path.name,
                       mime="application/octet-stream", on_click="ignore")
    if info.source == "own":
        b1, b2 = st.columns([1, 3])
        if b1.button(t("delete"), key=Key.DELETE):
            confirm_delete(info.name)
        if person.shared and person.teacher and b2.button(t("publish"), key=Key.PUBLISH):
            try:
                flash("published", name=workspace.publish(visitor.my_store(), info.name, visitor.class_store()))
            except CheckpointError as e:
                st.error(t("upload_bad", error=e))
    elif info.source == "class" and person.teacher:
        if st.button(t("unpublish"), key=Key.UNPUBLISH):
            try:
                visitor.class_store().delete(info.name)
                flash("unpublished", name=info.name)
            except CheckpointError:
                flash("delete_gone", name=info.name)
    else:
        st.caption(t(f"{info.source}_readonly"))

if msg := state.pop("flash"):
    st.success(msg)

st.subheader(t("upload"))
upload = st.file_uploader(t("upload"), type=["safetensors"], help=t("upload_help"), label_visibility="collapsed",
                          key=Key.UPLOAD, max_upload_size=settings.quotas()["upload_mb"] if person.shared else None)
if upload is not None and state.get("uploaded") != upload.file_id:
    state.put("uploaded", upload.file_id)
    limit = settings.quotas()["upload_mb"] if person.shared else None
    if limit and upload.size > limit * 2**20:
        state.put("upload_error", t("quota_upload", mb=upload.size / 2**20, limit=limit))
    else:
        held, why = reserve(upload.size)  # the place is checked and taken in one step
        if why:
            state.put("upload_error", why)
        else:
            try:
                name = visitor.my_store().import_bytes(upload.getvalue(), upload.name)
            except CheckpointError as e:
                state.put("upload_error", t("upload_bad", error=e))
            else:
                select_model(name)
                state.put("flash", t("upload_ok", name=name))
            finally:
                if held is not None:
                    held.release()
    st.rerun()
if err := state.pop("upload_error"):
    st.error(err)

st.subheader(t("all_models"))
st.dataframe([{t("col_name"): n, t("col_model"): f"{kind_label(i.config.kind)}, {parts_label(i.config)}, {i.config.code_dim}",
               t("card_dataset"): i.config.dataset, t("col_score"): metric_summary(i.metrics, metric_names()),
               t("col_source"): t("source_" + i.source)} for n, i in all_models()[0].items()],
             hide_index=True, width="stretch")

if visitor.shared_mode():
    st.subheader(t("workspace_title"))
    if person.workspace is None:
        st.info(t("workspace_wait"))
    else:
        count, used = person.workspace.usage()
        quotas = settings.quotas()
        st.caption(t("workspace_usage", n=count, most=quotas["models"], mb=used / 2**20, limit=quotas["megabytes"]))
        key = state.get("workspace_key")
        if key and person.email is None:
            with st.expander(t("workspace_link")):
                st.caption(t("workspace_link_help"))
                st.code(f"{st.context.url.split('?')[0]}?{Link.WORKSPACE}={key}", language=None)
    if not person.teacher and person.workspace is not None:
        with st.expander(t("teacher_title")):
            typed = st.text_input(t("teacher_password"), type="password", key=Key.TEACHER_PASSWORD)
            if st.button(t("teacher_enter"), key=Key.TEACHER_ENTER):
                limit = cache.guesses()
                wait = limit.check(person.workspace.id)
                if wait > 0:
                    st.error(t("teacher_wait", s=int(wait) + 1))
                elif workspace.password_matches(typed, visitor.teacher_password()):
                    limit.right(person.workspace.id)
                    person.workspace.make_teacher(typed)
                    flash("teacher_welcome")
                else:
                    limit.wrong(person.workspace.id)
                    st.error(t("teacher_wrong"))
    elif person.teacher:
        st.caption(t("teacher_you"))
