"""The shipped models: they load, their stored test metrics are what a fresh evaluation gives, they
meet their bars (also on drawn digits that never came from MNIST), and together they stay small."""
import shlex

import pytest
import torch

import encdec
from encdec.cli import ZOO, zoo_args
from tests.conftest import ROOT

MODELS = ROOT / "models"
# name -> (metric, bound, "max" or "min"): what each shipped model must reach on the test split.
BARS = {
    "mnist-mlp-ae-2": ("mse", 0.036, "max"),
    "mnist-mlp-ae-16": ("mse", 0.0085, "max"),
    "mnist-cnn-ae-16": ("mse", 0.0075, "max"),
    "mnist-lstm-ae-16": ("mse", 0.015, "max"),
    "mnist-cnn-vae-16": ("mse", 0.008, "max"),
    "mnist-mlp-clf": ("accuracy", 0.984, "min"),
    "mnist-cnn-clf": ("accuracy", 0.993, "min"),
    "mnist-lstm-clf": ("accuracy", 0.987, "min"),
    "fashion-cnn-clf": ("accuracy", 0.92, "min"),
    "fashion-cnn-ae-16": ("mse", 0.0095, "max"),
    "fashion-cnn-vae-16": ("mse", 0.013, "max"),
    "fashion-mlp-ae-2": ("mse", 0.035, "max"),   # PCA with 2 components: 0.0461
}
DRAWN_BAR = 0.98  # every shipped MNIST classifier on the drawn digits of bench/drawn.py
OTHER_WRITERS_BAR = 0.95  # ... and on scikit-learn's 8x8 digits by 43 other writers


def test_every_zoo_model_is_shipped_with_its_maps_and_the_folder_stays_under_30_mb():
    assert {p.stem for p in MODELS.glob("*.safetensors")} == set(ZOO)
    assert {p.name for p in MODELS.glob("*.npz")} == {f"{n}.{kind}.npz" for n in ZOO
                                                       for kind in ("map-test", "map-train", "digest-test")}
    assert (MODELS / "lesson.json").exists()
    assert sum(p.stat().st_size for p in MODELS.iterdir()) < 30_000_000


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO))
def test_shipped_model_loads_and_its_metrics_match_a_fresh_evaluation(name, mnist):
    model = encdec.load(MODELS / f"{name}.safetensors")
    data = mnist if model.config.dataset == "mnist" else encdec.load_dataset(model.config.dataset)
    fresh = encdec.evaluate(model, data.test)
    stored = model.meta["metrics"]
    assert stored["test_size"] == len(data.test) and stored["train_size"] == 55000
    for key, value in fresh.items():
        assert stored[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    metric, bound, how = BARS[name]
    assert fresh[metric] <= bound if how == "max" else fresh[metric] >= bound
    assert model.meta["recipe"]["command"].startswith("python -m encdec train")
    assert model.meta["recipe"]["command"].split(" ", 3)[3] == shlex.join(zoo_args(name))


@pytest.fixture(scope="module")
def not_mnist():
    """Digits that never came from MNIST and that no classifier learned from: bench/drawn.py's pen
    strokes and scikit-learn's 8x8 digits by other writers, as (images, labels) tensors each."""
    from bench.drawn import drawn_digits, sklearn_digits

    return {name: (torch.from_numpy(x)[:, None], torch.from_numpy(y))
            for name, (x, y) in (("drawn", drawn_digits()), ("other writers", sklearn_digits()))}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n, (m, _) in ZOO.items() if m["kind"] == "classifier" and
                                        m.get("dataset", "mnist") == "mnist"))
def test_shipped_classifiers_read_digits_that_are_not_mnists(not_mnist, name):
    model = encdec.load(MODELS / f"{name}.safetensors")
    for which, bar in (("drawn", DRAWN_BAR), ("other writers", OTHER_WRITERS_BAR)):
        images, labels = not_mnist[which]
        assert len(labels) >= 1000
        with torch.no_grad():
            accuracy = (model.classify(images).argmax(1) == labels).float().mean().item()
        assert accuracy >= bar, (which, accuracy)
    assert model.meta["recipe"]["train"]["augment"] == "styles" and model.config.deskew


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_shipped_model_replays_how_its_code_space_formed(name):
    from encdec.checkpoint import read_frames

    frames = read_frames(MODELS / f"{name}.safetensors")
    assert frames is not None, f"{name} was shipped without its training frames"
    f, n, _ = frames["frames.xy"].shape
    assert f >= 10 and n == 1000 and len(frames["frames.labels"]) == n
    epochs = frames["frames.when"][:, 0]
    assert epochs[0] < 1.5 and epochs[-1] == pytest.approx(float(ZOO[name][1]["epochs"]), abs=0.01)
