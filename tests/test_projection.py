import numpy as np
import pytest
import torch

import encdec
from encdec import latent, projection
from encdec.projection import MapSettings, Projector, knn_accuracy, project, selected_indices, trustworthiness
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def codes_and_labels(mnist):
    model = encdec.load(ROOT / "models" / "mnist-mlp-ae-16.safetensors")
    n = 1500
    return latent.encode_split(model, mnist.test.head(n)).numpy(), mnist.test.labels[:n].numpy()


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


@pytest.mark.parametrize("kw", [dict(method="tsne"), dict(n_neighbors=1), dict(min_dist=2.0), dict(metric="hamming")])
def test_absurd_map_settings_are_refused(kw):
    with pytest.raises(ValueError):
        MapSettings(**kw)


def test_second_call_is_a_cache_hit_without_recomputing(tmp_path, monkeypatch):
    codes = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    settings = MapSettings("pca")
    first = project(codes, settings, "k1", tmp_path)
    fits = []
    original = Projector.fit
    monkeypatch.setattr(Projector, "fit", lambda self, c: fits.append(1) or original(self, c))
    second = project(codes, settings, "k1", tmp_path)
    assert not first.cached and second.cached and fits == []
    np.testing.assert_array_equal(first.embedding, second.embedding)
    np.testing.assert_allclose(second.projector.transform(codes[:2]), first.embedding[:2], atol=1e-5)
    project(codes, settings, "k2", tmp_path)
    assert fits == [1]  # another key computes


def test_damaged_cache_entry_is_recomputed(tmp_path):
    codes = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    project(codes, MapSettings("pca"), "k", tmp_path)
    (tmp_path / "k.npz").write_bytes(b"broken")
    again = project(codes, MapSettings("pca"), "k", tmp_path)
    assert not again.cached and again.embedding.shape == (100, 2)


def test_cache_key_depends_on_model_split_size_and_settings():
    keys = {projection.cache_key(h, s, n, m) for h in ("a", "b") for s in ("test", "train") for n in (10, 20)
            for m in (MapSettings(), MapSettings(n_neighbors=30))}
    assert len(keys) == 16


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
