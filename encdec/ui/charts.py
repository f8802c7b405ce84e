"""Plotly figures the pages show."""
from __future__ import annotations

import plotly.graph_objects as go


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


