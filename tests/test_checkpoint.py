import json
import os
import pickle
import struct

import pytest
import torch

import encdec
from encdec import CheckpointError, ModelConfig, ModelStore, build
from tests.conftest import ROOT


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

    def broken(fd):  # the new file is half written when the save is interrupted
        raise KeyboardInterrupt
    monkeypatch.setattr(ck.os, "fsync", broken)
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
        saved = store.save(model, name)
        p = store.path_for(saved)
        assert p.parent == store.root and not p.name.startswith(".") and p.is_file()
        with pytest.raises(CheckpointError):  # what is not a name never becomes a path
            store.path_for(name)
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


# -- hostile files, names and concurrency ------------------------------------------------------

def _header_only(config: dict, meta: dict | None = None, tensors: dict | None = None) -> bytes:
    """A safetensors file made by hand: a header (with our metadata) and whatever tensors it claims."""
    header = {"__metadata__": {"format": "encdec", "format_version": "1", "config": json.dumps(config),
                               "meta": json.dumps(meta or {})}, **(tensors or {})}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def test_a_tiny_file_claiming_a_huge_model_is_refused_without_building_it(tmp_path):
    import resource
    import time

    path = tmp_path / "huge.safetensors"
    path.write_bytes(_header_only({"kind": "autoencoder", "encoder": "cnn", "decoder": "deconv", "code_dim": 64,
                                   "hidden": 2048}))
    assert path.stat().st_size < 400
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="parameters"):
        encdec.load(path)
    assert time.perf_counter() - start < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: nothing was allocated


def test_declared_tensors_are_checked_against_the_config_before_allocating(tmp_path, model):
    good = encdec.save(model, tmp_path / "m.safetensors").read_bytes()
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [4096, 4096]  # claims a far larger tensor than the file holds
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", len(raw)) + raw + good[8 + n:])
    with pytest.raises(CheckpointError):
        encdec.load(bad)


def test_the_largest_model_save_accepts_is_a_model_load_accepts():
    from encdec.models import MAX_PARAMETERS

    with pytest.raises(encdec.ConfigError, match="smaller hidden width"):
        ModelConfig(kind="autoencoder", encoder="lstm", decoder="lstm", code_dim=64, hidden=2048)
    biggest = ModelConfig(kind="vae", encoder="mlp", decoder="mlp", code_dim=64, hidden=2048)
    assert biggest.num_parameters() <= MAX_PARAMETERS
    assert biggest.num_parameters() * 4 < encdec.checkpoint.MAX_BYTES


@pytest.mark.parametrize("meta,says", [
    ({"metrics": {"accuracy": "high"}}, "metrics.accuracy"),
    ({"metrics": "high"}, "metrics"),
    ({"metrics": {"mse": float("nan")}}, "metrics.mse"),
    ({"metrics": {"mse": True}}, "metrics.mse"),
    ({"dataset": "cifar"}, "dataset"),
    ({"history": {"val_loss": ["x"]}}, "history"),
    ({"recipe": [1, 2]}, "recipe"),
])
def test_a_model_card_with_the_wrong_types_is_refused(tmp_path, model, meta, says):
    path = encdec.save(model, tmp_path / "m.safetensors")
    _rewrite_header(path, lambda h: h["__metadata__"].update(meta=json.dumps(meta)))
    with pytest.raises(CheckpointError, match=says):
        encdec.load(path)
    listed = ModelStore(tmp_path).list()
    assert listed[0].error and listed[0].config is None  # a listing shows it as unreadable, never raises


