"""How well features separate the classes, for Fig. 4c: t-SNE pictures and two numbers.

The paper reads its t-SNE pictures as "more compact, and the distance between
categories is farther". A t-SNE map distorts distances, so the book measures
in the original feature space:

* :func:`silhouette`: the mean silhouette coefficient (Rousseeuw 1987), in [-1, 1];
* :func:`distance_ratio`: the mean Euclidean distance between samples of *different*
  classes over the mean distance between (distinct) samples of the *same* class.

Both are invariant to a uniform rescaling of the features, so raw pixels and
the features of different networks can be compared.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["silhouette", "distance_ratio", "tsne_embedding"]


def _check(features, labels) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels))
    if x.dim() != 2:
        raise ValueError(f"features must be (n, d), got shape {tuple(x.shape)}")
    if y.dim() != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"labels must be (n,) with n = {x.shape[0]} (one per feature row), "
                         f"got shape {tuple(y.shape)}")
    if torch.isnan(x).any():
        raise ValueError("features contain NaN")
    if len(torch.unique(y)) < 2:
        raise ValueError("need at least 2 classes to compare between- and within-class distances")
    return x, y


def distance_ratio(features, labels, chunk: int = 1024) -> float:
    """``mean_{y_a ≠ y_b} ‖x_a - x_b‖ / mean_{a ≠ b, y_a = y_b} ‖x_a - x_b‖``.

    Larger is better separated: classes far apart relative to their own spread.
    Exact (every pair), computed in row chunks of ``chunk`` so memory stays ``O(chunk · n)``.

    Args:
        features: ``(n, d)`` array or tensor.
        labels: ``(n,)`` class labels, at least 2 classes and one class with 2 samples.

    Example:
        >>> distance_ratio([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1])  # 10 / 1
        10.0
    """
    x, y = _check(features, labels)
    within_sum = between_sum = 0.0
    within_n = between_n = 0
    for start in range(0, x.shape[0], chunk):
        d = torch.cdist(x[start:start + chunk], x)
        same = y[start:start + chunk, None] == y[None, :]
        within_sum += float(d[same].sum())  # the zero self-distances add nothing
        within_n += int(same.sum()) - d.shape[0]
        between_sum += float(d[~same].sum())
        between_n += int((~same).sum())
    if within_n == 0:
        raise ValueError("every class has a single sample: no within-class distance")
    within = within_sum / within_n
    if within == 0.0:
        return float("inf")
    return float((between_sum / between_n) / within)


def silhouette(features, labels, sample_size: int | None = None, seed: int = 0) -> float:
    """The mean silhouette coefficient, Euclidean, via ``sklearn.metrics.silhouette_score``.

    Args:
        features: ``(n, d)`` array or tensor.
        labels: ``(n,)`` class labels, at least 2 classes.
        sample_size: score a random subsample of that many points (seeded) for speed;
            ``None`` (or ``>= n``) scores all.
        seed: the subsample's seed.

    Returns:
        The mean silhouette coefficient, a float in [-1, 1]; near 1 for compact,
        well separated classes.

    Example:
        >>> round(silhouette([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1]), 3)
        0.9
    """
    from sklearn.metrics import silhouette_score

    x, y = _check(features, labels)
    if sample_size is not None and sample_size >= x.shape[0]:
        sample_size = None
    return float(silhouette_score(x.numpy(), y.numpy(), metric="euclidean",
                                  sample_size=sample_size, random_state=seed))


def tsne_embedding(features, seed: int = 0, perplexity: float = 30.0,
                   max_iter: int = 1000) -> np.ndarray:
    """A 2-D t-SNE map (van der Maaten & Hinton 2008; scikit-learn, Barnes-Hut, PCA start).

    Args:
        features: ``(n, d)`` array or tensor, ``n >= 3``.
        seed: the random state of the optimisation.
        perplexity: the effective number of neighbours, in ``(0, n)``.
        max_iter: optimisation steps (scikit-learn requires at least 250).

    Returns:
        ``(n, 2)`` float32 coordinates of the map.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(30, 5))
        >>> emb = tsne_embedding(x, perplexity=5.0, max_iter=250)
        >>> emb.shape, emb.dtype
        ((30, 2), dtype('float32'))
    """
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError(f"features must be (n, d) with n >= 3, got shape {x.shape}")
    if not 0 < perplexity < x.shape[0]:
        raise ValueError(f"perplexity must lie in (0, n={x.shape[0]}), got {perplexity}")
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                max_iter=max_iter, learning_rate="auto")
    return tsne.fit_transform(x)
