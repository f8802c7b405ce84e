import streamlit as st
import torch

from encdec import arithmetic, latent
from encdec.data import class_names
from encdec.editor import Editor
from encdec.imaging import code_csv, grid, png_bytes
from encdec.ui import cache, charts, live
from encdec.ui.common import codes_or_stop, option_labels, page, png, t
from encdec.urlstate import LinkError, Start, code_to_text, parse_link

SHOWN = 16  # sliders shown before "the other dimensions"
STEPS = 11  # columns of the traversal grid; the middle one is the current code

info = page("page_editor", "editor_intro")
model = cache.model(info)
k = model.config.code_dim
test = cache.split(model.config.dataset, "test")
names = class_names(model.config.dataset)
codes, ranges = codes_or_stop(info), cache.ranges(info)
if model.is_classifier:
    st.info(t("editor_classifier_note"))

# -- the state: from a code sent here, a shared link, or the first test digit -------------------
ed: Editor | None = st.session_state.get("editor")
request = st.session_state.pop("edit_request", None)  # a code sent from the map or the draw page
if request is not None and request[1].numel() == k:
    start, sent = request
    ed = Editor.begin(info.name, model, codes, ranges, start, custom=sent, code=sent, version=ed.version if ed else 0)
elif ed is None or ed.model_name != info.name:
    start, z = Start("test", 0), None
    if ed is None:  # the first visit: a shared link may say where to start
        try:
            start, z = parse_link(st.query_params.get("start"), st.query_params.get("z"), k, len(test))
        except LinkError as e:
            st.warning(t("bad_link", error=t(f"link_{e.key}", **e.values)))
    ed = Editor.begin(info.name, model, codes, ranges, start, custom=z if start.kind == "code" else None, code=z,
                      version=ed.version if ed else 0)
if st.session_state.get("editor") is not ed:
    st.session_state["editor"] = ed
    st.session_state["start_kind"], st.session_state["start_index"] = ed.start.kind, ed.start.index


# -- where to start --------------------------------------------------------------------------
def pick_random() -> None:
    pool = arithmetic.digits_of_class(test.labels, st.session_state["start_digit"])
    st.session_state["start_index"] = int(pool[torch.randint(len(pool), ()).item()])


c1, c2, c3, c4 = st.columns([3, 2, 1, 1], vertical_alignment="bottom")
kinds = ["test", "mean", "zeros"] + (["code"] if ed.custom is not None else [])
kind = c1.radio(t("start"), kinds, format_func=option_labels("start_"), key="start_kind", horizontal=True)
if kind == "test":
    c2.number_input(t("start_index"), 0, len(test) - 1, key="start_index")
    c3.selectbox(t("start_digit"), range(10), format_func=lambda d: names[d], key="start_digit")
    c4.button(t("start_pick"), on_click=pick_random, help=t("start_random"))
start = Start(kind, int(st.session_state["start_index"]) if kind == "test" else 0)
if start != ed.start:
    ed = st.session_state["editor"] = ed.restart(model, codes, ranges, start)
st.query_params["start"] = ed.start.to_param()

a, b, _ = st.columns([1, 1, 4])
if ed.start.kind == "test":
    a.image(png(test.floats(ed.start.index)[0, 0], 4), caption=f"{t('input')}: {names[int(test.labels[ed.start.index])]}")
if not model.is_classifier:
    b.image(png(latent.decode(model, ed.base)[0], 4), caption=t("reconstruction"))

# -- the editor: the page decodes while the hand moves; Python hears of the code on release -----
in_page = live.load_model(info)
if not in_page:
    st.caption(t("editor_server_side"))
TEXT = {"edited": t("edited"), "probabilities": t("probabilities"), "more": t("more_dims"), "reset_all": t("reset_all"),
        "reset_help": t("reset_help"), "dim": t("dim_label"), "start": t("code_start"), "traversal": t("traversal"),
        "edit": t("traversal_edit"), "steps": t("interp_steps"), "path": t("interp_method"),
        "linear": t("interp_linear"), "slerp": t("interp_slerp")}


