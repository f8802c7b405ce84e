"""Training augmentation: random, reproducible, in range, and the digits stay digits."""
import pytest
import torch

import encdec
from encdec.augment import PRESETS, apply, preset
from tests.conftest import ROOT


def test_none_leaves_images_alone_and_unknown_presets_are_refused(mnist):
    x = mnist.test.floats(slice(0, 8))
    assert apply(x, PRESETS["none"], torch.Generator().manual_seed(0)) is x
    with pytest.raises(ValueError, match="Unknown augmentation"):
        preset("sideways")


@pytest.mark.parametrize("name", ["shift", "handwriting"])
def test_augmented_images_keep_their_shape_range_and_are_reproducible(mnist, name):
    x = mnist.test.floats(slice(0, 64))
    a = apply(x.clone(), PRESETS[name], torch.Generator().manual_seed(3))
    b = apply(x.clone(), PRESETS[name], torch.Generator().manual_seed(3))
    c = apply(x.clone(), PRESETS[name], torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    moved = (a - x).abs().flatten(1).mean(1)
    assert (moved > 0.01).float().mean() > 0.8  # nearly every image really changed


def test_handwriting_changes_thickness_slant_and_sharpness_yet_digits_stay_readable(mnist):
    x = mnist.test.floats(slice(0, 1000))
    y = apply(x.clone(), PRESETS["handwriting"], torch.Generator().manual_seed(0))
    ink_before, ink_after = (x > 0.5).flatten(1).sum(1).float(), (y > 0.5).flatten(1).sum(1).float()
    ratio = ink_after / ink_before.clamp_min(1)
    assert (ratio > 1.3).float().mean() > 0.1 and (ratio < 0.75).float().mean() > 0.05  # thicker and thinner ones
    model = encdec.load(ROOT / "models" / "mnist-cnn-clf.safetensors")
    with torch.no_grad():
        accuracy = (model.classify(y).argmax(1) == mnist.test.labels[:1000]).float().mean()
    assert accuracy > 0.95  # still the same digits
