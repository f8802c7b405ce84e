"""One dataclass config describes a model; `build(config)` makes it.

Kinds:
- autoencoder: encoder -> code -> image decoder
- vae: the encoder gives a Gaussian (mean, log-variance); `encode` returns the mean
- classifier: encoder -> code -> linear head to 10 classes (the head is its decoder)
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .data import DATASETS
from .nets import DECODERS, DEFAULT_HIDDEN, ENCODERS, PIXELS, deskew, make_decoder, make_encoder

KINDS = ("autoencoder", "vae", "classifier")
CODE_DIM_RANGE = (2, 64)
HEAD = "linear"  # the classifier's decoder


# Images per forward pass when a whole split runs without gradients: on 2 CPU cores a CNN encodes the
# 10,000 test images in 1.9 s at 256 and in 5.3 s at 2,000, whose activations no longer fit the caches.
EVAL_BATCH = 256
MAX_PARAMETERS = 50_000_000  # 200 MB of float32: the largest checkpoint this app saves and loads


class ConfigError(ValueError):
    """A model setting is out of range; the message says which and what is allowed."""


def shown(value, limit: int = 40) -> str:
    """A user's value quoted in a message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "autoencoder"
    encoder: str = "mlp"
    decoder: str | None = None  # None: mlp for image decoders, "linear" for classifiers
    code_dim: int = 16
    hidden: int = 0             # width of encoder and decoder; 0 = family default
    dropout: float = 0.0
    dataset: str = "mnist"
    deskew: bool = False        # make each digit upright by its moments before the encoder reads it (nets.deskew)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"Unknown model kind {shown(self.kind)}; choose one of {', '.join(KINDS)}.")
        if self.encoder not in ENCODERS:
            raise ConfigError(f"Unknown encoder {shown(self.encoder)}; choose one of {', '.join(ENCODERS)}.")
        decoder = self.decoder or (HEAD if self.kind == "classifier" else "mlp")
        if self.kind == "classifier":
            if decoder != HEAD:
                raise ConfigError(f"A classifier's decoder is its linear head; got decoder {shown(decoder)}.")
        elif decoder not in DECODERS:
            raise ConfigError(f"Unknown decoder {shown(decoder)}; choose one of {', '.join(DECODERS)}.")
        object.__setattr__(self, "decoder", decoder)
        lo, hi = CODE_DIM_RANGE
        if isinstance(self.code_dim, bool) or not isinstance(self.code_dim, int) or not lo <= self.code_dim <= hi:
            raise ConfigError(f"Code size must be a whole number from {lo} to {hi}; got {shown(self.code_dim)}.")
        if isinstance(self.hidden, bool) or not isinstance(self.hidden, int) or not (self.hidden == 0 or 8 <= self.hidden <= 2048):
            raise ConfigError(f"Hidden width must be 0 (default) or from 8 to 2048; got {shown(self.hidden)}.")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"Dropout must be at least 0 and below 1; got {shown(self.dropout)}.")
        if not isinstance(self.deskew, bool):
            raise ConfigError(f"Deskew must be true or false; got {shown(self.deskew)}.")
        if self.dataset not in DATASETS:
            raise ConfigError(f"Unknown dataset {shown(self.dataset)}; choose one of {', '.join(DATASETS)}.")
        n = self.num_parameters()
        if n > MAX_PARAMETERS:
            raise ConfigError(f"This model would have {n:,} parameters ({n * 4 / 1e6:,.0f} MB); the largest this app "
                              f"trains, saves and loads has {MAX_PARAMETERS:,} (200 MB): choose a smaller hidden width.")

    def num_parameters(self) -> int:
        """The model's parameter count, without allocating its weights."""
        return _state_shapes(self)[1]

    def state_shapes(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Name -> (shape, dtype) of every tensor in the model's state dict, without allocating them."""
        return _state_shapes(self)[0]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise ConfigError("A model config must be a JSON object.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"Unknown model settings: {', '.join(sorted(unknown))}.")
        return cls(**d)

    @property
    def title(self) -> str:
        """e.g. 'autoencoder, cnn -> deconv, code 16'."""
        return f"{self.kind}, {self.encoder} -> {self.decoder}, code {self.code_dim}"


class EncoderDecoder(nn.Module):
    """An encoder, a code, and a decoder (an image decoder or a classifier head)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.meta: dict = {}
        k = config.code_dim
        enc_hidden = config.hidden or DEFAULT_HIDDEN[config.encoder]
        out = 2 * k if config.kind == "vae" else k
        self.encoder = make_encoder(config.encoder, out, enc_hidden, config.dropout)
        if config.kind == "classifier":
            self.decoder = nn.Linear(k, 10)
        else:
            dec_hidden = config.hidden or DEFAULT_HIDDEN[config.decoder]
            self.decoder = make_decoder(config.decoder, k, dec_hidden)

    # -- transfer: a frozen encoder --------------------------------------
    def freeze_encoder(self) -> "EncoderDecoder":
        """Stop the encoder from learning: no gradients, and its BatchNorm statistics stay put
        (it stays in eval mode even while the decoder trains)."""
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder_frozen = True
        self.encoder.eval()
        return self

    def train(self, mode: bool = True) -> "EncoderDecoder":
        super().train(mode)
        if getattr(self, "encoder_frozen", False):
            self.encoder.eval()
        return self

    # -- the public API -------------------------------------------------
    @property
    def is_classifier(self) -> bool:
        return self.config.kind == "classifier"

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _read(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder is given: the images, deskewed when the config says so."""
        return deskew(x) if self.config.deskew else x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: float (N,1,28,28) in [0,1] -> code (N, k); the mean for a VAE."""
        h = self.encoder(self._read(x))
        return h[:, : self.config.code_dim] if self.config.kind == "vae" else h

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        if self.is_classifier:
            raise TypeError("A classifier decodes a code to class logits: use model.head(z).")
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """code (N, k) -> image (N,1,28,28) in [0,1]."""
        return torch.sigmoid(self.decode_logits(z))

    def head(self, z: torch.Tensor) -> torch.Tensor:
        """A classifier's decoder: code (N, k) -> logits (N, 10)."""
        if not self.is_classifier:
            raise TypeError("Only a classifier has a head; an autoencoder decodes codes to images.")
        return self.decoder(z)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))

    def forward(self, x: torch.Tensor) -> dict:
        """Everything the training losses need, in one pass."""
        h = self.encoder(self._read(x))
        if self.config.kind == "classifier":
            return {"code": h, "logits": self.decoder(h)}
        if self.config.kind == "vae":
            k = self.config.code_dim
            # exp(+-12) spans 6e-6 to 1.6e5 in variance: wide enough for any code, and exp() cannot overflow
            mu, logvar = h[:, :k], h[:, k:].clamp(-12, 12)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
            return {"code": mu, "logvar": logvar, "recon_logits": self.decoder(z)}
        return {"code": h, "recon_logits": self.decoder(h)}

    def num_parameters(self, part: str | None = None) -> int:
        module = self if part is None else getattr(self, part)
        return sum(p.numel() for p in module.parameters())


