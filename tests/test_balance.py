"""Chapter "balance" (Fig. 4a-4c): settings and method specs (verdicts: test_verdicts_balance.py)."""

import numpy as np
import pytest

from afm.experiments import balance
from afm.lab.runs import Run


def test_settings_profiles():
    for profile in ("smoke", "book", "paper"):
        s = balance.settings(profile)
        assert s["fractions"][0] == 0.0 and s["fractions"][-1] == 1.0
        assert s["tsne_size"] <= s["cluster_size"]
        assert set(s["perturb_seeds"]) <= set(s["seeds"])
    assert len(balance.settings("book")["seeds"]) >= 5
    assert len(balance.settings("paper")["seeds"]) == 10
    with pytest.raises(ValueError, match="valid profiles"):
        balance.settings("fast")


def test_method_specs():
    spec = {m: balance.method_spec("book", m, 0.5, lam=2.0) for m in balance.METHODS}
    assert spec["sgd"] == balance.base_spec("book") and not spec["sgd"].forgetting
    assert spec["sgd"].widths == (784, 64, 64, 10) and spec["sgd"].dataset == "fashion-mnist"
    assert spec["L1"].l1 == 0.5 and not spec["L1"].forgetting
    assert spec["decov"].decov == 0.5 and not spec["decov"].forgetting
    assert spec["inhibition"].forgetting and not spec["inhibition"].shortcut
    assert (spec["inhibition"].lam, spec["inhibition"].beta) == (0.5, 0.0)
    assert spec["i_short_cut"].shortcut and spec["i_short_cut"].lam == 0.5
    li = spec["lateral_inhibition"]
    assert li.shortcut and (li.lam, li.beta) == (2.0, 0.5)
    assert balance.strength_of("lateral_inhibition", li) == {"λ": 2.0, "β": 0.5}
    with pytest.raises(ValueError, match="unknown method"):
        balance.method_spec("book", "dropout")


def test_summarise():
    per_seed = {s: {m: {"test_acc": 0.8 + 0.01 * s, "sparsity": 0.3} for m in balance.METHODS}
                for s in range(3)}
    out = balance.summarise(per_seed)
    assert out["sgd"]["acc"] == pytest.approx(0.81) and out["sgd"]["acc_std"] == pytest.approx(0.01)
    assert out["sgd"]["n"] == 3 and out["sgd"]["sparsity_std"] == 0.0


def test_mean_drop():
    curve = np.array([[0.9, 0.9], [0.8, 0.7], [0.5, 0.6]])
    assert balance.mean_drop(curve) == pytest.approx((0 + 0 + 0.1 + 0.2 + 0.4 + 0.3) / 6)
    with pytest.raises(ValueError, match="fractions >= 2"):
        balance.mean_drop(np.array([[0.9, 0.9]]))


def test_cluster_specs_reuse_fashion_strengths(monkeypatch):
    chosen = {m: balance.method_spec("smoke", m, 0.3, lam=4.0) for m in balance.METHODS}
    from afm.experiments.balance import clusters
    monkeypatch.setattr(clusters, "choose_strengths", lambda profile: {"specs": chosen})
    specs = balance.cluster_specs("smoke", seed=2)
    assert set(specs) == set(balance.PAIR)
    li = specs["lateral_inhibition"]
    assert isinstance(li, Run) and li.dataset == "mnist" and li.seed == 2
    assert (li.lam, li.beta) == (4.0, 0.3) and not specs["sgd"].forgetting


def test_welch():
    from scipy import stats
    a, b = [0.80, 0.82, 0.81, 0.83], [0.85, 0.84, 0.86]
    out = balance.welch(a, b)
    assert out["diff"] == pytest.approx(np.mean(a) - np.mean(b))
    assert out["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert np.isnan(balance.welch([0.8], [0.9])["p"])
