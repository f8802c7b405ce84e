import json

import numpy as np
import pytest
import torch

import encdec
from encdec import latent, maps
from encdec.projection import (MapSettings, Projector, knn_accuracy, nearest, place, selected_indices,
                               trustworthiness)
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def codes_and_labels(mnist):
    model = encdec.load(ROOT / "models" / "mnist-mlp-ae-16.safetensors")
    n = 1500
    return latent.encode_split(model, mnist.test.head(n)).numpy(), mnist.test.labels[:n].numpy()


@pytest.mark.slow
def test_umap_map_has_one_point_per_code_and_is_seeded(codes_and_labels):
    codes, _ = codes_and_labels
    a = Projector(MapSettings(n_neighbors=10)).fit(codes).embedding_
    b = Projector(MapSettings(n_neighbors=10)).fit(codes).embedding_
    assert a.shape == (len(codes), 2)
    np.testing.assert_allclose(a, b)


def test_pca_and_raw_maps():
    codes = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    p = Projector(MapSettings("pca")).fit(codes)
    assert p.embedding_.shape == (200, 2)
    np.testing.assert_allclose(p.transform(codes[:3]), p.embedding_[:3], atol=1e-5)
    with pytest.raises(ValueError, match="2-dimensional code"):
        Projector(MapSettings("raw")).fit(codes)
    plane = Projector(MapSettings("raw")).fit(codes[:, :2])
    np.testing.assert_array_equal(plane.embedding_, codes[:, :2])


@pytest.mark.parametrize("kw", [dict(method="tsne"), dict(n_neighbors=1), dict(min_dist=2.0), dict(metric="hamming"),
                                dict(n_epochs=1)])
def test_absurd_map_settings_are_refused(kw):
    with pytest.raises(ValueError):
        MapSettings(**kw)


def test_codes_that_are_not_finite_are_refused_with_a_sentence():
    codes = np.ones((50, 3), np.float32)
    codes[4, 1] = np.inf
    with pytest.raises(ValueError, match="not finite"):
        Projector(MapSettings("pca")).fit(codes)


def test_a_placed_code_lands_among_its_nearest_neighbours_on_the_map():
    """Placement is the distance-weighted mean of the neighbours' map positions."""
    codes = np.array([[0, 0], [1, 0], [0, 1], [10, 10]], np.float32)
    embedding = np.array([[0, 0], [2, 0], [0, 2], [50, 50]], np.float32)
    p = place(codes, embedding, np.array([[0, 0]], np.float32), k=3)
    np.testing.assert_allclose(p, [[0, 0]], atol=1e-3)  # on an existing code: on its point
    q = place(codes, embedding, np.array([[0.5, 0.5]], np.float32), k=3)
    assert 0 < q[0, 0] < 2 and 0 < q[0, 1] < 2


@pytest.mark.slow
def test_replaced_test_digits_land_among_the_map_positions_of_their_neighbours(codes_and_labels):
    codes, labels = codes_and_labels
    m = maps.compute(codes, MapSettings(), labels)
    xy = m.embedding
    placed = place(codes, xy, codes, exclude_self=True)  # each digit placed by the others only
    near = nearest(codes, codes, 15, exclude_self=True).numpy()  # (N, 15) code-space neighbours
    group = xy[near]                                              # (N, 15, 2) their map positions
    centre = group.mean(1)
    radius = np.linalg.norm(group - centre[:, None], axis=2).max(1)
    inside = np.linalg.norm(placed - centre, axis=1) <= radius
    assert inside.mean() >= 0.9
    # and the placed digits keep their class as well as the fitted points do
    assert knn_accuracy(torch.from_numpy(np.concatenate([xy, placed])), np.concatenate([labels, labels])) > 0.85


