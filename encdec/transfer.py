"""Codes carry features that transfer: freeze a trained encoder and train only a new part.

- `linear_probe`: a linear classifier on a frozen autoencoder's codes, next to the same linear
  classifier on raw pixels and on PCA codes of the same size, for several numbers of labels.
- `decoder_from_classifier`: a new image decoder trained on a frozen classifier's codes.
Both return models that save and load like any other, with a recipe naming the frozen encoder.
"""
from __future__ import annotations

import time
from dataclasses import replace

import torch
from torch.nn import functional as F

from . import latent
from .data import Dataset, Split
from .models import EncoderDecoder, ModelConfig, build
from .train import Step, TrainConfig, TrainingError, both, check_stop, evaluate, fit

LABELS_PER_CLASS = (10, 100, 1000, None)  # None: all labels


def balanced_subset(labels: torch.Tensor, per_class: int | None, seed: int = 0) -> torch.Tensor:
    """Indices of `per_class` random examples of each class (all indices for None)."""
    if per_class is None:
        return torch.arange(len(labels))
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        picks.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(picks).sort().values


def _moments(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and (never zero) standard deviation, to standardise with."""
    return features.mean(0), features.std(0).clamp_min(1e-6)


def fit_linear(features: torch.Tensor, labels: torch.Tensor, steps: int = 500, lr: float = 1e-2,
               weight_decay: float = 1e-4, seed: int = 0) -> torch.nn.Linear:
    """A multinomial logistic regression (one linear layer): `steps` Adam steps on batches of up to
    4096, so small and large label sets get the same amount of optimisation."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(features.shape[1], 10)
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    batch = min(len(features), 4096)
    gen = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(len(features), generator=gen), 0
    for _ in range(steps):
        if pos + batch > len(features):
            order, pos = torch.randperm(len(features), generator=gen), 0
        idx = order[pos:pos + batch]
        pos += batch
        loss = F.cross_entropy(head(features[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


def _accuracy(head, features, labels) -> float:
    with torch.no_grad():
        return float((head(features).argmax(1) == labels).float().mean())


def linear_probe(model: EncoderDecoder, data: Dataset, per_class=LABELS_PER_CLASS, callback=None,
                 stop=None, seed: int = 0) -> list[dict]:
    """Test accuracy of the same linear classifier on three inputs: the frozen model's codes,
    raw pixels, and PCA codes of the same size, trained with `per_class` labels per class.
    `callback(Step)` reports progress; a set `stop` ends it with TrainingStopped."""
    from sklearn.decomposition import PCA

    report = callback or (lambda step: None)
    k = model.config.code_dim
    report(Step(0.0, "probe_encoding"))
    train_codes = latent.encode_split(model, data.train)
    test_codes = latent.encode_split(model, data.test)
    train_px = data.train.images.reshape(len(data.train), -1).float() / 255
    test_px = data.test.images.reshape(len(data.test), -1).float() / 255
    check_stop(stop)
    report(Step(0.15, "probe_pca", {"k": k}))
    pca = PCA(n_components=k, random_state=seed).fit(train_px.numpy())
    train_pca = torch.from_numpy(pca.transform(train_px.numpy())).float()
    test_pca = torch.from_numpy(pca.transform(test_px.numpy())).float()
    inputs = {"code": (train_codes, test_codes), "pixels": (train_px, test_px), "pca": (train_pca, test_pca)}
    rows, steps, done = [], len(per_class) * len(inputs), 0
    for n in per_class:
        idx = balanced_subset(data.train.labels, n, seed)
        row = {"labels_per_class": n, "train_size": len(idx)}
        for name, (tr, te) in inputs.items():
            mean, std = _moments(tr[idx])
            tr_s, te_s = (tr[idx] - mean) / std, (te - mean) / std
            head = fit_linear(tr_s, data.train.labels[idx], seed=seed)
            row[name] = _accuracy(head, te_s, data.test.labels)
            done += 1
            check_stop(stop)
            report(Step(0.15 + 0.85 * done / steps, f"probe_fitting_{name}", {"n": n or 0}))
        rows.append(row)
    return rows


def probe_model(model: EncoderDecoder, data: Dataset, per_class: int | None = None, seed: int = 0,
                source_name: str | None = None, callback=None, stop=None) -> EncoderDecoder:
    """A classifier made of `model`'s frozen encoder and the linear head `linear_probe` measures
    (fitted on standardised codes, with the standardisation folded into the head's weights)."""
    if model.config.kind != "autoencoder":
        raise TrainingError("A linear probe model needs an autoencoder's encoder (a VAE or classifier encoder differs).")
    probe = build(replace(model.config, kind="classifier", decoder=None))
    probe.encoder.load_state_dict(model.encoder.state_dict())
    probe.freeze_encoder()
    idx = balanced_subset(data.train.labels, per_class, seed)
    (callback or (lambda step: None))(Step(0.0, "probe_encoding"))
    codes = latent.encode_split(model, Split(data.train.images[idx], data.train.labels[idx]))
    check_stop(stop)
    mean, std = _moments(codes)
    start = time.perf_counter()
    head = fit_linear((codes - mean) / std, data.train.labels[idx], seed=seed)
    with torch.no_grad():  # head((z - mean) / std) == (W / std) z + (b - W mean / std)
        probe.decoder.weight.copy_(head.weight / std)
        probe.decoder.bias.copy_(head.bias - (head.weight / std) @ mean)
    seconds = time.perf_counter() - start
    history = {"epoch": [], "train_loss": [], "val_loss": [], "wall_time_s": seconds,
               "samples_per_s": len(idx) / max(seconds, 1e-9)}
    _describe(probe, source_name or model.config.title, data, history, "linear probe",
              labels_per_class=per_class, train_size=len(idx))
    return probe


def decoder_from_classifier(classifier: EncoderDecoder, data: Dataset, decoder: str = "deconv", epochs: int = 2,
                            limit: int | None = None, callback=None, stop=None, seed: int = 0,
                            source_name: str | None = None, recorder=None) -> EncoderDecoder:
    """An autoencoder whose encoder is `classifier`'s, frozen, and whose image decoder is new
    (with `recorder`, frames.recorder, its code space is recorded as it trains: it stays put)."""
    if not classifier.is_classifier:
        raise TrainingError("Choose a classifier: its code is what the new decoder learns to draw from.")
    config = ModelConfig(kind="autoencoder", encoder=classifier.config.encoder, decoder=decoder,
                         code_dim=classifier.config.code_dim, hidden=classifier.config.hidden,
                         dropout=classifier.config.dropout, dataset=classifier.config.dataset,
                         deskew=classifier.config.deskew)
    torch.manual_seed(seed)
    model = build(config)
    model.encoder.load_state_dict(classifier.encoder.state_dict())
    model.freeze_encoder()
    if recorder is not None:
        callback = both(recorder, callback)
    history = fit(model, data, TrainConfig(epochs=epochs, lr=3e-3, seed=seed, limit=limit), callback=callback, stop=stop)
    check_stop(stop)
    _describe(model, source_name or classifier.config.title, data, history, "decoder on a frozen classifier encoder",
              decoder=decoder, epochs=epochs, limit=limit)
    return model


def _describe(model, source: str, data, history, what, **recipe):
    metrics = evaluate(model, data.test)
    metrics.update(wall_time_s=history["wall_time_s"], samples_per_s=history["samples_per_s"])
    model.meta = {"metrics": metrics, "dataset": data.name, "history": {k: history[k] for k in ("epoch", "train_loss", "val_loss")},
                  "recipe": {"transfer": what, "frozen_encoder": source, **recipe}}
    model.eval()
