"""Chapter 3's pieces that do not need a full training run: the LeNet-5 run spec, the
summary of ablation curves, the shape statistics of importance, and the drawings."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from afm import ForgettingLayer  # noqa: E402
from afm.experiments import neuron_importance as li  # noqa: E402
from afm.analysis.stats import UNIFORM_BIMODALITY  # noqa: E402


def test_cnn_spec_and_build():
    f = li.cnn_spec("smoke", True, lam=0.5, seed=2)
    p = li.cnn_spec("smoke", False, lam=0.5, seed=2)
    assert f.forgetting == li.CNN_FORGETTING and f.lam == 0.5 and f.beta > 0
    assert p.forgetting == (False,) * 4 and p.lam == p.beta == 0 and p.regularisers() == []
    m1, m2 = f.build(), f.build()
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)  # same seed, same weights
    assert [type(b.forget) is ForgettingLayer for b in list(m1.conv) + list(m1.hidden)] == \
        [True, True, False, False]
    assert len(f.regularisers()) == 1


def _ablation_result(seed=0):
    f = np.array([0.0, 0.05, 0.5, 0.8, 1.0])
    pos = np.array([0.9, 0.9, 0.88, 0.85, 0.1])
    inv = np.array([0.9, 0.15, 0.1, 0.1, 0.1])
    rnd = np.stack([np.array([0.9, 0.8, 0.5, 0.3, 0.1]), np.array([0.9, 0.7, 0.4, 0.2, 0.1])])
    layers = ["hidden.0.act", "hidden.1.act", "hidden.2.act"]
    return {"lam": 0.1, "beta": 1e-4, "seed": seed, "test_acc": 0.9, "val_acc": 0.9, "fractions": f,
            "layers": layers, "omega": {l: np.linspace(0, 1, 4) for l in layers},
            "curves": {"positive": pos, "inverse": inv, "random": rnd},
            "stratified": {"positive": pos, "inverse": inv, "random": rnd},
            "per_layer": {l: {"positive": pos, "inverse": inv * (1 - 0.1 * i)} for i, l in enumerate(layers)}}


def test_ablation_summary():
    s = li.ablation_summary(_ablation_result())
    assert s["base"] == 0.9
    assert s["drop_at_80"] == pytest.approx(0.05)
    assert s["inverse_at_5"] == pytest.approx(0.15)
    assert s["random_at_80"] == pytest.approx(0.25)
    # trapezoids by hand for the positive curve
    f, y = [0.0, 0.05, 0.5, 0.8, 1.0], [0.9, 0.9, 0.88, 0.85, 0.1]
    by_hand = sum((f[i + 1] - f[i]) * (y[i + 1] + y[i]) / 2 for i in range(4))
    assert s["auc"]["positive"] == pytest.approx(by_hand)
    assert s["auc"]["positive"] > s["auc"]["random"] > s["auc"]["inverse"]
    gaps = [s["per_layer"][l]["gap"] for l in ("hidden.0.act", "hidden.1.act", "hidden.2.act")]
    assert gaps[0] < gaps[1] < gaps[2]
    # a result with the global curves only (ablation_other_lambdas) gets the global numbers only
    res = _ablation_result()
    g = li.ablation_summary({k: res[k] for k in ("fractions", "curves")})
    assert g["auc"] == s["auc"] and "stratified" not in g and "per_layer" not in g


def test_distribution_stats():
    rng = np.random.default_rng(0)
    two_ends = np.r_[rng.uniform(0, 0.05, 500), rng.uniform(0.95, 1, 500)]
    s = li.distribution_stats(two_ends)
    assert s["bimodality"] > UNIFORM_BIMODALITY and s["low"] == s["high"] == 0.5
    assert s["polarisation"] > 0.9
    u = li.distribution_stats(rng.uniform(size=2000))
    assert u["ks_uniform"] < 0.05 and abs(u["bimodality"] - UNIFORM_BIMODALITY) < 0.05


def test_figures_from_synthetic_results():
    from afm.plotting import neuron_importance as pi

    results = {0: _ablation_result(0), 1: _ablation_result(1)}
    fig = pi.fig_2a_ablation(results)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), 100 * results[0]["curves"]["positive"])
    assert len(pi.fig_2b_layers(results).axes) == 3
    classes = [f"c{i}" for i in range(10)]
    rankings = li.RANKINGS
    chan = {s: {"classes": classes, "per_class": {r: {k: np.full(10, 0.5) for k in (0, 1, 10)}
                                                  for r in rankings},
                "random": {n: {k: np.full((2, 10), 0.4) for k in (1, 10)} for n in ("forgetting", "plain")}}
            for s in (0, 1)}
    fig = pi.fig_2c_channels(chan)
    assert [ax.get_title() for ax in fig.axes][1].startswith("plain LeNet-5")
    layers = ["hidden.0.act", "hidden.1.act"]
    values = np.linspace(0, 1, 20)
    dist = {s: {"variants": {v: {"measure": "activation" if v == "plain" else "omega",
                                 "importance": {l: values for l in layers},
                                 "stats": {l: li.distribution_stats(values) for l in layers}}
                             for v in ("plain", "ERS", "ERS + IRS")}} for s in (0, 1)}
    fig = pi.fig_2d_distributions(dist)
    assert len(fig.axes) == 6
    assert sum(p.get_height() for p in fig.axes[0].patches) == pytest.approx(100)
