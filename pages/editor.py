import torch
import streamlit as st

from encdec import latent
from encdec.data import class_names
from encdec.imaging import code_csv, grid, png_bytes
from encdec.ui import charts
from encdec.ui import cache
from encdec.ui.common import codes_or_stop, page, png, probability_chart, t
from encdec.urlstate import LinkError, Start, code_to_text, parse_link

SHOWN = 16  # sliders shown before "the other dimensions"
STEPS = 10  # columns of the traversal grid

info = page("page_editor", "editor_intro")
model = cache.model(info)
k = model.config.code_dim
test = cache.dataset(model.config.dataset).test
names = class_names(model.config.dataset)
codes, ranges = codes_or_stop(info), cache.ranges(info)
if model.is_classifier:
    st.info(t("editor_classifier_note"))
ed = st.session_state.setdefault("editor", {})


def base_code(start: Start) -> torch.Tensor:
    if start.kind == "code":
        return ed["custom"].clone()
    if start.kind == "mean":
        return ranges.mean.clone()
    if start.kind == "zeros":
        return torch.zeros(k)
    return codes[start.index].clone()


def apply_start(start: Start, z: torch.Tensor | None = None) -> None:
    """Start editing from `start` (or from the code `z` of a shared link)."""
    base = base_code(start)
    order, effect = latent.rank_dimensions(model, base, ranges)
    ed.update(model=info.name, start=start, base=base, order=order, effect=effect, focus=None)
    for i, v in enumerate((z if z is not None else base).tolist()):
        st.session_state[f"z{i}"] = float(v)
    st.query_params["start"] = start.to_param()


def pick_random() -> None:
    pool = latent.digits_of_class(test.labels, st.session_state["start_digit"])
    st.session_state["start_index"] = int(pool[torch.randint(len(pool), ()).item()])


def reset(dims) -> None:
    for d in dims:
        st.session_state[f"z{d}"] = float(ed["base"][d])


def begin(start: Start, z: torch.Tensor | None) -> None:
    if start.kind == "code":
        ed["custom"] = z
    st.session_state["start_kind"], st.session_state["start_index"] = start.kind, start.index
    apply_start(start, z)


request = st.session_state.pop("edit_request", None)  # a code sent from the map or the draw page
if request is not None and request[1].numel() == k:
    begin(*request)
elif ed.get("model") != info.name:
    ed.pop("custom", None)
    start, z = Start("test", 0), None
    if "model" not in ed:  # the first visit: a shared link may say where to start
        try:
            start, z = parse_link(st.query_params.get("start"), st.query_params.get("z"), k, len(test))
        except LinkError as e:
            st.warning(t("bad_link", error=t(f"link_{e.key}", **e.values)))
            start, z = Start("test", 0), None
    begin(start, z)

# -- where to start ------------------------------------------------------------------
c1, c2, c3, c4 = st.columns([3, 2, 1, 1], vertical_alignment="bottom")
kinds = ["test", "mean", "zeros"] + (["code"] if "custom" in ed else [])
kind = c1.radio(t("start"), kinds, format_func=lambda s: t(f"start_{s}"), key="start_kind", horizontal=True)
if kind == "test":
    c2.number_input(t("start_index"), 0, len(test) - 1, key="start_index")
    c3.selectbox(t("start_digit"), range(10), format_func=lambda d: names[d], key="start_digit")
    c4.button(t("start_pick"), on_click=pick_random, help=t("start_random"))
start = Start(kind, int(st.session_state["start_index"]) if kind == "test" else 0)
if start != ed["start"]:
    apply_start(start)

a, b, _ = st.columns([1, 1, 4])
if start.kind == "test":
    a.image(png(test.floats(start.index)[0, 0], 4), caption=f"{t('input')}: {names[int(test.labels[start.index])]}")
if not model.is_classifier:
    b.image(png(latent.decoder_output(model, ed["base"])[0], 4), caption=t("reconstruction"))


# -- the editor: sliders and what the decoder makes of them -----------------------------
def slider(d: int) -> None:
    base, cur = float(ed["base"][d]), float(st.session_state[f"z{d}"])
    lo = min(float(ranges.low[d]), base, cur)
    hi = max(float(ranges.high[d]), base, cur)
    left, right = st.columns([8, 1], vertical_alignment="bottom")
    mark = "▶ " if ed.get("focus") == d else ""
    left.slider(f"{mark}{t('dim_label', d=d)} · {t('code_start')} {base:.2f}", lo, hi, step=(hi - lo) / 200,
                key=f"z{d}", format="%.2f", help=t("slider_help", start=base))
    right.button(t("reset"), key=f"reset{d}", on_click=reset, args=([d],), help=t("reset_help"))


