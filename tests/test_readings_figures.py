"""Fig. 1c, 1f and 2d's claims under every reading: each reading judged by the chapter's
criterion on its own measurements, the headline the default's (synthetic measurements, no training)."""

import numpy as np
import pytest
import torch

from afm.experiments import forgetting_layer
from afm.experiments import readings_claims as rc
from afm.lab.readings import claim_readings, is_default


def check_table(claim, n_seeds, verdict_of):
    """The per-reading table has every reading of the claim, the shortcut both ways, each row's
    verdict as ``verdict_of(reading)`` says, and the headline is the default row."""
    assert [r["reading"] for r in claim.readings] == claim_readings(claim.id)
    assert {r["reading"]["shortcut"] for r in claim.readings} == {True, False}
    for row in claim.readings:
        assert row["verdict"] == verdict_of(row["reading"]) and row["n_seeds"] == n_seeds
    default = next(r for r in claim.readings if is_default(r["reading"]))
    assert (default["value"], default["verdict"]) == (claim.value, claim.verdict)


def lateral(ex, re):
    return {"spearman_exerted": ex, "spearman_received": re}


def test_fig1c_claims_per_reading(monkeypatch):
    asked = []

    def under(profile, seed, reading):
        asked.append(seed)
        if reading["shortcut"] is False:
            return lateral(0.4, -0.3)                       # holds
        if reading.get("lateral") == "symmetric":
            return lateral(0.4, -0.1) if seed == 0 else lateral(0.4, 0.2)  # holds in one seed
        return lateral(-0.2, 0.1)                           # fails

    monkeypatch.setattr(rc, "fig1c_under", under)
    default = {0: lateral(-0.2, 0.1), 1: lateral(-0.4, 0.1)}
    (claim,) = rc.fig1c_claims(default, "smoke")
    assert len(asked) == 2 * (len(rc.readings_of(rc.FIG1C_CLAIMS)) - 1)
    check_table(claim, 2, lambda r: "reproduced" if r["shortcut"] is False else
                "partly" if r["lateral"] == "symmetric" else "not reproduced")
    assert claim.value == pytest.approx(-0.3) and claim.verdict == "not reproduced"


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


def dist(ers, full, plain_ks=0.05, layers=("h0", "h1")):
    """A Fig. 2d result: ``ers``/``full`` are (bimodality, low, high, polarisation) of every layer."""
    keys = ("bimodality", "low", "high", "polarisation")
    stats = {v: {l: dict(zip(keys, vals)) for l in layers} for v, vals in (("ERS", ers), ("ERS + IRS", full))}
    stats["plain"] = {l: {"ks_uniform": plain_ks} for l in layers}
    return {"variants": {v: {"stats": s} for v, s in stats.items()}}


#: Bimodal in both variants, IRS more polarised (b > 5/9, ends >= 5 % each, > 50 % together).
POLAR = dist((0.8, 0.4, 0.3, 0.6), (0.9, 0.45, 0.35, 0.7))
#: Unimodal (everything in the middle), and IRS less polarised than ERS.
FLAT = dist((0.4, 0.0, 0.0, 0.3), (0.4, 0.0, 0.0, 0.2), plain_ks=0.3)


def test_fig2d_claims_per_reading(monkeypatch):
    monkeypatch.setattr(rc, "fig2d_under",
                        lambda profile, seed, reading: POLAR if reading["shortcut"] is False else FLAT)
    bimodal, polar, plain = rc.fig2d_claims({0: FLAT, 1: FLAT}, "smoke")
    assert (bimodal.id, polar.id) == rc.FIG2D_CLAIMS
    for claim in (bimodal, polar):
        check_table(claim, 2, lambda r: "reproduced" if r["shortcut"] is False else "not reproduced")
    assert bimodal.value == pytest.approx(0.4) and polar.value == pytest.approx(-0.1)
    no_shortcut = next(r for r in polar.readings if r["reading"]["shortcut"] is False)
    assert no_shortcut["value"] == pytest.approx(0.1)
    # the plain network's claim: no reading bears on it, judged on the figure's own results
    assert plain.id == rc.FIG2D_UNVARIED and plain.readings == [] and plain.verdict == "not reproduced"
    assert rc.plain_near_uniform({0: POLAR}, "smoke").verdict == "reproduced"


def test_fig2d_bimodal_needs_both_ends():
    one_end = dist((0.8, 0.9, 0.0, 0.8), (0.8, 0.9, 0.0, 0.9))  # b high, but all near 0
    assert rc.fig2d_claim("fig2d-importance-bimodal", {0: one_end}, "smoke").verdict == "not reproduced"
    assert rc.fig2d_claim("fig2d-importance-bimodal", {0: POLAR, 1: one_end}, "smoke").verdict == "partly"
    with pytest.raises(ValueError, match="varied claim"):
        rc.fig2d_claim("fig2d-plain-near-uniform", {0: POLAR}, "smoke")


def pruned(kept_imp, kept_obd, imp20, random20):
    """A Fig. 3b result with the fields the claims read (fractions 1, 0.5, 0.2)."""
    return {"fractions": np.array([1.0, 0.5, 0.2]),
            "kept": {"importance": kept_imp, "obd": kept_obd, "random": 1.0},
            "acc": {"importance": np.array([0.9, 0.9, imp20]), "random": np.array([0.9, 0.5, random20])}}


def test_fig3b_claims_per_reading(monkeypatch):
    from afm.experiments import readings_pruning as rp

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
