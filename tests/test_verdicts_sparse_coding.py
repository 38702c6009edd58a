"""Chapter 2's verdicts (afm.verdicts.sparse_coding): Fig. 1d, 1e and 1f."""

import numpy as np

from afm.verdicts import sparse_coding as v

P = dict(profile="smoke")


def S(plain, ers, full):
    """{variant: (seeds, layers)} from per-variant (seeds, layers) lists."""
    return {"plain": np.array(plain), "ERS": np.array(ers), "ERS + IRS": np.array(full)}


def test_activation_decreased():
    act = S([[1.0, 1.0], [1.0, 1.0]], [[0.8, 0.9]] * 2, [[0.5, 0.6], [0.5, 0.6]])
    c = v.activation_decreased(act, **P)
    assert c.verdict == "reproduced" and c.numbers["act_ratio_0"] == 0.5
    act["ERS + IRS"][1, 1] = 1.2
    assert v.activation_decreased(act, **P).verdict == "partly"
    act["ERS + IRS"][0, 0] = 1.2
    assert v.activation_decreased(act, **P).verdict == "not reproduced"


def test_sparsity_claims():
    s = S([[0.1, 0.2]] * 3, [[0.5, 0.6]] * 3, [[0.3, 0.4]] * 3)
    assert v.sparsity_raised(s, **P).verdict == "reproduced"
    assert v.ers_sparser_than_irs(s, **P).verdict == "reproduced"
    assert v.upper_layer_less_sparse(s, **P).verdict == "not reproduced"   # layer 2 is sparser here
    swapped = {k: a[:, ::-1] for k, a in s.items()}
    assert v.upper_layer_less_sparse(swapped, **P).verdict == "reproduced"
    assert v.ers_sparser_than_irs(S([[0.1, 0.2]] * 3, [[0.3, 0.4]] * 3, [[0.5, 0.6]] * 3), **P).verdict \
        == "not reproduced"
    assert v.sparsity_raised(S([[0.4, 0.5]] * 2, [[0.5, 0.6]] * 2, [[0.3, 0.6]] * 2), **P).verdict \
        == "not reproduced"


def test_sparsity_null():
    # all three networks drawn from one distribution: "raised" needs 4 coin flips per seed
    rng = np.random.default_rng(0)
    rates = [v.sparsity_raised(S(*rng.uniform(0, 1, (3, 3, 2))), **P).verdict == "reproduced"
             for _ in range(400)]
    assert np.mean(rates) < 0.01


def test_irs_generalises_is_paired():
    acc = {"plain": np.full(5, 0.9), "ERS": np.array([0.90, 0.91, 0.92, 0.90, 0.91])}
    acc["ERS + IRS"] = acc["ERS"] + 0.01 + np.array([0.001, -0.001, 0.0, 0.002, -0.002])
    assert v.irs_generalises(acc, **P).verdict == "reproduced"
    acc["ERS + IRS"] = acc["ERS"] - 0.01
    assert v.irs_generalises(acc, **P).verdict == "not reproduced"
    rng = np.random.default_rng(1)
    null = [v.irs_generalises({"plain": np.zeros(3), "ERS": rng.normal(0.9, 0.002, 3),
                               "ERS + IRS": rng.normal(0.9, 0.002, 3)}, **P).verdict == "reproduced"
            for _ in range(1000)]
    assert np.mean(null) < 0.08   # "higher in every seed" would pass 1/8 of these


def test_switches_close():
    assert v.switches_close([0.5, 0.51], [0.7, 0.6], **P).verdict == "reproduced"
    assert v.switches_close([0.5, 0.51], [0.7, 0.3], **P).verdict == "partly"
    assert v.switches_close([0.7], [0.9], **P).verdict == "not reproduced"      # did not start half open
    null = v.switches_close(np.full(3, 0.5), np.random.default_rng(0).uniform(0, 0.5, 3), **P)
    assert null.verdict == "not reproduced"                                    # a minority closed


def test_sweep_where():
    rows = [{"lam": lam, "variant": var, "sparsity": {"a": s, "b": s}}
            for lam, ers, full in ((0.1, 0.5, 0.4), (1.0, 0.05, 0.6))
            for var, s in (("ERS", ers), ("ERS + IRS", full))]
    out = v.sweep_where(rows, np.array([[0.1, 0.1]]), ["a", "b"])
    assert out == {"sweep_raised": "0.1", "sweep_ers_sparser": "0.1"}