@st.fragment
def editor() -> None:
    order = ed["order"]
    focus = ed.get("focus")
    shown = order[:SHOWN]
    if focus is not None:
        shown = [focus] + [d for d in shown if d != focus]
    rest = [d for d in order if d not in shown]
    z = torch.tensor([st.session_state[f"z{i}"] for i in range(k)])
    out = latent.decoder_output(model, z)[0]
    left, right = st.columns([3, 2])
    with right:
        if model.is_classifier:
            st.caption(t("probabilities"))
            probability_chart(out, names)
        else:
            st.image(png(out, 8), caption=t("edited"))
        st.caption(t("code_chart"))
        st.plotly_chart(charts.code_bars(z, ed["base"], t("code_edited"), t("code_start")), key="code_bars")
        st.caption(t("dims_ranked"))
        st.plotly_chart(charts.ranking(order, ed["effect"], t("dim_label"), t("dim_effect")), key="ranking")
    with left:
        st.button(t("reset_all"), on_click=reset, args=(range(k),))
        if focus is not None:
            st.caption(t("focused", d=focus))
        for d in shown:
            slider(d)
        if rest:
            with st.expander(t("more_dims", n=len(rest))):
                for d in rest:
                    slider(d)
    st.query_params["z"] = code_to_text(z)

    st.subheader(t("traversal"))
    rows = latent.traversal(model, z, ranges, dims=shown, steps=STEPS)  # (D, STEPS, ...)
    if model.is_classifier:
        top = rows.argmax(-1)  # (D, STEPS)
        for r, d in enumerate(shown):
            c_btn, c_row = st.columns([1, 9], vertical_alignment="center")
            c_btn.button(f"{t('traversal_edit')} {d}", key=f"edit{d}", on_click=ed.update, kwargs={"focus": d})
            c_row.write(" · ".join(f"{names[int(c)]} ({float(rows[r, j, c]):.0%})" for j, c in enumerate(top[r])))
        grid_png = None
    else:
        for r, d in enumerate(shown):
            c_btn, c_row = st.columns([1, 9], vertical_alignment="center")
            c_btn.button(f"{t('traversal_edit')} {d}", key=f"edit{d}", on_click=ed.update, kwargs={"focus": d})
            c_row.image(png(grid(rows[r:r + 1], pad=1), 2))
        grid_png = png_bytes(grid(rows), 3)
    d1, d2, d3 = st.columns(3)
    if not model.is_classifier:
        d1.download_button(t("download_png"), png(out, 8), file_name=f"{info.name}-decoded.png", mime="image/png",
                           on_click="ignore")
        d2.download_button(t("download_grid"), grid_png, file_name=f"{info.name}-traversal.png", mime="image/png",
                           on_click="ignore")
    d3.download_button(t("download_csv"), code_csv(z), file_name=f"{info.name}-code.csv", mime="text/csv",
                       on_click="ignore")


editor()


# -- interpolation and arithmetic -----------------------------------------------------------
def show_row(outputs: torch.Tensor, labels: list[str]) -> None:
    """Decoded images side by side, or class probabilities along the row for a classifier."""
    if model.is_classifier:
        st.plotly_chart(charts.class_strip(outputs, names, labels))
    else:
        for col, img, label in zip(st.columns(len(labels)), outputs, labels):
            col.image(png(img, 3), caption=label)


@st.fragment
def interpolation() -> None:
    st.subheader(t("interpolation"))
    c1, c2, c3, c4 = st.columns(4)
    i = c1.number_input(t("interp_a"), 0, len(test) - 1, value=0, key="interp_a")
    j = c2.number_input(t("interp_b"), 0, len(test) - 1, value=1, key="interp_b")
    steps = c3.slider(t("interp_steps"), 3, 16, 8, key="interp_steps")
    method = c4.radio(t("interp_method"), ["linear", "slerp"], index=1 if model.config.kind == "vae" else 0,
                      format_func=lambda m: t(f"interp_{m}"), key="interp_method", horizontal=True)
    path = latent.interpolate(codes[i], codes[j], steps, method)
    labels = [f"{s / (steps - 1):.2f}" for s in range(steps)]
    show_row(latent.decoder_output(model, path), labels)


@st.fragment
def arithmetic() -> None:
    st.subheader(t("arithmetic"))
    st.caption(t("arith_help"))
    defaults = latent.arithmetic_example(test.labels, test.images)
    cols = st.columns(3)
    idx = [col.number_input(t(f"arith_{n}"), 0, len(test) - 1, value=v, key=f"arith_{n}")
           for col, n, v in zip(cols, "abc", defaults)]
    terms = [codes[i] for i in idx]
    result = latent.arithmetic(*terms)
    inputs = torch.stack([test.floats(i)[0, 0] for i in idx])
    labels = ["A", "B", "C"]
    if model.is_classifier:
        show_row(latent.decoder_output(model, torch.stack([*terms, result])), labels + [t("arith_result")])
    else:
        outs = latent.decoder_output(model, torch.stack([*terms, result]))
        for col, img, out, label in zip(st.columns(4), [*inputs, None], outs, labels + [t("arith_result")]):
            if img is not None:
                col.image(png(img, 3), caption=f"{label}: {t('input')}")
            col.image(png(out, 3), caption=f"{label}: {t('reconstruction')}" if img is not None else label)


interpolation()
arithmetic()