def server_pictures(ed: Editor) -> dict:
    """What the page would draw, drawn here (for a model the page cannot run)."""
    import base64

    url = lambda img: "data:image/png;base64," + base64.b64encode(png_bytes(grid(img))).decode()  # noqa: E731
    out = latent.decoder_output(model, ed.code)[0]
    rows = latent.traversal(model, ed.code, ranges, dims=ed.order, steps=STEPS)
    strips = {} if model.is_classifier else {d: url(rows[r:r + 1]) for r, d in enumerate(ed.order)}
    return {"image": None if model.is_classifier else url(out[None, None]),
            "probs": out.tolist() if model.is_classifier else None, "traversal": strips}


def rounded(values) -> list[float]:
    return [round(float(v), 4) for v in values]


@st.fragment
def editor() -> None:
    ed = st.session_state["editor"]
    data = {"view": "editor", "model_key": live.model_key(info), "version": ed.version, "code": rounded(ed.initial),
            "start": rounded(ed.base), "order": ed.order, "low": rounded(ranges.low), "high": rounded(ranges.high),
            "shown": SHOWN, "steps": STEPS, "classifier": model.is_classifier, "classes": list(names), "text": TEXT}
    ed.take(live.sent("live-editor", "edit"))  # the code of the last release, before the view is drawn
    if not in_page:
        data["server"] = server_pictures(ed)
    live.view("live-editor", data, edit=None)
    st.query_params["z"] = code_to_text(ed.code)
    st.caption(t("code_chart"))
    st.plotly_chart(charts.code_bars(ed.code, ed.base, t("code_edited"), t("code_start")), key="code_bars")
    code = ed.code.clone()
    d1, d2, d3 = st.columns(3)
    if not model.is_classifier:  # pictures are made only when a button is pressed
        d1.download_button(t("download_png"), lambda: png(latent.decode(model, code)[0], 8),
                           file_name=f"{info.name}-decoded.png", mime="image/png", on_click="ignore")
        d2.download_button(t("download_grid"), lambda: png_bytes(grid(latent.traversal(model, code, ranges, ed.order[:SHOWN],
                                                                                       STEPS)), 3),
                           file_name=f"{info.name}-traversal.png", mime="image/png", on_click="ignore")
    d3.download_button(t("download_csv"), lambda: code_csv(code), file_name=f"{info.name}-code.csv", mime="text/csv",
                       on_click="ignore")


editor()
with st.expander(t("dims_ranked")):
    st.plotly_chart(charts.ranking(ed.order, ed.effect, t("dim_label"), t("dim_effect")), key="ranking")


# -- interpolation and arithmetic: chosen here, decoded in the page -------------------------------------
@st.fragment
def interpolation_row() -> None:
    st.subheader(t("interpolation"))
    c1, c2 = st.columns(2)
    i = c1.number_input(t("interp_a"), 0, len(test) - 1, value=0, key="interp_a")
    j = c2.number_input(t("interp_b"), 0, len(test) - 1, value=1, key="interp_b")
    live.view("interpolation", {"view": "interpolation", "model_key": live.model_key(info), "codes": [codes[i].tolist(), codes[j].tolist()],
                                "steps": 8, "method": "slerp" if model.config.kind == "vae" else "linear",
                                "classifier": model.is_classifier, "classes": list(names), "text": TEXT})


@st.fragment
def arithmetic_row() -> None:
    st.subheader(t("arithmetic"))
    st.caption(t("arith_help"))
    defaults = arithmetic.arithmetic_example(test.labels, test.images)
    cols = st.columns(3)
    idx = [col.number_input(t(f"arith_{n}"), 0, len(test) - 1, value=v, key=f"arith_{n}")
           for col, n, v in zip(cols, "abc", defaults)]
    for col, n, i in zip(cols, "abc", idx):
        col.image(png(test.floats(i)[0, 0], 3), caption=f"{t(f'arith_{n}')}: {t('input')}")
    terms = [codes[i] for i in idx]
    live.view("arithmetic", {"view": "arithmetic", "model_key": live.model_key(info),
                             "codes": [z.tolist() for z in (*terms, arithmetic.arithmetic(*terms))],
                             "names": ["A", "B", "C", t("arith_result")], "classifier": model.is_classifier,
                             "classes": list(names), "text": TEXT})


if in_page:
    interpolation_row()
    arithmetic_row()