def test_a_map_is_read_back_from_its_file_and_never_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    codes = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    labels = np.arange(300) % 10
    first = maps.get(tmp_path / "m.safetensors", "hash1", codes, labels, "test", MapSettings("pca"))
    fits = []
    monkeypatch.setattr(maps, "compute", lambda *a, **k: fits.append(1))
    second = maps.get(tmp_path / "m.safetensors", "hash1", codes, labels, "test", MapSettings("pca"))
    assert first.source == "computed" and second.source == "cache" and fits == []
    step = np.ptp(first.embedding) / maps.LEVELS  # coordinates are kept to a 4,096th of the map's size
    np.testing.assert_allclose(second.embedding, first.embedding, atol=step)
    assert second.quality == pytest.approx(first.quality)
    np.testing.assert_allclose(second.projector(codes).transform(codes[:2]), first.embedding[:2], atol=1e-4)
    assert [p.suffix for p in maps.cache_dir().iterdir()] == [".npz"]
    with np.load(next(maps.cache_dir().iterdir()), allow_pickle=False) as z:  # plain arrays, no pickle
        assert json.loads(str(z["about"]))["model"] == "hash1"


@pytest.mark.parametrize("damage", ["bytes", "other model", "other settings", "other count", "bad bounds"])
def test_a_damaged_or_foreign_map_file_is_ignored(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    codes = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    m = maps.compute(codes, MapSettings("pca"))
    path = maps.cache_path("h", "test", 100, MapSettings("pca"))
    if damage == "bytes":
        path.parent.mkdir(parents=True)
        path.write_bytes(b"broken")
    elif damage == "other model":
        maps.write(path, m, "another-hash", "test")
    elif damage == "other settings":
        m.settings = MapSettings("umap")
        maps.write(path, m, "h", "test")
    elif damage == "other count":
        m.embedding = m.embedding[:50]
        maps.write(path, m, "h", "test")
    else:
        maps.write(path, m, "h", "test")
        with np.load(path) as z:
            arrays = dict(z)
        arrays["bounds"] = np.array([[np.nan, 0], [1, 1]])
        np.savez(path, **arrays)
    assert maps.find(tmp_path / "m.safetensors", "h", "test", 100, MapSettings("pca")) is None
    again = maps.get(tmp_path / "m.safetensors", "h", codes, None, "test", MapSettings("pca"))
    assert again.source == "computed" and again.embedding.shape == (100, 2)


def _rewritten(path, **changes):
    """A map file rewritten with some arrays changed (plain np.savez, as anyone could)."""
    with np.load(path) as z:
        arrays = dict(z)
    arrays.update(changes)
    np.savez(path, **arrays)


def test_a_map_whose_quality_lacks_a_key_is_used_and_its_quality_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    codes = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    m = maps.compute(codes, MapSettings("pca"), np.arange(100) % 10)
    path = maps.cache_path("h", "test", 100, MapSettings("pca"))
    maps.write(path, m, "h", "test")
    with np.load(path) as z:
        about = json.loads(str(z["about"]))
    del about["quality"]["trust"]
    _rewritten(path, about=np.array(json.dumps(about)))
    found = maps.find(tmp_path / "m.safetensors", "h", "test", 100, MapSettings("pca"))
    assert found is not None and found.quality == {}  # not a KeyError later: measured when shown


@pytest.mark.parametrize("bounds", [[[0, 0], [1e300, 1e300]], [[1, 1], [0, 0]], [[0, 0], [np.inf, 1]]])
def test_a_map_with_absurd_bounds_is_ignored(tmp_path, monkeypatch, bounds):
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    codes = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    path = maps.cache_path("h", "test", 100, MapSettings("pca"))
    maps.write(path, maps.compute(codes, MapSettings("pca")), "h", "test")
    _rewritten(path, bounds=np.array(bounds, dtype=np.float64))
    assert maps.find(tmp_path / "m.safetensors", "h", "test", 100, MapSettings("pca")) is None


def test_a_small_map_file_declaring_a_huge_array_is_ignored_before_it_is_read(tmp_path, monkeypatch):
    import resource
    import time
    import zipfile

    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    codes = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    path = maps.cache_path("h", "test", 100, MapSettings("pca"))
    maps.write(path, maps.compute(codes, MapSettings("pca")), "h", "test")
    # an .npy whose header declares 800 MB, compressed to almost nothing
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 2), np.uint8))
    header["shape"] = (400_000_000, 2)
    import io
    raw = io.BytesIO()
    np.lib.format.write_array_header_1_0(raw, header)
    raw.write(bytes(8_000_000))
    with zipfile.ZipFile(path) as z:
        kept = {i.filename: z.read(i) for i in z.infolist() if i.filename != "steps_hi.npy"}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in kept.items():
            z.writestr(name, data)
        z.writestr("steps_hi.npy", raw.getvalue())  # the array the map needs, declared far too large
    assert path.stat().st_size < 1_000_000
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    assert maps.find(tmp_path / "m.safetensors", "h", "test", 100, MapSettings("pca")) is None
    assert time.perf_counter() - start < 5 and resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000


