import json
import os
import pickle
import struct

import pytest
import torch

import encdec
from encdec import CheckpointError, ModelConfig, ModelStore, build


@pytest.fixture
def model():
    torch.manual_seed(1)
    m = build(ModelConfig(kind="autoencoder", encoder="cnn", decoder="deconv", code_dim=6)).eval()
    return m


def test_save_load_round_trip_gives_identical_outputs(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors", metrics={"mse": 0.01}, recipe={"epochs": 1})
    loaded = encdec.load(path)
    assert loaded.config == model.config
    assert loaded.meta["metrics"] == {"mse": 0.01}
    assert loaded.meta["recipe"] == {"epochs": 1} and loaded.meta["dataset"] == "mnist" and "created" in loaded.meta
    assert not loaded.training and loaded.device.type == "cpu"
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), model.encode(x))
        assert torch.equal(loaded.decode(loaded.encode(x)), model.decode(model.encode(x)))


def test_save_leaves_no_temporary_files(tmp_path, model):
    encdec.save(model, tmp_path / "m.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_interrupted_save_keeps_the_old_model(tmp_path, model, monkeypatch):
    path = encdec.save(model, tmp_path / "m.safetensors", metrics={"v": 1})
    import encdec.checkpoint as ck

    def broken(tensors, filename, metadata):
        with open(filename, "wb") as f:
            f.write(b"half")
        raise KeyboardInterrupt
    monkeypatch.setattr(ck, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        encdec.save(model, path, metrics={"v": 2})
    assert encdec.load(path).meta["metrics"] == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_renamed_to_safetensors_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(pickle.dumps({"w": Payload()}))
    with pytest.raises(CheckpointError, match="evil.safetensors is not a"):
        encdec.load(bad)
    assert not (tmp_path / "PWNED").exists()


def test_torch_save_file_is_refused(tmp_path, model):
    bad = tmp_path / "torch.safetensors"
    torch.save(model.state_dict(), bad)
    with pytest.raises(CheckpointError, match="not a"):
        encdec.load(bad)


def test_truncated_checkpoint_is_refused(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors")
    data = path.read_bytes()
    for cut in (4, 100, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            encdec.load(path)


def test_random_bytes_and_empty_file_are_refused(tmp_path):
    path = tmp_path / "r.safetensors"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(CheckpointError):
        encdec.load(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError):
        encdec.load(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, path, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not an encoder-decoder model"):
        encdec.load(path)


def _rewrite_header(path, change):
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    change(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


def test_config_that_does_not_match_the_weights_is_refused(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors")

    def claim_code_8(h):
        cfg = json.loads(h["__metadata__"]["config"])
        cfg["code_dim"] = 8
        h["__metadata__"]["config"] = json.dumps(cfg)
    _rewrite_header(path, claim_code_8)
    with pytest.raises(CheckpointError, match="has shape"):
        encdec.load(path)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = encdec.save(build(ModelConfig(encoder="mlp", decoder="mlp", code_dim=4)), tmp_path / "m.safetensors")

    def claim_lstm(h):
        cfg = json.loads(h["__metadata__"]["config"])
        cfg["encoder"] = "lstm"
        h["__metadata__"]["config"] = json.dumps(cfg)
    _rewrite_header(path, claim_lstm)
    with pytest.raises(CheckpointError, match="does not match"):
        encdec.load(path)


def test_newer_format_version_and_invalid_config_are_refused(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors")
    _rewrite_header(path, lambda h: h["__metadata__"].update(format_version="99"))
    with pytest.raises(CheckpointError, match="format version"):
        encdec.load(path)
    path = encdec.save(model, tmp_path / "n.safetensors")
    _rewrite_header(path, lambda h: h["__metadata__"].update(config='{"code_dim": 500}'))
    with pytest.raises(CheckpointError, match="invalid model description.*Code size"):
        encdec.load(path)


def test_store_sanitises_names_and_never_escapes_its_folder(tmp_path, model):
    store = ModelStore(tmp_path / "store")
    for name in ("../../etc/passwd", "/abs/x", "a b/c?d", "..hidden"):
        p = store.path_for(name)
        assert p.parent == store.root and not p.name.startswith(".")
    with pytest.raises(CheckpointError):
        store.path_for("../..")


def test_store_lists_saves_imports_and_deletes(tmp_path, model):
    store = ModelStore(tmp_path / "store")
    store.save(model, "mine", metrics={"mse": 0.02})
    (store.root / "broken.safetensors").write_bytes(b"nope")
    infos = {i.name: i for i in store.list()}
    assert infos["mine"].config == model.config and infos["mine"].metrics == {"mse": 0.02}
    assert infos["broken"].error
    name = store.import_bytes((store.root / "mine.safetensors").read_bytes(), "mine.safetensors")
    assert name == "mine-2" and store.load("mine-2").config == model.config
    with pytest.raises(CheckpointError):
        store.import_bytes(b"garbage", "up.safetensors")
    assert not (store.root / "up.safetensors").exists()
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]
    store.delete("mine-2")
    assert "mine-2" not in {i.name for i in store.list()}


def test_shipped_store_is_read_only(tmp_path, model):
    store = ModelStore(tmp_path, shipped=True)
    with pytest.raises(CheckpointError, match="read-only"):
        store.save(model, "x")
    with pytest.raises(CheckpointError, match="read-only"):
        store.delete("x")
