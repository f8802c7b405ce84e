"""Plotly figures the pages show."""
from __future__ import annotations

import plotly.graph_objects as go


def loss_curve(curve, epochs: int, train_name: str, val_name: str, x_title: str, y_title: str) -> go.Figure:
    """curve: (fraction, train loss or None, validation loss or None) points."""
    train = [(f * epochs, v) for f, v, _ in curve if v is not None]
    val = [(f * epochs, v) for f, _, v in curve if v is not None]
    fig = go.Figure()
    if train:
        fig.add_scatter(x=[a for a, _ in train], y=[b for _, b in train], mode="lines", name=train_name)
    if val:
        fig.add_scatter(x=[a for a, _ in val], y=[b for _, b in val], mode="lines+markers", name=val_name)
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=x_title, yaxis_title=y_title,
                      legend=dict(orientation="h", y=1.1))
    return fig


def probabilities(probs, names) -> go.Figure:
    """Class probabilities as bars, the most likely one highlighted."""
    values = [float(p) for p in probs]
    top = max(range(len(values)), key=values.__getitem__)
    fig = go.Figure(go.Bar(x=[str(n) for n in names], y=values,
                           marker_color=["#d62728" if i == top else "#1f77b4" for i in range(len(values))]))
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(range=[0, 1], tickformat=".0%"),
                      xaxis=dict(type="category"))
    return fig


def ranking(order: list[int], effect, label: str, y_title: str) -> go.Figure:
    """Bar per dimension, most influential first."""
    names = [label.format(d=d) for d in order]
    fig = go.Figure(go.Bar(x=names, y=[float(effect[d]) for d in order]))
    fig.update_layout(height=180, margin=dict(l=10, r=10, t=10, b=10), yaxis_title=y_title,
                      xaxis=dict(categoryorder="array", categoryarray=names))
    return fig


def code_bars(edited, start=None, edited_name: str = "", start_name: str = "") -> go.Figure:
    """One bar per code dimension; `start` values drawn as marks over the bars."""
    dims = list(range(len(edited)))
    fig = go.Figure()
    fig.add_bar(x=dims, y=[float(v) for v in edited], name=edited_name)
    if start is not None:
        fig.add_scatter(x=dims, y=[float(v) for v in start], mode="markers", name=start_name,
                        marker=dict(color="black", size=7, symbol="line-ew-open", line=dict(width=2)))
    fig.update_layout(height=200, margin=dict(l=10, r=10, t=10, b=10), showlegend=start is not None,
                      legend=dict(orientation="h", y=1.15), xaxis=dict(dtick=1 if len(dims) <= 32 else 4))
    return fig


def latent_map(xy, labels, names, indices=None, values=None, value_name: str = "", marked=None,
               marked_name: str = "", height: int = 650) -> go.Figure:
    """A Scattergl map, one trace per class (the legend toggles classes), each point carrying its
    dataset index as customdata. With `values`, one trace coloured by them instead.
    `marked`: extra (x, y) points drawn as stars on top (a drawn digit)."""
    import numpy as np

    from ..imaging import PALETTE

    xy, labels = np.asarray(xy), np.asarray(labels)
    indices = np.arange(len(xy)) if indices is None else np.asarray(indices)
    fig = go.Figure()
    if values is None:
        for c, name in enumerate(names):
            m = labels == c
            fig.add_trace(go.Scattergl(x=xy[m, 0], y=xy[m, 1], mode="markers", name=str(name),
                                       customdata=indices[m], marker=dict(size=3, color=PALETTE[c]),
                                       hovertemplate=f"{name} · #%{{customdata}}<extra></extra>"))
    else:
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name=value_name, customdata=indices,
                                   marker=dict(size=3, color=np.asarray(values), colorscale="Viridis", showscale=True,
                                               colorbar=dict(title=value_name)),
                                   hovertemplate="#%{customdata}: %{marker.color:.4f}<extra></extra>"))
    if marked is not None:
        marked = np.asarray(marked).reshape(-1, 2)
        fig.add_trace(go.Scattergl(x=marked[:, 0], y=marked[:, 1], mode="markers", name=marked_name,
                                 marker=dict(size=18, symbol="star", color="black", line=dict(color="white", width=2))))
    # No dragmode here: left to Streamlit, a click selects a point; lasso and box are in the toolbar.
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      legend=dict(itemsizing="constant"), xaxis=dict(showticklabels=False),
                      yaxis=dict(showticklabels=False, scaleanchor="x"))
    return fig


