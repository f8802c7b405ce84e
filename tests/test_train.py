import json
import subprocess
import sys
import threading

import pytest
import torch

import encdec
from encdec import ModelConfig, TrainConfig, TrainingError, TrainingStopped, build
from tests.conftest import ROOT


def test_short_training_lowers_the_loss_and_reports_progress(mnist):
    torch.manual_seed(0)
    model = build(ModelConfig(kind="autoencoder", encoder="mlp", decoder="mlp", code_dim=8))
    before = encdec.evaluate(model, mnist.test.head(1000))
    seen = []
    history = encdec.fit(model, mnist, epochs=2, limit=4000, lr=2e-3, log_every=5, callback=seen.append)
    after = encdec.evaluate(model, mnist.test.head(1000))
    assert after["mse"] < 0.7 * before["mse"]
    assert history["val_loss"][-1] < history["train_loss"][0]
    phases = [p.phase for p in seen]
    assert phases.count("epoch") == 2 and phases[-1] == "done" and "step" in phases
    assert all(p.val for p in seen if p.phase == "epoch")


def test_classifier_learns_above_chance_quickly(mnist):
    model = build(ModelConfig(kind="classifier", encoder="cnn", code_dim=16))
    encdec.fit(model, mnist, epochs=1, limit=3000, lr=3e-3)
    assert encdec.evaluate(model, mnist.test.head(1000))["accuracy"] > 0.8


def test_training_is_seeded(mnist):
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build(ModelConfig(code_dim=4))
        encdec.fit(model, mnist, epochs=1, limit=512, seed=3)
        outs.append(model.encode(mnist.test.floats(slice(0, 4))))
    assert torch.equal(outs[0], outs[1])


def test_non_finite_loss_stops_with_a_clear_error(mnist):
    model = build(ModelConfig(code_dim=4))
    with torch.no_grad():
        model.encoder.net[1].weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="diverged.*lower the learning rate"):
        encdec.fit(model, mnist, epochs=1, limit=256)


def test_stop_event_stops_training(mnist):
    stop = threading.Event()
    stop.set()
    with pytest.raises(TrainingStopped):
        encdec.fit(build(ModelConfig(code_dim=4)), mnist, epochs=1, limit=256, stop=stop)


@pytest.mark.parametrize("kw", [dict(epochs=0), dict(epochs=10_000), dict(lr=5.0), dict(limit=0)])
def test_absurd_training_settings_are_refused(kw):
    with pytest.raises(TrainingError):
        TrainConfig(**kw)


def test_train_model_records_metrics_and_recipe(mnist):
    model = encdec.train_model(ModelConfig(kind="vae", encoder="mlp", decoder="mlp", code_dim=4),
                               TrainConfig(epochs=1, limit=500), mnist)
    m = model.meta["metrics"]
    assert {"mse", "bce", "kl", "neg_elbo", "wall_time_s", "samples_per_s"} <= set(m)
    assert model.meta["recipe"]["train"]["limit"] == 500 and len(model.meta["history"]["val_loss"]) == 1


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "encdec", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_cli_train_then_evaluate_json_end_to_end(tmp_path):
    out = tmp_path / "m.safetensors"
    r = _cli("train", "--kind", "classifier", "--encoder", "lstm", "--code-dim", "8", "--epochs", "1",
             "--limit", "1000", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.exists() and "saved" in r.stderr
    r = _cli("evaluate", str(out), "--json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics["accuracy"] == pytest.approx(encdec.load(out).meta["metrics"]["accuracy"], abs=1e-6)
    r = _cli("list", str(tmp_path))
    assert "classifier, lstm -> linear, code 8" in r.stdout


def test_cli_reports_user_errors_in_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    r = _cli("evaluate", str(bad))
    assert r.returncode == 2 and r.stderr.startswith("error: bad.safetensors")
    r = _cli("train", "--code-dim", "100", "--out", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and "Code size" in r.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_cli_sample_writes_a_grid_of_decoded_random_codes(tmp_path):
    model = tmp_path / "v.safetensors"
    encdec.save(build(ModelConfig(kind="vae", code_dim=4)), model)
    r = _cli("sample", str(model), "--out", str(tmp_path / "s.png"), "--rows", "2", "--cols", "3")
    assert r.returncode == 0, r.stderr
    from PIL import Image
    assert Image.open(tmp_path / "s.png").size == (2 * (3 * 30 - 2), 2 * (2 * 30 - 2))