def test_deeply_nested_json_is_one_checkpoint_error(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors")
    deep = "[" * 200_000 + "]" * 200_000
    _rewrite_header(path, lambda h: h["__metadata__"].update(meta='{"x": ' + deep[:2000] + "}"))
    with pytest.raises(CheckpointError, match="nests"):
        encdec.load(path)
    _rewrite_header(path, lambda h: h["__metadata__"].update(config=deep))
    with pytest.raises(CheckpointError):
        encdec.load(path)


def test_a_huge_description_is_refused_before_it_is_parsed(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors")
    _rewrite_header(path, lambda h: h["__metadata__"].update(meta=json.dumps({"notes": "x" * (3 << 20)})))
    with pytest.raises(CheckpointError, match="description"):
        encdec.read_header(path)


def test_concurrent_saves_under_one_name_never_overwrite_each_other(tmp_path, model):
    import threading

    store = ModelStore(tmp_path / "store")
    data = encdec.save(model, tmp_path / "up.safetensors").read_bytes()
    names, errors = [], []
    barrier = threading.Barrier(12)

    def upload(i):
        barrier.wait()
        try:
            if i % 2:
                names.append(store.import_bytes(data, "digits.safetensors"))
            else:
                names.append(store.save(model, "digits", metrics={"i": i}))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(set(names)) == 12
    assert {i.name for i in store.list()} == set(names)
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]


def test_save_without_overwrite_refuses_an_existing_file(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors", metrics={"v": 1})
    with pytest.raises(CheckpointError, match="exists already"):
        encdec.save(model, path, overwrite=False, metrics={"v": 2})
    assert encdec.load(path).meta["metrics"] == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_saved_models_have_ordinary_permissions(tmp_path, model):
    old = os.umask(0o022)
    try:
        path = encdec.save(model, tmp_path / "m.safetensors")
        stored = ModelStore(tmp_path / "s").save(model, "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "s" / f"{stored}.safetensors").stat().st_mode & 0o777 == 0o644


def test_leftovers_of_killed_saves_are_cleaned_when_the_store_opens(tmp_path, model):
    import time

    root = tmp_path / "store"
    ModelStore(root).save(model, "kept")
    old, young = root / ".tmp-old.safetensors", root / ".tmp-young.safetensors"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    long_ago = time.time() - 3600
    os.utime(old, (long_ago, long_ago))
    ModelStore(root)
    assert not old.exists() and young.exists()  # a save in progress is left alone
    assert [i.name for i in ModelStore(root).list()] == ["kept"]


@pytest.mark.parametrize("name,stem", [
    ("我的模型", "我的模型"), ("模型.safetensors", "模型"), ("我的模型-v2.safetensors", "我的模型-v2"),
    ("Modèle_ü", "Modèle_ü"), ("a b/c", "a-b-c"), ("../../etc/passwd", "etc-passwd"),
])
def test_model_names_keep_letters_of_every_script(name, stem):
    from encdec.store import name_problem, safe_name

    assert safe_name(name) == stem
    assert (name_problem(name) is None) == ("/" not in name)  # a typed name with a slash is questioned


@pytest.mark.parametrize("name,problem", [("", "empty"), ("   ", "empty"), ("!!!", "characters"), ("...", "dots"),
                                          (".hidden", "dots"), ("a\x00b", "characters"), ("x" * 81, "too_long")])
def test_unusable_names_are_named(name, problem):
    from encdec.store import name_problem

    assert name_problem(name) == problem


def test_a_reuploaded_shipped_model_gets_a_numbered_name_not_a_suffix(tmp_path):
    shipped = ROOT / "models" / "mnist-lstm-clf.safetensors"
    store = ModelStore(tmp_path / "store", reserved=["mnist-lstm-clf"])
    assert store.import_bytes(shipped.read_bytes(), "mnist-lstm-clf.safetensors") == "mnist-lstm-clf-2"
    assert store.import_bytes(shipped.read_bytes(), "!!!.safetensors") == "upload"


def test_a_folder_given_as_a_model_says_so(tmp_path):
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(CheckpointError, match="is a folder"):
        encdec.load(tmp_path / "dir.safetensors")


def test_error_messages_cut_long_user_input(tmp_path, model):
    path = encdec.save(model, tmp_path / "m.safetensors")
    _rewrite_header(path, lambda h: h["__metadata__"].update(config=json.dumps({"encoder": "x" * 1_000_000})))
    with pytest.raises(CheckpointError) as e:
        encdec.load(path)
    assert len(str(e.value)) < 400


def test_listings_are_read_once_per_file_version(tmp_path, model, monkeypatch):
    import encdec.store as st

    store = ModelStore(tmp_path)
    store.save(model, "a")
    calls = []
    original = st.read_header
    monkeypatch.setattr(st, "read_header", lambda p: calls.append(p) or original(p))
    store.list()
    store.list()
    assert len(calls) <= 1


@pytest.mark.slow
def test_a_process_killed_while_saving_leaves_no_model_and_its_leftover_is_cleaned(tmp_path, model):
    """kill -9 in the middle of writing: the store lists no broken model, and the half-written
    temporary file goes when the store is next opened (once it is old)."""
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "store"
    ModelStore(root).save(model, "kept")
    script = (
        "import os, sys, time, encdec\n"
        "def slow(fd):\n"
        "    print('writing', flush=True); time.sleep(60)\n"
        "os.fsync = slow\n"
        "encdec.ModelStore(sys.argv[1]).save(encdec.build(encdec.ModelConfig(code_dim=3)), 'doomed')\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(root)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    leftovers = list(root.glob(".tmp-*"))
    assert len(leftovers) == 1
    listed = ModelStore(root).list()
    assert [i.name for i in listed] == ["kept"] and all(i.error is None for i in listed)
    old = time.time() - 3600
    os.utime(leftovers[0], (old, old))
    ModelStore(root)
    assert not list(root.glob(".tmp-*"))


# -- one mapping between a name and its file ---------------------------------------------------------

NAMES = ["mine", "我的模型", "Modèle_ü", "a b/c", "../../etc/passwd", "X.safetensors", "X.safetensors.safetensors",
         "x.SAFETENSORS", "v1.2", "-dash-", "x" * 200, "a" * 75 + ".safetensors" + "b" * 5, "..hidden", "class:X"]


@pytest.mark.parametrize("given", NAMES)
def test_every_name_the_store_accepts_round_trips_to_exactly_its_file(tmp_path, model, given):
    store = ModelStore(tmp_path / "store")
    other = store.save(model, "X")                                 # a neighbour that must never be touched
    name = store.save(model, given)
    listed = {i.name: i for i in store.list()}
    assert store.path_for(name) == listed[name].path and listed[name].path.is_file()
    assert not name.lower().endswith(".safetensors") and len(name) <= 80
    store.delete(name)
    assert name not in {i.name for i in store.list()}
    assert (name == other) or store.path_for(other).is_file()


def test_a_file_with_a_double_suffix_is_listed_and_deleted_as_itself(tmp_path, model):
    """An older upload could leave X.safetensors.safetensors beside X.safetensors: Delete must take the
    one the card shows, never its neighbour."""
    store = ModelStore(tmp_path / "store")
    store.save(model, "X")
    double = store.root / "X.safetensors.safetensors"
    double.write_bytes((store.root / "X.safetensors").read_bytes())
    names = sorted(i.name for i in store.list())
    assert names == ["X", "X.safetensors"]
    store.delete("X.safetensors")
    assert not double.exists() and (store.root / "X.safetensors").is_file()
    assert store.import_bytes((store.root / "X.safetensors").read_bytes(), "X.safetensors.safetensors") == "X-2"


def test_a_half_precision_file_is_half_the_size_and_loads_as_the_rounded_model(tmp_path, model):
    from encdec.checkpoint import round_weights

    full = encdec.save(model, tmp_path / "full.safetensors")
    half = encdec.save(model, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    loaded = encdec.load(half)
    assert all(v.dtype == model.state_dict()[k].dtype for k, v in loaded.state_dict().items())
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), round_weights(model).encode(x))


def _frames(f=3, n=10, labels=None, xy=None):
    return {"frames.xy": torch.zeros(f, n, 2, dtype=torch.float16) if xy is None else xy,
            "frames.labels": torch.zeros(n, dtype=torch.uint8) if labels is None else labels,
            "frames.when": torch.stack([torch.arange(f, dtype=torch.float32), torch.full((f,), 0.5)], 1)}


@pytest.mark.parametrize("frames,says", [
    (_frames(0, 10), "0 frames"), (_frames(3, 0), "0 points"), (_frames(121, 10), "121 frames"),
    (_frames(2, 2001), "2,001 points"), (_frames(labels=torch.full((10,), 10, dtype=torch.uint8)), "labels"),
    (_frames(xy=torch.full((3, 10, 2), float("inf"), dtype=torch.float16)), "not finite"),
])
def test_frames_beyond_what_a_training_records_are_refused_at_load_and_upload(tmp_path, model, frames, says):
    from safetensors.torch import save_file

    from encdec.checkpoint import read_frames

    good = encdec.save(model, tmp_path / "good.safetensors")
    with safe_tensors(good) as (tensors, meta):
        tensors.update(frames)
        bad = tmp_path / "bad.safetensors"
        save_file(tensors, bad, metadata=meta)
    with pytest.raises(CheckpointError, match=says.replace("(", r"\(")):
        encdec.checkpoint.check(bad)
    with pytest.raises(CheckpointError):
        read_frames(bad)
    with pytest.raises(CheckpointError):
        ModelStore(tmp_path / "store").import_bytes(bad.read_bytes(), "bad.safetensors")
    assert not list((tmp_path / "store").glob("*.safetensors"))


def safe_tensors(path):
    """A file's tensors and metadata, to rewrite them into a hostile file."""
    import contextlib

    from safetensors import safe_open

    @contextlib.contextmanager
    def opened():
        with safe_open(str(path), framework="pt") as f:
            yield {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    return opened()