def weight_layers(module: nn.Module) -> list[tuple[str, int]]:
    """The layers that hold weights, in order, with their parameter counts."""
    out = []
    for name, m in module.named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if own:
            out.append((f"{type(m).__name__} {name}", own))
    return out


def build(config: ModelConfig) -> EncoderDecoder:
    return EncoderDecoder(config)


@functools.lru_cache(maxsize=256)
def _state_shapes(config: ModelConfig) -> tuple[dict, int]:
    with torch.device("meta"):  # shapes only: nothing is allocated, however large
        model = EncoderDecoder(config)
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
    return shapes, model.num_parameters()


def losses(model: EncoderDecoder, out: dict, x: torch.Tensor, y: torch.Tensor) -> dict:
    """The loss that trains both encoder and decoder, plus its parts (means over the batch)."""
    kind = model.config.kind
    if kind == "classifier":
        ce = F.cross_entropy(out["logits"], y)
        return {"loss": ce, "cross_entropy": ce}
    bce = F.binary_cross_entropy_with_logits(out["recon_logits"], x, reduction="none").flatten(1).sum(1)  # (N,)
    if kind == "autoencoder":
        loss = bce.mean() / PIXELS  # per pixel
        return {"loss": loss, "bce": loss}
    mu, logvar = out["code"], out["logvar"]
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # (N,)
    elbo_loss = (bce + kl).mean()  # negative ELBO per image, in nats
    return {"loss": elbo_loss / PIXELS, "bce": bce.mean() / PIXELS, "kl": kl.mean(), "neg_elbo": elbo_loss}
