"""Chapter "balance" (Fig. 4a-4c): settings, method specs and the verdict criteria."""

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


def summary(acc, sp):
    return {m: {"acc": a, "sparsity": s} for m, a, s in zip(balance.METHODS, acc, sp)}


def test_verdicts_4a_as_the_paper_says():
    #            L1    decov  sgd   inh   isc   lat
    acc = [0.80, 0.81, 0.85, 0.78, 0.86, 0.855]
    sp = [0.40, 0.35, 0.20, 0.45, 0.30, 0.50]
    v = balance.verdicts_4a(summary(acc, sp))
    assert {k: x["verdict"] for k, x in v.items()} == {
        "complete": "reproduced", "baselines": "reproduced", "ers_alone": "reproduced",
        "shortcut": "reproduced"}


def test_verdicts_4a_against_the_paper():
    acc = [0.86, 0.86, 0.85, 0.86, 0.80, 0.80]       # complete 6 points below the best
    sp = [0.10, 0.10, 0.20, 0.10, 0.30, 0.25]        # and not the sparsest
    v = balance.verdicts_4a(summary(acc, sp))
    assert v["complete"]["verdict"] == "not reproduced"
    assert v["baselines"]["verdict"] == "not reproduced"
    assert v["ers_alone"]["verdict"] == "not reproduced"
    assert v["shortcut"]["verdict"] == "not reproduced"  # less accurate and sparser
    assert v["shortcut"]["conditions"] == {"i_short_cut more accurate than inhibition": False,
                                           "i_short_cut less sparse than inhibition": False}
    sp[3] = 0.5                                      # now i_short_cut is the less sparse one
    assert balance.verdicts_4a(summary(acc, sp))["shortcut"]["verdict"] == "partly"
    # near-best is a tolerance of NEAR_BEST around the best mean
    acc = [0.80, 0.80, 0.86, 0.80, 0.80, 0.86 - balance.NEAR_BEST + 1e-9]
    assert balance.verdicts_4a(summary(acc, [0.1] * 5 + [0.9]))["complete"]["verdict"] == "reproduced"


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


def drops(gap0, gap1):
    plain = {"hidden.0.main": 0.2, "hidden.1.main": 0.3, "head": 0.5}
    return {"sgd": plain, "lateral_inhibition": {"hidden.0.main": 0.2 - gap0,
                                                 "hidden.1.main": 0.3 - gap1, "head": 0.1}}


def test_verdicts_4b():
    v = balance.verdicts_4b({0: drops(0.01, 0.05), 1: drops(0.02, 0.1)})
    assert v["robust"]["verdict"] == "reproduced" and v["higher"]["verdict"] == "reproduced"
    v = balance.verdicts_4b({0: drops(0.01, 0.05), 1: drops(-0.01, 0.005)})
    assert v["robust"]["verdict"] == "partly" and v["higher"]["per_seed"] == [True, True]
    v = balance.verdicts_4b({0: drops(0.05, 0.01)})
    assert v["robust"]["verdict"] == "reproduced" and v["higher"]["verdict"] == "not reproduced"


def test_verdict_4c():
    good = {"silhouette": {"sgd": 0.1, "lateral_inhibition": 0.2},
            "ratio": {"sgd": 1.5, "lateral_inhibition": 1.6}}
    half = {"silhouette": {"sgd": 0.1, "lateral_inhibition": 0.2},
            "ratio": {"sgd": 1.5, "lateral_inhibition": 1.4}}
    assert balance.verdict_4c({0: good, 1: good})["verdict"] == "reproduced"
    assert balance.verdict_4c({0: good, 1: half})["verdict"] == "partly"
    assert balance.verdict_4c({0: half})["verdict"] == "not reproduced"


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
