"""How well a model does on a whole split: a classifier's predictions and its confusion matrix, an
autoencoder's reconstruction error per image."""
from __future__ import annotations

import torch

from .data import Split
from .latent import decode
from .models import EVAL_BATCH, EncoderDecoder


@torch.inference_mode()
def predictions(model: EncoderDecoder, split: Split, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """A classifier's predicted class for every image of a split: (N,)."""
    return torch.cat([model.classify(split.floats(slice(i, i + batch_size)).to(model.device)).argmax(1).cpu()
                      for i in range(0, len(split), batch_size)])


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """(true, predicted) counts."""
    labels, predicted = torch.as_tensor(labels).long(), torch.as_tensor(predicted).long()
    return torch.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def accuracy(matrix: torch.Tensor) -> float:
    """Share of the confusion matrix on its diagonal."""
    return float(torch.diag(matrix).sum() / matrix.sum().clamp_min(1))


def most_confused(matrix: torch.Tensor) -> tuple[int, int]:
    """(true class, predicted class) of the most frequent mistake."""
    off = matrix - torch.diag(torch.diag(matrix))
    i = int(off.argmax())
    return i // matrix.shape[1], i % matrix.shape[1]


def reconstruction_errors(model: EncoderDecoder, split: Split, codes: torch.Tensor, batch_size: int = EVAL_BATCH):
    """Each image's squared reconstruction error per pixel: a numpy array (N,)."""
    out = [((decode(model, codes[i:i + batch_size]) - split.floats(slice(i, i + batch_size))[:, 0]) ** 2).mean((1, 2))
           for i in range(0, len(split), batch_size)]
    return torch.cat(out).numpy()