def confusion(matrix, names, x_title: str, y_title: str) -> go.Figure:
    """Counts of (true row, predicted column); click a cell to select it."""
    import numpy as np

    m = np.asarray(matrix)
    fig = go.Figure(go.Heatmap(z=m, x=list(names), y=list(names), text=m, texttemplate="%{text}",
                               colorscale="Blues", showscale=False, hoverinfo="skip"))
    # Heatmap cells cannot be selected by a click; an invisible marker over each cell can.
    cells = [(str(p), str(t), int(m[i, j])) for i, t in enumerate(names) for j, p in enumerate(names)]
    fig.add_scatter(x=[c[0] for c in cells], y=[c[1] for c in cells], customdata=[c[2] for c in cells],
                    mode="markers", showlegend=False, marker=dict(size=28, symbol="square", opacity=0),
                    hovertemplate=f"{y_title} %{{y}} · {x_title} %{{x}}: %{{customdata}}<extra></extra>")
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(title=x_title, type="category"),
                      yaxis=dict(title=y_title, type="category", autorange="reversed"))
    return fig


def probe_curves(rows, labels: dict, x_title: str, y_title: str) -> go.Figure:
    """Accuracy against labels per class, one line per input."""
    fig = go.Figure()
    xs = [r["train_size"] for r in rows]
    for key, name in labels.items():
        fig.add_scatter(x=xs, y=[r[key] for r in rows], mode="lines+markers", name=name)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(title=x_title, type="log"),
                      yaxis=dict(title=y_title, tickformat=".0%"), legend=dict(orientation="h", y=1.12))
    return fig


def architecture(encoder_layers, head_params: int, labels: dict) -> str:
    """A Graphviz DOT picture: input -> encoder layers -> code -> head -> 10 classes. `labels` has
    the words to show (encoder, decoder, input, code, head, output) in the page's language."""
    enc = "\\l".join(f"{name}  ({params:,})" for name, params in encoder_layers) + "\\l"
    return f"""digraph {{
  rankdir=LR; node [shape=box, style="rounded,filled", fontname="sans-serif", fillcolor="#f0f2f6"];
  input [label="{labels['input']}"];
  subgraph cluster_enc {{ label="{labels['encoder']}"; color="#1f77b4"; enc [label="{enc}", fillcolor="#dbe9f6"]; }}
  code [label="{labels['code']}", shape=ellipse, fillcolor="#ffe8cc"];
  subgraph cluster_dec {{ label="{labels['decoder']}"; color="#d62728"; head [label="{labels['head']}\\l({head_params:,})\\l", fillcolor="#f8dcdc"]; }}
  out [label="{labels['output']}"];
  input -> enc -> code -> head -> out;
}}"""


def _frame_traces(xy, labels, names):
    import numpy as np

    from ..imaging import PALETTE

    xy, labels = np.round(np.asarray(xy, dtype=np.float64), 3), np.asarray(labels)
    return [go.Scattergl(x=xy[labels == c, 0], y=xy[labels == c, 1], mode="markers", name=str(name),
                         marker=dict(size=3, color=PALETTE[c])) for c, name in enumerate(names)]


def code_space(frame, labels, names, title: str, height: int = 380) -> go.Figure:
    """One frame of the code space during training: the sample's codes in 2-D, coloured by class."""
    fig = go.Figure(_frame_traces(frame.xy, labels, names))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), title=dict(text=title, font=dict(size=13)),
                      legend=dict(itemsizing="constant"), xaxis=dict(showticklabels=False),
                      yaxis=dict(showticklabels=False, scaleanchor="x"))
    return fig


def code_space_replay(frames, labels, names, title: str, play: str, height: int = 460) -> go.Figure:
    """Every recorded frame as an animation: a slider over the epochs and a play button.
    `title` is a template with {epoch} and {loss}."""
    import numpy as np

    every = np.concatenate([f.xy for f in frames])
    lo, hi = every.min(0), every.max(0)
    pad = (hi - lo) * 0.05
    names_of = [f"{f.epoch:.2f}" for f in frames]
    fig = go.Figure(_frame_traces(frames[0].xy, labels, names),
                    frames=[go.Frame(data=_frame_traces(f.xy, labels, names), name=n,
                                     layout=dict(title=dict(text=title.format(epoch=f.epoch, loss=f.loss))))
                            for f, n in zip(frames, names_of)])
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(itemsizing="constant"),
        title=dict(text=title.format(epoch=frames[0].epoch, loss=frames[0].loss), font=dict(size=13)),
        xaxis=dict(showticklabels=False, range=[lo[0] - pad[0], hi[0] + pad[0]]),
        yaxis=dict(showticklabels=False, range=[lo[1] - pad[1], hi[1] + pad[1]]),
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.02, xanchor="left", yanchor="top",
                          buttons=[dict(label=play, method="animate",
                                        args=[None, dict(frame=dict(duration=250, redraw=True), fromcurrent=True)])])],
        sliders=[dict(x=0.12, y=-0.02, len=0.88, currentvalue=dict(prefix="epoch "),
                      steps=[dict(label=n, method="animate", args=[[n], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                             for n in names_of])])
    return fig