@pytest.mark.parametrize("odd", ["folder", "fifo"])
def test_something_other_than_a_file_at_a_map_path_is_ignored_without_blocking(tmp_path, monkeypatch, odd):
    import os
    import threading

    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    path = maps.cache_path("h", "test", 100, MapSettings("pca"))
    path.parent.mkdir(parents=True)
    os.mkfifo(path) if odd == "fifo" else path.mkdir()
    found = []
    reader = threading.Thread(target=lambda: found.append(maps.find(tmp_path / "m.safetensors", "h", "test", 100,
                                                                    MapSettings("pca"))), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive() and found == [None]
    codes = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    assert maps.get(tmp_path / "m.safetensors", "h", codes, None, "test", MapSettings("pca")).source == "computed"


def test_a_cache_folder_that_is_a_file_leaves_maps_working_with_one_log_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    (tmp_path / "cache").write_text("not a folder")
    codes = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    for _ in range(3):
        assert maps.get(tmp_path / "m.safetensors", "h", codes, None, "test", MapSettings("pca")).source == "computed"
    assert len([r for r in caplog.records if "not cached" in r.getMessage()]) == 1


def test_old_pickled_reducers_are_removed_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path))
    maps.cache_dir().mkdir(parents=True)
    (maps.cache_dir() / "abc.reducer.pkl").write_bytes(b"\x80\x04old")
    maps.clean_cache()
    assert list(maps.cache_dir().iterdir()) == []


@pytest.mark.parametrize("name", ["mnist-cnn-ae-16", "mnist-mlp-ae-2", "mnist-cnn-clf"])
@pytest.mark.parametrize("split", maps.SHIPPED_SPLITS)
def test_shipped_maps_match_their_models_and_keep_what_they_should(mnist, name, split):
    path = ROOT / "models" / f"{name}.safetensors"
    n = len(mnist.split(split))
    m = maps.find(path, maps.file_hash(path), split, n, maps.DEFAULT)
    assert m is not None and m.source == "shipped" and m.embedding.shape == (n, 2)
    assert m.quality["knn_map"] >= m.quality["knn_code"] - 0.03 and m.quality["trust"] > 0.9  # the map keeps the code's neighbours


def test_a_shipped_map_of_another_model_version_is_not_used(tmp_path, mnist):
    import shutil

    source = ROOT / "models" / "mnist-mlp-ae-2.safetensors"
    copy = tmp_path / "mnist-mlp-ae-2.safetensors"
    shutil.copy(source, copy)
    shutil.copy(maps.shipped_path(source, "test"), maps.shipped_path(copy, "test"))
    assert maps.find(copy, maps.file_hash(copy), "test", 10000, maps.DEFAULT) is not None
    model = encdec.load(copy)
    encdec.save(model, copy)  # another version of the model: a new hash
    assert maps.find(copy, maps.file_hash(copy), "test", 10000, maps.DEFAULT) is None


@pytest.mark.slow
def test_shipped_autoencoder_code_keeps_labels_and_umap_keeps_most(codes_and_labels):
    codes, labels = codes_and_labels
    assert knn_accuracy(torch.from_numpy(codes), labels) > 0.9
    embedding = Projector(MapSettings()).fit(codes).embedding_
    assert knn_accuracy(torch.from_numpy(embedding), labels) > 0.85
    assert trustworthiness(codes, embedding, n=1000) > 0.85


def test_knn_accuracy_on_separable_and_random_labels():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.1, (50, 2)), rng.normal(5, 0.1, (50, 2))])
    assert knn_accuracy(points, np.repeat([0, 1], 50)) == 1.0
    assert knn_accuracy(points, rng.integers(0, 10, 100)) < 0.5


def test_selection_gives_dataset_indices_in_order_without_repeats():
    points = [{"customdata": 7, "curve_number": 3}, {"customdata": [2]}, {"customdata": 7}, {"x": 1.0}]
    assert selected_indices(points) == [7, 2]
    assert selected_indices([]) == [] and selected_indices(None) == []
