"""Chapter 4's verdicts (afm.verdicts.balance): Fig. 4a, 4b and 4c."""

import numpy as np

from afm.verdicts import balance as v

P = dict(profile="smoke")
METHODS = ("L1", "decov", "sgd", "inhibition", "i_short_cut", "lateral_inhibition")


def summary(acc, sp):
    return {m: {"acc": a, "acc_std": 0.0, "sparsity": s, "sparsity_std": 0.0, "acc_values": [a],
                "sparsity_values": [s]} for m, a, s in zip(METHODS, acc, sp)}


def test_complete_and_shortcut():
    #      L1    decov  sgd   inh   isc   lat
    acc = [0.80, 0.81, 0.85, 0.78, 0.86, 0.855]
    sp = [0.40, 0.35, 0.20, 0.45, 0.30, 0.50]
    assert v.complete_layer_balance(summary(acc, sp), **P).verdict == "reproduced"
    assert v.shortcut_recovers_accuracy(summary(acc, sp), **P).verdict == "reproduced"
    acc2, sp2 = [0.86, 0.86, 0.85, 0.86, 0.80, 0.80], [0.10, 0.10, 0.20, 0.10, 0.30, 0.25]
    assert v.complete_layer_balance(summary(acc2, sp2), **P).verdict == "not reproduced"
    assert v.shortcut_recovers_accuracy(summary(acc2, sp2), **P).verdict == "not reproduced"
    sp2[3] = 0.5
    assert v.shortcut_recovers_accuracy(summary(acc2, sp2), **P).verdict == "partly"
    near = [0.80, 0.80, 0.86, 0.80, 0.80, 0.86 - v.NEAR_BEST + 1e-9]
    assert v.complete_layer_balance(summary(near, [0.1] * 5 + [0.9]), **P).verdict == "reproduced"


def grid(**curves):
    """Validation points: sgd at (acc 0.85, S 0.2), and each method's (acc, S) per strength."""
    pts = [{"method": "sgd", "val_acc": 0.85, "val_sparsity": 0.2}]
    return pts + [{"method": m, "val_acc": a, "val_sparsity": s} for m, c in curves.items() for a, s in c]


def test_sparse_but_less_accurate_on_the_grid():
    s = summary([0.84] * 6, [0.3] * 6)
    costly = [(0.86, 0.15), (0.84, 0.3), (0.80, 0.5)]        # every sparser strength costs accuracy
    free = [(0.86, 0.15), (0.86, 0.3), (0.80, 0.5)]          # one strength is sparser for free
    assert v.baselines_sparse_but_less_accurate(grid(L1=costly, decov=costly), s, **P).verdict == "reproduced"
    assert v.baselines_sparse_but_less_accurate(grid(L1=costly, decov=free), s, **P).verdict == "partly"
    assert v.baselines_sparse_but_less_accurate(grid(L1=free, decov=[(0.8, 0.1)]), s, **P).verdict \
        == "not reproduced"
    assert v.ers_alone_loses_accuracy(grid(inhibition=costly), s, **P).verdict == "reproduced"
    assert v.ers_alone_loses_accuracy(grid(inhibition=free), s, **P).verdict == "partly"
    assert v.ers_alone_loses_accuracy(grid(inhibition=[(0.9, 0.1)]), s, **P).verdict == "not reproduced"


def test_grid_rule_does_not_depend_on_the_chosen_strength():
    # the validation-accuracy choice would pick the 0.86 point (not sparser than sgd): the rule
    # still sees that sparsity costs accuracy on the rest of the curve
    s = summary([0.86] * 6, [0.15] * 6)
    assert v.sparse_but_less_accurate(grid(L1=[(0.86, 0.15), (0.8, 0.4)]), "L1") == \
        {"sparser": 1, "costly": 1, "holds": True}


def drops(gap0, gap1):
    plain = {"hidden.0.main": 0.2, "hidden.1.main": 0.3, "head": 0.5}
    return {"sgd": plain, "lateral_inhibition": {"hidden.0.main": 0.2 - gap0,
                                                 "hidden.1.main": 0.3 - gap1, "head": 0.1}}


def test_robustness():
    both = {0: drops(0.01, 0.05), 1: drops(0.02, 0.1)}
    assert v.more_robust(both, **P).verdict == "reproduced"
    assert v.robustness_grows_with_depth(both, **P).verdict == "reproduced"
    mixed = {0: drops(0.01, 0.05), 1: drops(-0.01, 0.005)}
    assert v.more_robust(mixed, **P).verdict == "partly"
    assert v.robustness_grows_with_depth(mixed, **P).verdict == "reproduced"
    assert v.robustness_grows_with_depth({0: drops(0.05, 0.01)}, **P).verdict == "not reproduced"
    rng = np.random.default_rng(0)   # null: no effect, noise only
    null = [v.more_robust({s: drops(*rng.normal(0, 0.01, 2)) for s in range(3)}, **P).verdict
            == "reproduced" for _ in range(400)]
    assert np.mean(null) < 0.05       # 2 layers x 3 seeds of coin flips: 1/64


def test_features():
    sil = {"pixels": [0.0, 0.0], "sgd": [0.1, 0.1], "lateral_inhibition": [0.2, 0.2]}
    ratio = {"pixels": [1.0, 1.0], "sgd": [1.5, 1.5], "lateral_inhibition": [1.6, 1.4]}
    assert v.features_compact_and_separated(sil, ratio, **P).verdict == "partly"
    ratio["lateral_inhibition"] = [1.6, 1.6]
    assert v.features_compact_and_separated(sil, ratio, **P).verdict == "reproduced"
    sil["lateral_inhibition"] = [0.0, 0.0]
    assert v.features_compact_and_separated(sil, ratio, **P).verdict == "not reproduced"
