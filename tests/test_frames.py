"""The code space recorded while a model trains: recorded, aligned, kept with the model."""
import subprocess
import sys

import numpy as np
import pytest

import encdec
from encdec import ModelConfig, TrainConfig, frames
from tests.conftest import ROOT


def _moved(a, b) -> float:
    """Mean distance a point moved between two frames, relative to the frames' spread."""
    spread = np.sqrt(((b - b.mean(0)) ** 2).sum(1).mean())
    return float(np.linalg.norm(a - b, axis=1).mean() / spread)


def test_align_undoes_a_rotation_a_reflection_and_a_scale():
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(500, 2)) * [3, 1]
    turned = (xy @ np.array([[0, 1], [1, 0]])) @ np.array([[np.cos(1), -np.sin(1)], [np.sin(1), np.cos(1)]]) * 7 + 4
    aligned = frames.align(turned, xy)
    assert _moved(aligned, xy - xy.mean(0)) < 1e-6


@pytest.mark.slow
def test_frames_of_a_model_that_barely_changes_stay_put_and_come_back_after_a_restart(mnist, tmp_path):
    recorder = frames.Recorder(mnist.val, n=1000)
    recorder_budget, frames.BUDGET = frames.BUDGET, 1.0  # a frame at every report for this test
    try:
        # no batch norm: with a tiny learning rate nothing in the encoder moves much (statistics included)
        model = encdec.train_model(ModelConfig(encoder="mlp", decoder="mlp", code_dim=8),
                                   TrainConfig(epochs=1, limit=1200, lr=1e-5, log_every=2), mnist, recorder=recorder)
    finally:
        frames.BUDGET = recorder_budget
    recorded = recorder.frames
    assert len(recorded) >= 5 and recorded[-1].epoch == pytest.approx(1.0)
    assert all(f.xy.shape == (1000, 2) for f in recorded)
    assert max(_moved(a.xy, b.xy) for a, b in zip(recorded[1:], recorded[:-1])) < 0.05  # aligned: no jumps, no flips

    path = encdec.save(model, tmp_path / "m.safetensors", frames=recorder.tensors())
    reread = subprocess.run(  # a fresh process, as after a restart of the server
        [sys.executable, "-c", "import sys, encdec; from encdec.frames import from_tensors; "
         "f, labels = from_tensors(encdec.checkpoint.read_frames(sys.argv[1])); print(len(f), f[-1].xy[:3].tolist())",
         str(path)], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split(" ", 1)
    assert int(reread[0]) == len(recorded)
    np.testing.assert_allclose(np.array(eval(reread[1])), recorded[-1].xy[:3], atol=1e-2)  # float16 on disk
    assert encdec.load(path).config == model.config  # the weights load as before


def test_a_two_number_code_is_shown_as_its_own_plane(mnist):
    recorder = frames.Recorder(mnist.val, n=300)
    model = encdec.build(ModelConfig(code_dim=2)).eval()
    recorder(encdec.Progress("epoch", 10, 10, 1, 1, 0.5, 1.0, 1.0, {}, model=model))
    np.testing.assert_allclose(recorder.frames[0].xy, model.encode(recorder.images).detach().numpy(), atol=1e-6)


def test_recording_keeps_within_its_share_of_the_training_time(mnist):
    recorder = frames.Recorder(mnist.val)
    model = encdec.build(ModelConfig(encoder="cnn", decoder="deconv", code_dim=8))
    for step in range(1, 40):  # reports arriving faster than frames can be afforded
        recorder(encdec.Progress("step", step, 100, 1, 1, 0.5, elapsed=0.05 * step, samples_per_s=1.0, model=model))
    one = recorder.spent / len(recorder.frames)
    assert len(recorder.frames) >= 1 and recorder.spent <= frames.BUDGET * 0.05 * 39 + one  # at most one frame over
    assert len(recorder.labels) == frames.MIN_SAMPLE  # a short training of a slow encoder: the smallest sample


def test_a_long_training_of_a_fast_encoder_gets_the_full_sample(mnist):
    recorder = frames.Recorder(mnist.val)
    model = encdec.build(ModelConfig(encoder="mlp", decoder="mlp", code_dim=8))
    recorder(encdec.Progress("step", 1, 100, 1, 1, 0.5, elapsed=60.0, samples_per_s=1.0, model=model))
    assert len(recorder.labels) == frames.SAMPLE and recorder.frames[0].xy.shape == (frames.SAMPLE, 2)


@pytest.mark.parametrize("bad", ["shape", "dtype", "name"])
def test_a_checkpoint_with_foreign_extra_tensors_is_refused(tmp_path, bad):
    import torch

    model = encdec.build(ModelConfig(code_dim=3))
    recorded = {"frames.xy": torch.zeros(2, 10, 2, dtype=torch.float16), "frames.labels": torch.zeros(10, dtype=torch.uint8),
                "frames.when": torch.zeros(2, 2)}
    path = encdec.save(model, tmp_path / "ok.safetensors", frames=recorded)
    assert len(encdec.checkpoint.read_frames(path)) == 3
    if bad == "shape":
        recorded["frames.labels"] = torch.zeros(11, dtype=torch.uint8)
    elif bad == "dtype":
        recorded["frames.xy"] = torch.zeros(2, 10, 2)
    else:
        recorded["evil"] = torch.zeros(1)
    with pytest.raises(ValueError):
        encdec.save(model, tmp_path / "bad.safetensors", frames=recorded)


def test_a_long_training_keeps_frames_spread_evenly_over_its_epochs(mnist, monkeypatch):
    monkeypatch.setattr(frames, "BUDGET", 1e9)  # a frame at every report, so that thinning has work to do
    recorder = frames.Recorder(mnist.val, n=50)
    model = encdec.build(ModelConfig(code_dim=2)).eval()
    total = 1000
    for step in range(1, total + 1):
        recorder(encdec.Progress("step" if step < total else "epoch", step, total, 1, 10, 0.5, step, 1.0, model=model))
    epochs = np.array([f.epoch for f in recorder.frames])
    assert len(epochs) <= frames.MAX_FRAMES and epochs[-1] == pytest.approx(10.0)
    first_half = (epochs < 5).sum() / len(epochs)
    assert 0.4 <= first_half <= 0.6, first_half  # not dense at the end


def test_a_strip_shows_frames_evenly_spaced_in_epochs():
    import io

    from PIL import Image

    from encdec.imaging import frames_strip, strip_picks

    epochs = [0.0, *np.linspace(8, 10, 60)]  # most frames at the end, as a budget-limited recording may have them
    assert [epochs[i] for i in strip_picks(epochs, 3)] == [0.0, 8.0, 10.0]
    recorded = [frames.Frame(np.random.default_rng(0).normal(size=(20, 2)), e, 1.0) for e in epochs]
    assert Image.open(io.BytesIO(frames_strip(recorded, np.zeros(20, int), count=3, size=50))).size == (150, 72)
