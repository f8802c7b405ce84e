"""A model described for the page's own forward pass (encdec/ui/live.js).

`plan(model)` lists, for the encoder and the decoder, the operations the page runs one after the
other, each naming the weights it uses by their PyTorch names (`decoder.net.3.weight`).
`weights_blob(model)` is one safetensors file, made from the model in memory (shipped, trained and
uploaded models alike), holding the float32 weights and the plan as metadata. A layer the page
does not know raises `Unsupported`, and the app then draws on the server instead.
"""
from __future__ import annotations

import json

import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from .models import EncoderDecoder
from .nets import CNNEncoder, DeconvDecoder, LSTMDecoder, LSTMEncoder, MLPDecoder, MLPEncoder


class Unsupported(ValueError):
    """The model has a layer the page's forward pass does not know."""


def _layer(m: nn.Module, name: str) -> dict | None:
    """One module of a Sequential as an operation (None for those that do nothing in eval mode)."""
    bias = lambda: f"{name}.bias" if getattr(m, "bias", None) is not None else None  # noqa: E731
    if isinstance(m, nn.Linear):
        return {"op": "linear", "weight": f"{name}.weight", "bias": bias()}
    if isinstance(m, nn.Conv2d) and m.groups == 1 and m.dilation == (1, 1) and m.padding_mode == "zeros":
        return {"op": "conv2d", "weight": f"{name}.weight", "bias": bias(), "stride": m.stride[0], "padding": m.padding[0]}
    if isinstance(m, nn.ConvTranspose2d) and m.groups == 1 and m.dilation == (1, 1) and m.output_padding == (0, 0):
        return {"op": "conv_transpose2d", "weight": f"{name}.weight", "bias": bias(), "stride": m.stride[0],
                "padding": m.padding[0]}
    if isinstance(m, nn.BatchNorm2d) and m.affine and m.track_running_stats:
        return {"op": "batchnorm", "weight": f"{name}.weight", "bias": f"{name}.bias", "mean": f"{name}.running_mean",
                "var": f"{name}.running_var", "eps": m.eps}
    if type(m) in (nn.ReLU, nn.Tanh, nn.Sigmoid):
        return {"op": type(m).__name__.lower()}
    if type(m) in (nn.Dropout, nn.Flatten, nn.Identity):
        return None
    raise Unsupported(f"the page cannot run a {type(m).__name__} layer ({name})")


def _sequential(seq: nn.Module, name: str) -> list[dict]:
    if not isinstance(seq, nn.Sequential):
        raise Unsupported(f"the page cannot run {type(seq).__name__} ({name})")
    return [op for i, m in enumerate(seq) if (op := _layer(m, f"{name}.{i}")) is not None]


def _lstm(m: nn.Module, name: str) -> dict:
    if not (isinstance(m, nn.LSTM) and m.batch_first and m.bias and not m.bidirectional and m.proj_size == 0):
        raise Unsupported(f"the page cannot run this recurrent layer ({name})")
    return {"op": "lstm", "prefix": name, "layers": m.num_layers, "hidden": m.hidden_size}


def _encoder(enc: nn.Module) -> list[dict]:
    if type(enc) in (MLPEncoder, CNNEncoder):
        return _sequential(enc.net, "encoder.net")
    if type(enc) is LSTMEncoder:                 # rows as 28 time steps, the last hidden state, a linear layer
        return [{"op": "reshape", "shape": [28, 28]}, _lstm(enc.lstm, "encoder.lstm"), {"op": "last"},
                _layer(enc.out, "encoder.out")]
    raise Unsupported(f"the page cannot run a {type(enc).__name__} encoder")


def _decoder(dec: nn.Module) -> list[dict]:
    if type(dec) is MLPDecoder:
        return _sequential(dec.net, "decoder.net")
    if type(dec) is DeconvDecoder:
        return [*_sequential(dec.fc, "decoder.fc"), {"op": "reshape", "shape": [2 * dec.w, 7, 7]},
                *_sequential(dec.net, "decoder.net")]
    if type(dec) is LSTMDecoder:
        step = _lstm(dec.lstm, "decoder.lstm")
        return [{**step, "op": "lstm_decoder", "init_weight": "decoder.init.weight", "init_bias": "decoder.init.bias",
                 "steps": 28}, _layer(dec.row, "decoder.row")]
    if type(dec) is nn.Linear:                   # a classifier's head
        return [_layer(dec, "decoder")]
    raise Unsupported(f"the page cannot run a {type(dec).__name__} decoder")


def plan(model: EncoderDecoder) -> dict:
    """What the page runs: pixels (784) -> code, and code -> pixels (784) or class probabilities (10)."""
    c = model.config
    encoder = ([{"op": "deskew"}] if c.deskew else []) + _encoder(model.encoder)
    if c.kind == "vae":
        encoder.append({"op": "take", "n": c.code_dim})  # the mean half of the encoder's output
    decoder = _decoder(model.decoder) + [{"op": "softmax" if model.is_classifier else "sigmoid"}]
    return {"kind": c.kind, "code_dim": c.code_dim, "encoder": encoder, "decoder": decoder}


def weights_blob(model: EncoderDecoder, model_id: str = "") -> bytes:
    """The plan and the float32 weights it names, as one safetensors file (bytes)."""
    p = plan(model)
    names = {v for ops in (p["encoder"], p["decoder"]) for op in ops for k, v in op.items()
             if k in ("weight", "bias", "mean", "var", "init_weight", "init_bias") and v}
    state = model.state_dict()
    for ops in (p["encoder"], p["decoder"]):
        for op in ops:
            if op["op"] in ("lstm", "lstm_decoder"):
                names |= {k for k in state if k.startswith(op["prefix"] + ".")}
    tensors = {k: state[k].detach().to("cpu", torch.float32).contiguous() for k in sorted(names)}
    return safetensors_bytes(tensors, metadata={"kind": "model", "plan": json.dumps(p), "id": model_id})


