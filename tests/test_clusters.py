"""Cluster metrics of Fig. 4c against brute force."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from afm.analysis.clusters import distance_ratio, silhouette, tsne_embedding


def brute_ratio(x, y):
    within, between = [], []
    for a, b in itertools.permutations(range(len(y)), 2):
        d = float(np.linalg.norm(x[a] - x[b]))
        (within if y[a] == y[b] else between).append(d)
    return np.mean(between) / np.mean(within)


def test_distance_ratio_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 4))
    y = rng.integers(0, 3, size=23)
    assert distance_ratio(x, y) == pytest.approx(brute_ratio(x, y), rel=1e-12)
    assert distance_ratio(x, y, chunk=5) == pytest.approx(brute_ratio(x, y), rel=1e-12)


def test_distance_ratio_hand_and_invariants():
    assert distance_ratio([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1]) == pytest.approx(10.0)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 3)), rng.integers(0, 2, size=30)
    assert distance_ratio(7.5 * x + 3.0, y) == pytest.approx(distance_ratio(x, y))
    sep = x + 10 * y[:, None]                        # pull the classes apart
    assert distance_ratio(sep, y) > distance_ratio(x, y)


def test_silhouette_matches_sklearn_and_subsample():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(60, 5)), rng.integers(0, 3, size=60)
    assert silhouette(x, y) == pytest.approx(silhouette_score(x, y))
    assert silhouette(x, y, sample_size=1000) == pytest.approx(silhouette_score(x, y))
    sub = silhouette(x, y, sample_size=40, seed=0)
    assert sub == silhouette(x, y, sample_size=40, seed=0) and -1 <= sub <= 1


def test_bad_inputs():
    with pytest.raises(ValueError, match="2 classes"):
        distance_ratio(np.zeros((4, 2)), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="one per feature row"):
        distance_ratio(np.zeros((4, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        silhouette(np.zeros(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="single sample"):
        distance_ratio(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="perplexity"):
        tsne_embedding(np.zeros((5, 2)), perplexity=30)


def test_tsne_shape_and_seed():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=(20, 6)), rng.normal(size=(20, 6)) + 8])
    a = tsne_embedding(x, seed=0, perplexity=5, max_iter=250)
    assert a.shape == (40, 2)
    np.testing.assert_allclose(a, tsne_embedding(x, seed=0, perplexity=5, max_iter=250))
