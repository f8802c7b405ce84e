import streamlit as st

from encdec import latent
from encdec.data import class_names
from encdec.editor import Editor
from encdec.imaging import grid, png_bytes
from encdec.ui import cache, live, progress, state
from encdec.ui.common import page, t, texts
from encdec.ui.state import Key, Link
from encdec.urlstate import LinkError, parse_link, parse_bounded_int

SHOWN = 16  # sliders shown before "the other dimensions"
STEPS = 11  # columns of the traversal grid; the middle one is the current code

info = page("page_editor", "editor_intro")
model = cache.model(info)
k = model.config.code_dim
test = cache.split(model.config.dataset, "test")
names = class_names(model.config.dataset)
if model.is_classifier:
    st.info(t("editor_classifier_note"))
found, making = cache.digest(info)
if found is None:
    progress.wait_for(making, "digest-editor", t("preparing_codes", n=len(test)))
if "order" not in found:
    st.warning(t("codes_not_finite", name=info.name))
    st.stop()
codes, ranges = cache.codes(found), cache.ranges(found)

# -- where the edit starts: a code sent from another page, else (on the first visit) the link --------------
ed: Editor | None = state.get("editor")
request = state.pop("edit_request")
if request is not None and request[1].numel() == k:
    start, sent = request
    ed = Editor.begin(info.name, model, codes, ranges, start, custom=sent, code=sent, version=ed.version if ed else 0,
                      order=found["order"])
elif ed is None or ed.model_name != info.name:
    start, z = None, None
    if ed is None:  # the first visit: a shared link may say where to start
        try:
            start, z = parse_link(state.link(Link.START), state.link(Link.CODE), k, len(test))
        except LinkError as e:
            st.warning(t("bad_link", error=t(f"link_{e.key}", **e.values)))
    ed = Editor.begin(info.name, model, codes, ranges, start or Editor.first(), custom=z if start and start.kind == "code"
                      else None, code=z, version=ed.version if ed else 0, order=found["order"])
state.put("editor", ed)


def picks(params, defaults) -> list[int]:
    """Test digits a link names for interpolation or arithmetic (bad ones fall back to the default, said once)."""
    out = []
    for name, default in zip(params, defaults):
        try:
            value = parse_bounded_int(state.link(name), 0, len(test) - 1, t("start_index"))
        except LinkError as e:
            st.warning(t("bad_link", error=t(f"link_{e.key}", **e.values)))
            value = None
        out.append(default if value is None else value)
    return out


# -- the editor: everything a gesture changes happens in the page ------------------------------------------
weights = cache.weights_url(info)
if weights is None:
    st.caption(t("editor_server_side"))
TEXT = texts("edited", "probabilities", "reset_all", "reset_help", "traversal", "input", "reconstruction", "dims_ranked",
             "code_chart", "code_start", "start", "start_test", "start_mean", "start_zeros", "start_code", "start_index",
             "start_digit", "start_pick", "start_random", "download_png", "download_grid", "download_csv", "job_gone",
             more="more_dims", dim="dim_label", edit="traversal_edit", steps="interp_steps", path="interp_method",
             linear="interp_linear", slerp="interp_slerp", gone="job_gone")
BLOBS = {"model": weights, "codes": cache.codes_url(info, "test"), "atlas": cache.atlas_url(model.config.dataset, "test")}


def rounded(values) -> list[float]:
    return [round(float(v), 4) for v in values]


def server_pictures(code) -> dict:
    """What the page would draw, drawn here (for a model the page cannot run)."""
    import base64

    url = lambda img: "data:image/png;base64," + base64.b64encode(png_bytes(grid(img))).decode()  # noqa: E731
    out = latent.decoder_output(model, code)[0]
    rows = latent.traversal(model, code, ranges, dims=ed.order, steps=STEPS)
    strips = {} if model.is_classifier else {d: url(rows[r:r + 1]) for r, d in enumerate(ed.order)}
    return {"image": None if model.is_classifier else url(out[None, None]),
            "probs": out.tolist() if model.is_classifier else None, "traversal": strips}


@st.fragment
def editor() -> None:
    data = {"view": "editor", "page": "editor", "blobs": BLOBS, "model_id": cache.model_hash(info), "name": info.name,
            "version": ed.version, "start": {"kind": ed.start.kind, "index": ed.start.index},
            "code": rounded(ed.initial), "custom": rounded(ed.custom) if ed.custom is not None else None,
            "order": ed.order, "effect": rounded(found["effect"]), "low": rounded(ranges.low),
            "high": rounded(ranges.high), "mean": rounded(ranges.mean), "shown": SHOWN, "steps": STEPS,
            "classifier": model.is_classifier, "classes": list(names), "text": TEXT}
    if weights is None:  # Python draws the pictures after each release
        ed.take(live.sent(Key.EDITOR_VIEW, "edit"))
        data["server"] = server_pictures(ed.code)
    live.view(Key.EDITOR_VIEW, data, edit=None)


editor()

if weights is not None:
    try:
        steps = parse_bounded_int(state.link(Link.INTERPOLATION[2]), 3, 16, t("interp_steps")) or 8
    except LinkError as e:
        st.warning(t("bad_link", error=t(f"link_{e.key}", **e.values)))
        steps = 8
    st.subheader(t("interpolation"))
    live.view(Key.INTERPOLATION_VIEW, {
        "view": "interpolation", "page": "editor", "blobs": BLOBS, "picks": picks(Link.INTERPOLATION[:2], (0, 1)),
        "labels": [t("interp_a"), t("interp_b")], "steps": steps,
        "method": state.link(Link.INTERPOLATION[3]) if state.link(Link.INTERPOLATION[3]) in ("linear", "slerp")
        else "slerp" if model.config.kind == "vae" else "linear",
        "classifier": model.is_classifier, "classes": list(names), "text": TEXT})
    st.subheader(t("arithmetic"))
    st.caption(t("arith_help"))
    live.view(Key.ARITHMETIC_VIEW, {
        "view": "arithmetic", "page": "editor", "blobs": BLOBS,
        "picks": picks(Link.ARITHMETIC, cache.arithmetic_example(model.config.dataset)),
        "labels": [t("arith_a"), t("arith_b"), t("arith_c")], "names": ["A", "B", "C", t("arith_result")],
        "classifier": model.is_classifier, "classes": list(names), "text": TEXT})
