"""Encoders (image -> code) and decoders (code -> image logits).

Every encoder maps x (N,1,28,28) to (N, out_dim); every decoder maps a code
(N, k) to pixel logits (N,1,28,28), so any encoder pairs with any decoder.
"""
from __future__ import annotations

import torch
from torch import nn

PIXELS = 28 * 28  # 784: an MNIST image, flattened
ENCODERS = ("mlp", "cnn", "lstm")
DECODERS = ("mlp", "lstm", "deconv")
# Default width of each family (the `hidden` config field overrides it).
DEFAULT_HIDDEN = {"mlp": 512, "cnn": 32, "lstm": 128, "deconv": 32}


class MLPEncoder(nn.Module):
    def __init__(self, out_dim: int, hidden: int = 512, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(PIXELS, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden // 2, out_dim),
        )

    def forward(self, x):
        return self.net(x)  # (N, out_dim)


def _conv(cin, cout, stride):
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class CNNEncoder(nn.Module):
    def __init__(self, out_dim: int, hidden: int = 32, dropout: float = 0.0):
        super().__init__()
        w = hidden
        self.net = nn.Sequential(
            *_conv(1, w, 1), *_conv(w, w, 2),            # (N, w, 14, 14)
            *_conv(w, 2 * w, 1), *_conv(2 * w, 2 * w, 2),  # (N, 2w, 7, 7)
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(2 * w * 49, 128), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(128, out_dim),
        )

    def forward(self, x):
        return self.net(x)  # (N, out_dim)


class LSTMEncoder(nn.Module):
    """Reads the image row by row: 28 steps of 28 pixels."""

    def __init__(self, out_dim: int, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(28, hidden, num_layers=2, batch_first=True, dropout=dropout)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, x):
        rows = x.view(x.shape[0], 28, 28)          # (N, T=28, 28)
        h, _ = self.lstm(rows)                    # (N, 28, hidden)
        return self.out(h[:, -1])                 # (N, out_dim)


class MLPDecoder(nn.Module):
    def __init__(self, code_dim: int, hidden: int = 512):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(code_dim, hidden // 2), nn.ReLU(),
            nn.Linear(hidden // 2, hidden), nn.ReLU(),
            nn.Linear(hidden, PIXELS),
        )

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class LSTMDecoder(nn.Module):
    """Emits the image one row per step; the code is fed at every step."""

    def __init__(self, code_dim: int, hidden: int = 128):
        super().__init__()
        self.init = nn.Linear(code_dim, 2 * 2 * hidden)  # h0 and c0 of both layers
        self.lstm = nn.LSTM(code_dim, hidden, num_layers=2, batch_first=True)
        self.row = nn.Linear(hidden, 28)
        self.hidden = hidden

    def forward(self, z):
        n = z.shape[0]
        h0, c0 = torch.tanh(self.init(z)).view(n, 2, 2, self.hidden).permute(1, 2, 0, 3).contiguous()
        steps = z.unsqueeze(1).expand(n, 28, z.shape[1])  # (N, 28, k)
        h, _ = self.lstm(steps, (h0.contiguous(), c0.contiguous()))
        return self.row(h).view(n, 1, 28, 28)


class DeconvDecoder(nn.Module):
    """Transposed convolutions from a 7x7 map up to 28x28."""

    def __init__(self, code_dim: int, hidden: int = 32):
        super().__init__()
        w = hidden
        self.w = w
        self.fc = nn.Sequential(nn.Linear(code_dim, 128), nn.ReLU(), nn.Linear(128, 2 * w * 49), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),      # 14x14
            nn.ConvTranspose2d(w, 1, 4, 2, 1),                                                # 28x28
        )

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 2 * self.w, 7, 7))


def deskew(x: torch.Tensor, limit: float = 1.0) -> torch.Tensor:
    """Each digit made upright and centred by its moments, as in the classic MNIST results: the
    shear that takes its ink's slant (covariance of row and column over the variance of rows, at most
    `limit`) away, about its centre of mass, which moves to the middle. x (N,1,28,28) -> same; an
    empty image stays as it is. Bilinear, zeros outside (mirrored in the page, live.js)."""
    n = x.shape[0]
    img = x.reshape(n, 28, 28)
    r = torch.arange(28, dtype=x.dtype, device=x.device)
    mass = img.sum((1, 2))
    safe = mass.clamp_min(1e-6)
    rows, cols = r.view(1, 28, 1), r.view(1, 1, 28)
    cy = (img * rows).sum((1, 2)) / safe
    cx = (img * cols).sum((1, 2)) / safe
    dy, dx = rows - cy.view(n, 1, 1), cols - cx.view(n, 1, 1)
    var = (img * dy * dy).sum((1, 2)) / safe
    cov = (img * dy * dx).sum((1, 2)) / safe
    alpha = (cov / var.clamp_min(1e-6)).clamp(-limit, limit)
    alpha = torch.where(mass > 1e-6, alpha, torch.zeros_like(alpha))
    cy = torch.where(mass > 1e-6, cy, torch.full_like(cy, 13.5))
    cx = torch.where(mass > 1e-6, cx, torch.full_like(cx, 13.5))
    # output pixel (i, j) reads the input at row i + cy - 13.5, column j + alpha (i - 13.5) + cx - 13.5
    src_r = rows + (cy - 13.5).view(n, 1, 1)                                           # (N, 28, 1)
    src_c = cols + alpha.view(n, 1, 1) * (rows - 13.5) + (cx - 13.5).view(n, 1, 1)      # (N, 28, 28)
    grid = torch.stack([src_c, src_r.expand(n, 28, 28)], -1) / 13.5 - 1                 # (N, 28, 28, 2): (x, y)
    return nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def make_encoder(name: str, out_dim: int, hidden: int, dropout: float) -> nn.Module:
    cls = {"mlp": MLPEncoder, "cnn": CNNEncoder, "lstm": LSTMEncoder}[name]
    return cls(out_dim, hidden, dropout)


def make_decoder(name: str, code_dim: int, hidden: int) -> nn.Module:
    cls = {"mlp": MLPDecoder, "lstm": LSTMDecoder, "deconv": DeconvDecoder}[name]
    return cls(code_dim, hidden)
