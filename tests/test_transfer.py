import pytest
import torch

import encdec
from encdec import ModelConfig, build, transfer
from encdec.data import Dataset
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def small(mnist):
    return Dataset("mnist", mnist.train.head(3000), mnist.val.head(500), mnist.test.head(1000))


@pytest.fixture(scope="module")
def classifier(small):
    torch.manual_seed(0)
    model = build(ModelConfig(kind="classifier", encoder="cnn", code_dim=16))
    encdec.fit(model, small, epochs=1, lr=3e-3)
    return model.eval()


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_freezing_really_freezes_and_only_the_new_part_learns(classifier, small):
    before = state(classifier.encoder)
    model = transfer.decoder_from_classifier(classifier, small, decoder="mlp", epochs=1, limit=600)
    after = state(model.encoder)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BatchNorm statistics
    assert all(not p.requires_grad for p in model.encoder.parameters())
    x = small.test.floats(slice(0, 8))
    model.train()
    assert not model.encoder.training  # stays in eval mode: its statistics cannot drift
    loss = encdec.models.losses(model, model(x), x, None)["loss"]
    loss.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.decoder.parameters())
    assert torch.equal(state(classifier.encoder)["net.1.running_mean"], before["net.1.running_mean"])


def test_decoder_from_a_classifier_code_lowers_its_loss_and_saves(classifier, small, tmp_path):
    untrained = build(ModelConfig(kind="autoencoder", encoder="cnn", decoder="deconv", code_dim=16))
    untrained.encoder.load_state_dict(classifier.encoder.state_dict())
    start = encdec.evaluate(untrained, small.test)["bce"]
    model = transfer.decoder_from_classifier(classifier, small, decoder="deconv", epochs=2, source_name="clf-x")
    assert model.meta["metrics"]["bce"] < 0.8 * start
    assert model.meta["recipe"]["frozen_encoder"] == "clf-x"
    loaded = encdec.load(encdec.save(model, tmp_path / "d.safetensors"))
    assert loaded.meta["recipe"]["transfer"].startswith("decoder on a frozen")


def test_linear_probe_on_a_shipped_autoencoder_code_beats_chance_widely(small):
    ae = encdec.load(ROOT / "models" / "mnist-mlp-ae-16.safetensors")
    seen = []
    rows = transfer.linear_probe(ae, small, per_class=(10, 100), callback=lambda step: seen.append(step.fraction))
    assert [r["labels_per_class"] for r in rows] == [10, 100]
    assert rows[1]["code"] > 0.7 and rows[0]["code"] > 0.4  # chance is 0.1
    assert {"pixels", "pca"} <= set(rows[0]) and seen[-1] == pytest.approx(1.0)


def test_probe_model_is_a_classifier_on_the_frozen_encoder(small):
    ae = encdec.load(ROOT / "models" / "mnist-mlp-ae-16.safetensors")
    probe = transfer.probe_model(ae, small, per_class=100, source_name="mnist-mlp-ae-16")
    assert probe.is_classifier and probe.meta["metrics"]["accuracy"] > 0.7
    assert all(torch.equal(a, b) for a, b in zip(probe.encoder.state_dict().values(), ae.encoder.state_dict().values()))


def test_balanced_subset_takes_n_of_each_class(mnist):
    idx = transfer.balanced_subset(mnist.train.labels, 10)
    assert len(idx) == 100 and torch.bincount(mnist.train.labels[idx]).tolist() == [10] * 10


def test_stop_ends_a_linear_probe(small):
    import threading

    ae = encdec.load(ROOT / "models" / "mnist-mlp-ae-16.safetensors")
    stop = threading.Event()
    stop.set()
    with pytest.raises(encdec.TrainingStopped):
        transfer.linear_probe(ae, small, per_class=(10,), stop=stop)


@pytest.mark.slow
def test_transfer_jobs_run_through_the_engine_and_save_their_models(tmp_path, user_home):
    """A probe, a probe saved as a classifier and a new decoder on a frozen classifier, queued on one
    worker process and run one after the other."""
    import time

    from encdec import engine, jobs

    e = engine.Engine(engine.LocalBackend({"train": 1, "maps": 1}), {"train": 1, "maps": 1})
    try:
        store = encdec.ModelStore(tmp_path)
        ae, clf = ROOT / "models" / "mnist-mlp-ae-16.safetensors", ROOT / "models" / "mnist-mlp-clf.safetensors"
        probe = jobs.probe(e, ae)
        saved = jobs.probe_model(e, ae, 10, store, "my-probe", "mnist-mlp-ae-16")
        decoder = jobs.new_decoder(e, clf, "mlp", 1, 600, store, "my-decoder", "mnist-mlp-clf")
        end = time.time() + 600
        while not all(j.finished for j in (probe, saved, decoder)) and time.time() < end:
            time.sleep(0.1)
    finally:
        e.close()
    assert [j.status for j in (probe, saved, decoder)] == ["done"] * 3, [j.error for j in (probe, saved, decoder)]
    assert len(probe.result) == 4 and probe.result[-1]["code"] > 0.7
    assert saved.result == "my-probe" and store.load("my-probe").is_classifier
    assert decoder.result == "my-decoder" and decoder.curve  # a training: with its loss curve
