"""Fig. 1c, 1f, 2d, 3a and 3b's claims under every reading: each reading judged by the chapter's
verdict function (afm.verdicts) on its own measurements, the headline the default's and equal to
the chapter's verdict (synthetic measurements, no training)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from afm.experiments import forgetting_layer
from afm.experiments import readings_claims as rc
from afm.lab.readings import claim_readings, is_default
from afm.verdicts import forgetting_layer as rules_1, neuron_importance as rules_3


def check_table(claim, n_seeds, verdict_of):
    """The per-reading table has every reading of the claim, the shortcut both ways, each row's
    verdict as ``verdict_of(reading)`` says, and the headline is the default row."""
    assert [r["reading"] for r in claim.readings] == claim_readings(claim.id)
    assert {r["reading"]["shortcut"] for r in claim.readings} == {True, False}
    for row in claim.readings:
        assert row["verdict"] == verdict_of(row["reading"]) and row["n_seeds"] == n_seeds
    default = next(r for r in claim.readings if is_default(r["reading"]))
    assert (default["value"], default["verdict"]) == (claim.value, claim.verdict)


def lateral(holds: bool, activity=(1.0, 1.0, 1.0, 1.0)):
    """A Fig. 1c result built on Eq. (8)'s asymmetry: ``M_ij = E[h_i] E[h_j] (1 - σ_i) σ_j`` with
    switches σ; Ω = σ (the claim holds) or Ω = 1 - σ (it fails)."""
    sigma, h = np.array([0.1, 0.3, 0.6, 0.9]), np.array(activity)
    m = np.outer(h * (1 - sigma), h * sigma)
    np.fill_diagonal(m, 0.0)
    return {"omega": sigma if holds else 1 - sigma, "M": m, "mean_h": h}


def test_fig1c_claims_per_reading(monkeypatch):
    asked = []

    def under(profile, seed, reading):
        asked.append(seed)
        if reading["shortcut"] is False:
            return lateral(True)                            # holds
        if reading.get("lateral") == "symmetric":
            return lateral(seed == 0)                       # holds in one seed
        return lateral(False)                               # fails

    monkeypatch.setattr(rc, "fig1c_under", under)
    default = {0: lateral(False), 1: lateral(False)}
    (claim,) = rc.fig1c_claims(default, "smoke")
    assert len(asked) == 2 * (len(rc.readings_of(rc.FIG1C_CLAIMS)) - 1)
    check_table(claim, 2, lambda r: "reproduced" if r["shortcut"] is False else
                "partly" if r["lateral"] == "symmetric" else "not reproduced")
    assert claim.value == pytest.approx(-1.0) and claim.verdict == "not reproduced"
    runs = list(default.values())
    assert replace(claim, readings=[]) == rules_1.lateral_inhibition(
        [r["omega"] for r in runs], [r["M"] for r in runs], [r["mean_h"] for r in runs], profile="smoke")
    no_shortcut = next(r for r in claim.readings if r["reading"]["shortcut"] is False)
    assert no_shortcut["value"] == pytest.approx(1.0)


def test_fig1c_default_is_the_chapters_verdict():
    """The default reading's claim is the chapter's own verdict, numbers and all (here with
    unequal activities, so the per-activity division matters, and a failing seed: partly)."""
    runs = [lateral(True, activity=(50.0, 1.0, 1.0, 1.0)), lateral(False, activity=(1.0, 2.0, 1.0, 3.0))]
    chapter = rules_1.lateral_inhibition([r["omega"] for r in runs], [r["M"] for r in runs],
                                         [r["mean_h"] for r in runs], profile="smoke")
    claim = rc.fig1c_claim("fig1c-lateral-inhibition", dict(enumerate(runs)), "smoke")
    assert claim == chapter and claim.verdict == "partly"


def test_inhibition_matrix_by_hand():
    h = torch.tensor([[1.0, 2.0], [3.0, 0.0]], dtype=torch.float64)
    s = torch.tensor([[0.5, 0.25], [1.0, 0.5]], dtype=torch.float64)
    # M_01 = E[h_0 h_1 (1 - s_0) s_1] = (1*2*0.5*0.25 + 0) / 2; symmetric: E[h_0 h_1 (1 - s_0 s_1)]
    asym = forgetting_layer.inhibition_matrix(h, s, "asymmetric")
    sym = forgetting_layer.inhibition_matrix(h, s, "symmetric")
    assert asym[0, 1] == pytest.approx(0.125) and asym[1, 0] == pytest.approx(2 * 0.75 * 0.5 / 2)
    assert sym[0, 1] == sym[1, 0] == pytest.approx(2 * (1 - 0.125) / 2)
    assert np.all(np.diag(asym.numpy()) == 0) and np.all(np.diag(sym.numpy()) == 0)
    with pytest.raises(ValueError, match="asymmetric"):
        forgetting_layer.inhibition_matrix(h, s, "both")


def switches(start, closed):
    return {"start_mean": start, "closed_share": closed}


def test_fig1f_claims_per_reading(monkeypatch):
    def under(profile, seed, reading):
        if reading["shortcut"] is False:
            return switches(0.5, 0.8)                        # holds
        if reading.get("rho") == 4.0:
            return switches(0.6, 0.8)                        # starts too far from 1/2
        return switches(0.5, 0.2)                            # most stay open

    monkeypatch.setattr(rc, "fig1f_under", under)
    monkeypatch.setattr(rc.sparse_coding, "seeds", lambda profile: [0, 1, 2])
    (claim,) = rc.fig1f_claims({}, "smoke")
    check_table(claim, 3, lambda r: "reproduced" if r["shortcut"] is False else "not reproduced")
    assert claim.value == pytest.approx(0.2)
    rho4 = next(r for r in claim.readings if r["reading"]["rho"] == 4.0)
    assert rho4["value"] == pytest.approx(0.8) and rho4["verdict"] == "not reproduced"


def two_ends(low, high, n=100):
    """Half the neurons at ``low``, half at ``high`` (with a small deterministic spread)."""
    jitter = np.linspace(0, 0.005, n // 2)
    return np.concatenate([low + jitter, high - jitter])


def dist(ers, full, plain, layers=("h0", "h1")):
    """A Fig. 2d result: the importance of every layer of each network."""
    return {"variants": {v: {"importance": {l: x for l in layers}}
                         for v, x in (("plain", plain), ("ERS", ers), ("ERS + IRS", full))}}


UNIFORM = np.linspace(0.01, 1.0, 100)
#: Bimodal in both variants (half near each end), IRS more polarised; plain uniform.
POLAR = dist(two_ends(0.05, 0.95), two_ends(0.01, 0.99), UNIFORM)
#: Everything in the middle (no neuron near 0), IRS less polarised than ERS; plain not uniform.
FLAT = dist(np.linspace(0.4, 0.6, 100), np.linspace(0.45, 0.55, 100), np.linspace(0.45, 0.55, 100))


def test_fig2d_claims_per_reading(monkeypatch):
    def under(profile, seed, reading):
        r = POLAR if reading["shortcut"] is False else FLAT
        return {"variants": {v: r["variants"][v] for v in rc.FIG2D_VARIANTS}}  # no plain network

    monkeypatch.setattr(rc, "fig2d_under", under)
    bimodal, polar, plain = rc.fig2d_claims({0: FLAT, 1: FLAT}, "smoke")
    assert (bimodal.id, polar.id) == rc.FIG2D_CLAIMS
    for claim in (bimodal, polar):
        check_table(claim, 2, lambda r: "reproduced" if r["shortcut"] is False else "not reproduced")
    imp = rc.importance_of({0: FLAT, 1: FLAT})
    assert replace(bimodal, readings=[]) == rules_3.importance_bimodal(imp, profile="smoke")
    assert replace(polar, readings=[]) == rules_3.irs_polarises(imp["ERS"], imp["ERS + IRS"], profile="smoke")
    assert polar.value < 0
    no_shortcut = next(r for r in polar.readings if r["reading"]["shortcut"] is False)
    assert no_shortcut["value"] > 0
    # the plain network's claim: no reading bears on it, judged on the figure's own results
    assert plain.id == rc.FIG2D_UNVARIED and plain.readings == [] and plain.verdict == "not reproduced"
    assert rc.plain_near_uniform({0: POLAR}, "smoke").verdict == "reproduced"


def test_fig2d_bimodal_needs_both_ends():
    one_end = dist(two_ends(0.01, 0.05), two_ends(0.01, 0.04), UNIFORM)  # b high, all near 0
    assert rc.fig2d_claim("fig2d-importance-bimodal", {0: one_end}, "smoke").verdict == "not reproduced"
    assert rc.fig2d_claim("fig2d-importance-bimodal", {0: POLAR, 1: one_end}, "smoke").verdict == "partly"
    assert rc.fig2d_claim("fig2d-importance-bimodal", {0: POLAR}, "smoke").verdict == "reproduced"
    with pytest.raises(ValueError, match="varied claim"):
        rc.fig2d_claim("fig2d-plain-near-uniform", {0: POLAR}, "smoke")


def pruned(kept_imp, kept_obd, imp20, random20):
    """A Fig. 3b result with the fields the claims read (the smoke fractions 1, 0.5, 0.1: the
    last is the one nearest 20 %)."""
    return {"fractions": np.array([1.0, 0.5, 0.1]),
            "kept": {"importance": kept_imp, "obd": kept_obd, "random": 1.0},
            "acc": {"importance": np.array([0.9, 0.9, imp20]), "random": np.array([0.9, 0.5, random20]),
                    "obd": np.array([0.9, 0.9, 0.9])}}


def test_fig3b_claims_per_reading(monkeypatch):
    from afm.experiments import readings_efficiency as rp

    def under(profile, seed, reading):
        if reading["shortcut"] is False:
            return pruned(0.2, 0.15, 0.88, 0.3)               # few, close to OBD; random far worse
        if reading.get("eq2_threshold") == "per_layer":
            return pruned(0.2, 0.05, 0.88, 0.85)              # few but not close to OBD; random near
        return pruned(1.0, 0.15, 0.5, 0.45)

    monkeypatch.setattr(rp, "fig3b_under", under)
    few, rand = rp.fig3b_claims({0: pruned(1.0, 0.15, 0.5, 0.45)}, "smoke")
    assert (few.id, rand.id) == rp.FIG3B_CLAIMS
    eq2 = {(r["reading"]["eq2_outside"], r["reading"]["eq2_threshold"]) for r in few.readings}
    assert eq2 == {(0.0, "global"), (0.0, "per_layer"), (1.0, "global"), (1.0, "per_layer")}
    check_table(few, 1, lambda r: "reproduced" if r["shortcut"] is False else
                "partly" if r["eq2_threshold"] == "per_layer" else "not reproduced")
    check_table(rand, 1, lambda r: "reproduced" if r["shortcut"] is False else "not reproduced")
    assert few.value == pytest.approx(100.0) and rand.value == pytest.approx(5.0)


def structure(acc_by_method, sizes=(1000, 5000)):
    """A Fig. 3a result (one seed) with the fields the claims read: each method's test accuracy
    at every training-set size (the same at each), and a train − test gap of 0."""
    return {"sizes": list(sizes),
            "runs": {n: {m: {"test_acc": a, "gap": 0.0} for m, a in acc_by_method.items()}
                     for n in sizes}}


def test_fig3a_claims_per_reading(monkeypatch):
    """Fig. 3a under the optimizer's readings: the default from the figure's results, plain SGD
    from the same seeds trained under it; each judged by the chapter's verdict functions."""
    from afm.experiments import readings_efficiency as rf
    from afm.experiments.efficient_learning import summarise_3a
    from afm.verdicts import efficient_learning as rules

    asked = []

    def under(profile, seed, reading):
        asked.append((seed, reading["momentum"]))
        return structure({"sgd": 0.60, "l1": 0.65, "l2": 0.70, "forgetting": 0.75 + 0.01 * seed})

    monkeypatch.setattr(rf, "fig3a_under", under)
    default = {s: structure({"sgd": 0.85, "l1": 0.84, "l2": 0.86, "forgetting": 0.855}) for s in (0, 1)}
    gain, order = rf.fig3a_claims(default, "smoke")
    assert (gain.id, order.id) == rf.FIG3A_CLAIMS
    assert sorted(asked) == [(0, 0.0), (1, 0.0)]          # only plain SGD is trained again
    for claim in (gain, order):
        assert [r["reading"] for r in claim.readings] == claim_readings(claim.id)
        assert [r["reading"]["momentum"] for r in claim.readings] == [0.9, 0.0]
    verdicts = {c.id: [r["verdict"] for r in c.readings] for c in (gain, order)}
    assert verdicts == {"fig3a-gain-over-sgd": ["partly", "reproduced"],
                        "fig3a-ordering-l1-l2": ["not reproduced", "reproduced"]}
    plain = gain.readings[1]
    assert plain["value"] == pytest.approx(15.5) and plain["n_seeds"] == 2
    chapter = rules.gain_over_sgd(summarise_3a(default), profile="smoke")
    assert replace(gain, readings=[]) == chapter                # the default is the chapter's verdict
    with pytest.raises(ValueError, match="not a claim of Fig. 3a"):
        rf.fig3a_claim("fig3b-random-worse", default, "smoke")


