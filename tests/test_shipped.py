"""The shipped models: they load, their stored test metrics are what a fresh evaluation gives,
they meet their bars, and together they stay small."""
import pytest

import encdec
from encdec.cli import ZOO
from tests.conftest import ROOT

MODELS = ROOT / "models"
# name -> (metric, bound, "max" or "min"), from the issue that asked for the models.
BARS = {
    "mnist-mlp-ae-2": ("mse", 0.036, "max"),
    "mnist-mlp-ae-16": ("mse", 0.0085, "max"),
    "mnist-cnn-ae-16": ("mse", 0.0075, "max"),
    "mnist-lstm-ae-16": ("mse", 0.015, "max"),
    "mnist-mlp-clf": ("accuracy", 0.984, "min"),
    "mnist-cnn-clf": ("accuracy", 0.993, "min"),
    "mnist-lstm-clf": ("accuracy", 0.987, "min"),
}


def test_every_zoo_model_is_shipped_and_the_folder_stays_under_25_mb():
    assert {p.stem for p in MODELS.glob("*.safetensors")} == set(ZOO)
    assert sum(p.stat().st_size for p in MODELS.glob("*.safetensors")) <= 25 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(ZOO))
def test_shipped_model_loads_and_its_metrics_match_a_fresh_evaluation(name, mnist):
    model = encdec.load(MODELS / f"{name}.safetensors")
    data = mnist if model.config.dataset == "mnist" else encdec.load_dataset(model.config.dataset)
    fresh = encdec.evaluate(model, data.test)
    stored = model.meta["metrics"]
    assert stored["test_size"] == len(data.test) and stored["train_size"] == 55000
    for key, value in fresh.items():
        assert stored[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    if name in BARS:
        metric, bound, how = BARS[name]
        assert fresh[metric] <= bound if how == "max" else fresh[metric] >= bound
    assert model.meta["recipe"]["command"].startswith("python -m encdec train")
