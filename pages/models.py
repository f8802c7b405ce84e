import streamlit as st

from encdec.checkpoint import CheckpointError, metric_summary
from encdec.ui.common import all_models, kind_label, metric_names, my_store, page, parts_label, select_model, t

page("page_models", "models_intro", needs_model=False)

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
        f"- **{t('card_source')}**: {t('source_shipped') if info.shipped else t('source_user')}",
    ]))
    right.markdown(f"**{t('card_metrics')}**")
    right.table({t("metric_" + k): (f"{m[k]:.2%}" if k == "accuracy" else f"{m[k]:.5g}")
                 for k in ("accuracy", "cross_entropy", "mse", "bce", "kl", "neg_elbo") if k in m})
    st.download_button(t("download_model"), info.path.read_bytes(), file_name=info.path.name,
                       mime="application/octet-stream", on_click="ignore")
    if not info.shipped:
        @st.dialog(t("delete"))
        def confirm_delete(name):
            st.write(t("delete_confirm", name=name))
            yes, no = st.columns(2)
            if yes.button(t("delete_yes"), type="primary"):
                try:
                    my_store().delete(name)
                    st.session_state["flash"] = t("deleted", name=name)
                except CheckpointError:
                    st.session_state["flash"] = t("delete_gone", name=name)
                st.rerun()
            if no.button(t("delete_no")):
                st.rerun()
        if st.button(t("delete")):
            confirm_delete(info.name)
    else:
        st.caption(t("shipped_readonly"))

if msg := st.session_state.pop("flash", None):
    st.success(msg)

st.subheader(t("upload"))
upload = st.file_uploader(t("upload"), type=["safetensors"], help=t("upload_help"), label_visibility="collapsed")
if upload is not None and st.session_state.get("uploaded") != upload.file_id:
    st.session_state["uploaded"] = upload.file_id
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
               t("col_source"): t("source_shipped") if i.shipped else t("source_user")}
              for n, i in all_models()[0].items()], hide_index=True, width="stretch")