def channels(drop_forgetting, drop_plain):
    """A Fig. 2c result (one seed) with the fields the claim reads: overall accuracy (the mean
    of per-class accuracies) intact and after removing the top-1 and top-10 channels."""
    def per_class(acc):
        return np.full(10, acc)
    return {"per_class": {("forgetting", "omega"): {0: per_class(0.6), 1: per_class(0.6 - drop_forgetting / 2),
                                                    10: per_class(0.6 - drop_forgetting)},
                          ("plain", "activation"): {0: per_class(0.6), 1: per_class(0.6 - drop_plain / 2),
                                                    10: per_class(0.6 - drop_plain)},
                          ("forgetting", "activation"): {0: per_class(0.6), 1: per_class(0.6), 10: per_class(0.6)}},
            "random": {"forgetting": {1: np.full((2, 10), 0.6), 10: np.full((2, 10), 0.6)},
                       "plain": {1: np.full((2, 10), 0.6), 10: np.full((2, 10), 0.6)}},
            "test_acc": {"forgetting": 0.6, "plain": 0.6}}


def test_fig2c_claims_per_reading(monkeypatch):
    """Fig. 2c under the shortcut × λ and ρ readings: the default from the figure's results, every
    other reading from the same seeds; the chapter's verdict: the forgetting LeNet-5 loses more
    than the plain one for every k, per seed."""
    def under(profile, seed, reading):
        if reading["shortcut"] is False:
            return channels(0.4, 0.1)                         # collapses more: holds
        if reading["rho"] == 4.0:
            return channels(0.4 if seed == 0 else 0.05, 0.1)  # holds in one seed
        return channels(0.05, 0.1)

    monkeypatch.setattr(rc, "fig2c_under", under)
    default = {0: channels(0.05, 0.1), 1: channels(0.05, 0.1)}
    (claim,) = rc.fig2c_claims(default, "smoke")
    check_table(claim, 2, lambda r: "reproduced" if r["shortcut"] is False else
                "partly" if r["rho"] == 4.0 else "not reproduced")
    assert claim.value == pytest.approx(-0.05) and claim.verdict == "not reproduced"
    drops, _ = rules_3.channel_measures(default, (1, 10))
    assert replace(claim, readings=[]) == rules_3.top_channels_collapse(drops, profile="smoke")
    with pytest.raises(ValueError, match="not a claim of Fig. 2c"):
        rc.fig2c_claim("fig2d-irs-polarises", default, "smoke")
    from afm.lab import figures

    (written,) = figures.claims_of("2c", "smoke", default)   # what `afm run 2c` writes
    assert written["id"] == "fig2c-top-channels-collapse" and len(written["readings"]) == 7
    assert {r["reading"]["shortcut"] for r in written["readings"]} == {True, False}
