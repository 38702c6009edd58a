"""Fig. 4c, feature clusters: the plain and the complete MLP 784-64-64-10 trained on MNIST with
the strengths chosen on Fashion-MNIST (chapter "Balance"; the settings are
:func:`afm.experiments.balance.settings`), their features' silhouette and distance ratio,
and the t-SNE maps the figure draws."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from afm import data as afm_data
from afm.analysis.clusters import distance_ratio, silhouette, tsne_embedding
from afm.experiments.balance import PAIR, choose_strengths, cluster_seeds, settings
from afm.lab.runs import Run, fit, trained


def _cluster_images(profile: str) -> tuple[torch.Tensor, torch.Tensor]:
    s = settings(profile)
    test = afm_data.subset(afm_data.load_dataset("mnist", train=False), s["cluster_size"], seed=0)
    return test.tensors


def cluster_specs(profile: str, seed: int) -> dict[str, Run]:
    """Fig. 4c's networks: plain and complete MLP 784-64-64-10 on MNIST (Fashion-MNIST's λ, β)."""
    specs = choose_strengths(profile)["specs"]
    return {m: replace(specs[m], dataset="mnist", seed=seed) for m in PAIR}


def features(profile: str, seed: int) -> dict[str, np.ndarray]:
    """``{"pixels", "sgd", "lateral_inhibition"}``: ``(n, d)`` features of the MNIST subsample.

    Pixels are the 784 raw values; a network's features are the output of its
    last hidden block (``model.features``, what the classifier head reads: ``h``
    for the plain network, ``h + h ⊙ σ`` for the complete one).
    """
    x, _ = _cluster_images(profile)
    out = {"pixels": x.flatten(1).numpy()}
    for method, spec in cluster_specs(profile, seed).items():
        model = trained(spec)
        with torch.no_grad():
            out[method] = model.features(x).numpy()
    return out


def feature_clusters(profile: str, seed: int) -> dict:
    """Fig. 4c's numbers for one seed: silhouette and distance ratio of each feature space.

    On a fixed seeded subsample of ``cluster_size`` MNIST test images (the same for
    every seed), in the original feature space. The first of :func:`cluster_seeds` also
    carries the t-SNE maps that Fig. 4c draws (:func:`tsne_maps`).

    Returns:
        ``{"n", "silhouette": {space: s}, "ratio": {space: r}, "test_acc": {method: acc}}``
        (and ``"tsne"`` for the first seed).
    """
    s = settings(profile)
    _, labels = _cluster_images(profile)
    feats = features(profile, seed)
    y = labels.numpy()
    out = {"n": int(y.size),
           "silhouette": {k: silhouette(f, y, s["silhouette_size"], seed=0) for k, f in feats.items()},
           "ratio": {k: distance_ratio(f, y) for k, f in feats.items()},
           "test_acc": {m: fit(spec)["test_acc"] for m, spec in cluster_specs(profile, seed).items()}}
    if seed == cluster_seeds(profile)[0]:
        out["tsne"] = tsne_maps(profile, labels, feats)
    return out


def tsne_maps(profile: str, labels: torch.Tensor, feats: dict[str, np.ndarray]) -> dict:
    """Fig. 4c's pictures: a 2-D t-SNE map of each feature space (:func:`features`) on the
    first ``tsne_size`` of the images.

    Returns:
        ``{"labels": (n,), "maps": {space: (n, 2)}}``.
    """
    s = settings(profile)
    n = min(s["tsne_size"], labels.numel())
    return {"labels": labels[:n].numpy(),
            "maps": {k: tsne_embedding(f[:n], seed=0, max_iter=s["tsne_iter"],
                                       perplexity=min(30.0, (n - 1) / 3))
                     for k, f in feats.items()}}
