import struct

import numpy as np
import pytest
import torch

import encdec
from encdec import DataError
from encdec.data import IDX_FILES


def test_mnist_loads_as_uint8_with_seeded_validation_split(mnist):
    assert mnist.train.images.dtype == torch.uint8
    assert mnist.train.images.shape == (55000, 28, 28) and mnist.val.images.shape == (5000, 28, 28)
    assert mnist.test.images.shape == (10000, 28, 28)
    again = encdec.load_dataset("mnist")
    assert torch.equal(again.val.labels, mnist.val.labels)
    other = encdec.load_dataset("mnist", seed=1)
    assert not torch.equal(other.val.labels, mnist.val.labels)
    assert torch.equal(mnist.test.floats(3), mnist.test.floats(slice(3, 4)))
    x = mnist.test.floats(slice(0, 5))
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1


def test_fashion_mnist_loads():
    d = encdec.load_dataset("fashion")
    assert len(d.test) == 10000 and set(d.test.labels.tolist()) == set(range(10))


def _write_idx(folder, n=12, corrupt=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())
    return images, labels


def test_tiny_synthetic_idx_files_load(tmp_path):
    images, labels = _write_idx(tmp_path / "MNIST" / "raw")
    d = encdec.load_dataset("mnist", tmp_path, val_size=2)
    assert torch.equal(d.test.images, torch.from_numpy(images))
    assert torch.equal(d.test.labels, torch.from_numpy(labels).long())
    assert len(d.train) + len(d.val) == 12


def test_missing_files_name_the_folder_and_the_four_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _write_idx(raw)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as e:
        encdec.load_dataset("mnist", tmp_path, download=False)
    msg = str(e.value)
    assert str(raw) in msg and all(f in msg for f in IDX_FILES)


@pytest.mark.parametrize("name,content,says", [
    ("train-images-idx3-ubyte", b"\x00\x00\x08\x03garbage", "too short"),
    ("t10k-images-idx3-ubyte", bytes(range(256)) * 40, "not an IDX file"),
    ("train-labels-idx1-ubyte", b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "not an IDX file"),
    ("t10k-labels-idx1-ubyte", struct.pack(">II", 0x801, 5000) + b"\x01" * 10, "truncated"),
    ("t10k-images-idx3-ubyte", struct.pack(">IIII", 0x803, 2, 32, 32) + b"\x00" * 2048, "28x28"),
])
def test_a_corrupt_idx_file_is_named_in_one_clear_sentence(tmp_path, name, content, says):
    raw = tmp_path / "MNIST" / "raw"
    _write_idx(raw)
    (raw / name).write_bytes(content)
    with pytest.raises(DataError, match=says) as e:
        encdec.load_dataset("mnist", tmp_path, download=False)
    assert str(raw / name) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("present", [True, False])
def test_an_error_without_a_message_still_gives_one_sentence(tmp_path, monkeypatch, present):
    """Present files are read by the library itself; missing ones come through torchvision's download."""
    raw = tmp_path / "MNIST" / "raw"
    if present:
        _write_idx(raw)
    import encdec.data as data

    def broken(*a, **k):
        raise AssertionError()  # torchvision's own checks raise bare asserts
    monkeypatch.setattr(data, "_read_idx" if present else "_read", broken)
    says = "could not be read.*AssertionError" if present else "could not be downloaded"
    with pytest.raises(DataError, match=says):
        encdec.load_dataset("mnist", tmp_path, download=True)


def test_the_library_reads_the_idx_files_as_torchvision_does():
    from torchvision import datasets

    ours = encdec.load_dataset("mnist", val_size=0)
    theirs = datasets.MNIST(root=str(encdec.settings.data_dir()), train=False)
    assert torch.equal(ours.test.images, theirs.data) and torch.equal(ours.test.labels, theirs.targets)


def test_unknown_dataset_is_refused():
    with pytest.raises(DataError, match="Unknown dataset"):
        encdec.load_dataset("cifar")


@pytest.mark.slow
def test_a_missing_dataset_is_fetched_once_through_torchvision(tmp_path, monkeypatch):
    """What a fresh clone does with network access: torchvision downloads the four files (here from
    a mirror on this machine, made of the real files) into the data folder, once."""
    import functools
    import gzip
    import http.server
    import threading

    from torchvision import datasets

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in IDX_FILES:
        (mirror / f"{name}.gz").write_bytes(gzip.compress((encdec.settings.data_dir() / "MNIST" / "raw" / name).read_bytes()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{httpd.server_port}/"])
    monkeypatch.setattr(datasets.MNIST, "resources", [(f"{n}.gz", None) for n in IDX_FILES])
    try:
        fresh = tmp_path / "data"
        d = encdec.load_dataset("mnist", fresh, download=True)
        assert len(d.test) == 10000 and all((fresh / "MNIST" / "raw" / n).is_file() for n in IDX_FILES)
        httpd.shutdown()  # a second load reads the files, no network
        encdec.data._load_raw.cache_clear()
        assert len(encdec.load_dataset("mnist", fresh, download=True).test) == 10000
    finally:
        httpd.server_close()


def test_the_training_split_is_every_image_the_test_split_is_not(mnist):
    whole = mnist.split("train")
    assert len(whole) == len(mnist.train) + len(mnist.val) == 60000
    assert torch.equal(whole.images[:len(mnist.train)], mnist.train.images)
    assert torch.equal(whole.labels[len(mnist.train):], mnist.val.labels)
    assert mnist.split("test") is mnist.test
    with pytest.raises(DataError, match="Unknown split"):
        mnist.split("validation-ish")
