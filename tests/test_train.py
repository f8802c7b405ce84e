import threading

import pytest
import torch

import encdec
from encdec import ModelConfig, TrainConfig, TrainingError, TrainingStopped, build


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


@pytest.mark.parametrize("kw", [dict(epochs=0), dict(epochs=10_000), dict(lr=5.0), dict(limit=0), dict(seed=2**64),
                                dict(seed=-1), dict(augment="sideways"), dict(batch_size=0), dict(epochs=True),
                                dict(settle=0.9), dict(settle=-0.1), dict(settle="half"), dict(settle=True)])
def test_absurd_training_settings_are_refused(kw):
    with pytest.raises(TrainingError):
        TrainConfig(**kw)


def test_train_model_records_metrics_and_recipe(mnist):
    model = encdec.train_model(ModelConfig(kind="vae", encoder="mlp", decoder="mlp", code_dim=4),
                               TrainConfig(epochs=1, limit=500), mnist)
    m = model.meta["metrics"]
    assert {"mse", "bce", "kl", "neg_elbo", "wall_time_s", "samples_per_s"} <= set(m)
    assert model.meta["recipe"]["train"]["limit"] == 500 and len(model.meta["history"]["val_loss"]) == 1


@pytest.mark.parametrize("name", ["mps", "xpu", "meta", "cuda:7", "tpu", "cpu:x"])
def test_a_device_this_machine_lacks_is_one_training_error(name):
    if name == "mps" and encdec.train._available("mps") or name == "xpu" and encdec.train._available("xpu"):
        pytest.skip(f"this machine has {name}")
    with pytest.raises(TrainingError):
        encdec.resolve_device(name)


def test_stop_during_the_final_test_pass_saves_nothing(mnist, monkeypatch):
    """Stop after the last epoch (while the test split is evaluated) still means nothing is kept."""
    import encdec.train as train

    stop = threading.Event()
    original = train.evaluate

    def slow_evaluate(model, split, *a, **k):
        out = original(model, split, *a, **k)
        if split is not mnist.val:
            stop.set()  # the user presses Stop during the final test pass
        return out

    monkeypatch.setattr(train, "evaluate", slow_evaluate)
    with pytest.raises(TrainingStopped):
        encdec.train_model(ModelConfig(code_dim=3), TrainConfig(epochs=1, limit=256), mnist, stop=stop)


def test_augmentation_is_recorded_in_the_recipe(mnist):
    model = encdec.train_model(ModelConfig(kind="classifier", code_dim=4), TrainConfig(epochs=1, limit=256,
                                                                                     augment="handwriting"), mnist)
    assert model.meta["recipe"]["train"]["augment"] == "handwriting"


def test_a_settling_training_ends_on_gentler_changes(mnist, monkeypatch):
    """With settle=0.5 of 4 epochs, the last 2 see the preset at half strength with a third of the written
    digits; the first 2 see it as it is."""
    import encdec.train as train
    from encdec.augment import PRESETS, gentler

    seen, shares = [], []
    monkeypatch.setattr(train, "augment_batch", lambda x, aug, gen: seen.append(aug) or x)
    monkeypatch.setattr(train, "mix", lambda x, y, pool, share, gen: shares.append(share) or (x, y))
    monkeypatch.setattr(train, "written_pool", lambda n, seed: "pool")  # not drawn: mix is replaced
    encdec.fit(build(ModelConfig(kind="classifier", code_dim=4)), mnist.with_val(mnist.val.head(64)),
               epochs=4, limit=256, batch_size=128, augment="styles", settle=0.5)
    styles = PRESETS["styles"]
    assert seen == [styles] * 4 + [gentler(styles)] * 4
    assert gentler(styles).rotate == styles.rotate / 2 and shares[-1] == pytest.approx(styles.styles / 3)
    assert shares[:4] == [styles.styles] * 4


def test_the_time_estimate_grows_with_the_work():
    from encdec.train import estimate_seconds, time_per_sample

    small = time_per_sample(build(ModelConfig(code_dim=4, hidden=64)))
    large = time_per_sample(build(ModelConfig(encoder="cnn", decoder="deconv", code_dim=4)))
    assert 0 < small < large  # a CNN's step costs more than a narrow MLP's
    one = estimate_seconds(small, TrainConfig(epochs=1), 1000)
    ten = estimate_seconds(small, TrainConfig(epochs=10), 1000)
    assert 0 < one < ten and ten / one > 3


def test_a_time_estimate_never_makes_an_optimizer():
    """The web server measures estimates; the first optimizer of a process imports torch's compiler."""
    import subprocess
    import sys

    code = ("import sys, encdec; from encdec.train import time_per_sample; "
            "time_per_sample(encdec.build(encdec.ModelConfig(code_dim=4))); print('torch._dynamo' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
