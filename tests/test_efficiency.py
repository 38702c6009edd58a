"""Chapter "Efficient learning": settings, specs, smoothness, the claims' criteria, the figures."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from afm.lab import figures
from afm.experiments import efficient_learning as eff
from afm.plotting.efficient_learning import fig_3a_structure, fig_3b_pruning, fig_3c_convergence


@pytest.mark.parametrize("profile", ["smoke", "book", "paper"])
def test_settings_and_seeds(profile):
    s = eff.settings(profile)
    assert len(s["mlp_sizes"]) == len(s["mlp_epochs"])
    assert s["fractions"][0] == 1.0 and list(s["fractions"]) == sorted(s["fractions"], reverse=True)
    if profile != "smoke":
        assert len(eff.seeds(profile)) >= 3 and len(eff.vgg_seeds(profile)) >= 2
    with pytest.raises(ValueError, match="profile"):
        eff.settings("fast")


def test_specs_and_their_methods():
    for method in eff.METHODS:
        spec = eff.mlp_spec("book", 1000, method, strength=1e-4, lam=1.0, beta=1e-4, rho=4.0)
        assert eff.method_of(spec) == method and spec.widths == eff.WIDTHS
        assert spec.dataset == "fashion-mnist" and spec.train_size == 1000
    assert eff.mlp_spec("book", None, "sgd").train.epochs == eff.settings("book")["mlp_epochs"][-1]
    with pytest.raises(ValueError, match="method"):
        eff.mlp_spec("book", 1000, "dropout")
    with pytest.raises(ValueError, match="size"):
        eff.mlp_spec("book", 1234, "sgd")
    grid = eff.mlp_grid("book", 1000)
    s = eff.settings("book")
    assert len(grid["forgetting"]) == len(s["lams"]) * len(s["betas"])
    assert {g.rho for g in eff.mlp_grid("book", 1000, (1.0, 1e-4))["forgetting"]} == set(s["rhos"])


def test_vgg_variants():
    assert eff.variant_of(eff.vgg_spec("book", "sgd")) == "sgd"
    assert eff.variant_of(eff.vgg_spec("book", "forgetting*")) == "forgetting*"
    full = eff.vgg_spec("book", "forgetting", lam=1.0)
    assert eff.variant_of(full) == "forgetting" and full.regularisers()[0].lam == 1.0
    assert eff.vgg_spec("book", "forgetting*").regularisers() == []
    with pytest.raises(ValueError, match="lam"):
        eff.vgg_spec("book", "forgetting")
    with pytest.raises(ValueError, match="variant"):
        eff.vgg_spec("book", "dropout")
    model = eff.vgg_spec("smoke", "forgetting*").build()
    assert model.conv[0].main[0].out_channels == 8


def test_total_variation_and_smallest_kept():
    assert eff.total_variation([1.0, 3.0, 2.0, 2.0]) == pytest.approx((2 + 1 + 0) / 3)
    assert eff.total_variation(np.ones(5)) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        eff.total_variation([1.0])
    fractions = [1.0, 0.5, 0.2, 0.1]
    assert eff.smallest_kept(fractions, [0.80, 0.795, 0.79, 0.5], 0.80) == 0.2
    assert eff.smallest_kept(fractions, [0.80, 0.70, 0.79, 0.5], 0.80) == 0.2  # recovers after a dip
    assert eff.smallest_kept(fractions, [0.78, 0.5, 0.4, 0.3], 0.80) == 1.0


def _fake_3a(seed):
    rng = np.random.default_rng(seed)
    runs = {n: {m: {"test_curve": rng.uniform(0.6, 0.9, e), "test_acc": 0.8, "gap": 0.1}
                for m in eff.METHODS} for n, e in ((1000, 5), (54000, 2))}
    return {"sizes": [1000, 54000], "runs": runs}


def _fake_3b(seed):
    f = np.array([1.0, 0.5, 0.2, 0.05])
    layers = [{"conv.0.main.0.weight": fr, "head.weight": fr} for fr in f]
    return {"fractions": f, "unpruned": 0.5, "acc": {r: np.linspace(0.5, 0.1, 4) for r in eff.RULES},
            "random_draws": np.ones((2, 4)) * 0.3, "layers": {r: layers for r in eff.RULES}}


def _fake_3c(seed):
    runs = {v: {"batch_loss": np.linspace(2, 1, 20), "epoch_loss": np.array([1.8, 1.2]), "tv": 0.1}
            for v in eff.VARIANTS}
    return {"steps_per_epoch": 10, "runs": runs}


def test_figures_draw_and_are_registered():
    assert isinstance(fig_3a_structure({0: _fake_3a(0), 1: _fake_3a(1)}), Figure)
    assert isinstance(fig_3b_pruning({0: _fake_3b(0)}), Figure)
    assert isinstance(fig_3c_convergence({0: _fake_3c(0), 1: _fake_3c(1)}), Figure)
    for fid in ("3a", "3b", "3c"):
        spec = figures.get(fid)
        assert spec.chapter == "06_efficient_learning"
        assert spec.default_seeds("book")
