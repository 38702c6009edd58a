"""Fig. 2a's claims under every reading: the per-reading table is assembled from the right
results, and the headline is the default reading's (synthetic ablation curves, no training)."""

import numpy as np
import pytest

from afm.experiments import readings as experiments
from afm.lab.readings import claim_readings, is_default

F = np.array([0.0, 0.05, 0.2, 0.5, 0.8, 1.0])


def curves(positive, inverse, random):
    return {"fractions": F, "curves": {"positive": np.array(positive), "inverse": np.array(inverse),
                                       "random": np.array([random, random])}}


#: The paper's picture: flat in the positive order, collapse at 5 % in the inverse one.
HOLDS = curves([0.85, 0.85, 0.85, 0.85, 0.84, 0.1], [0.85, 0.15, 0.1, 0.1, 0.1, 0.1],
               [0.85, 0.8, 0.7, 0.5, 0.3, 0.1])
#: The opposite: the positive order hurts most, the inverse order least.
FAILS = curves([0.85, 0.6, 0.3, 0.1, 0.1, 0.1], [0.85, 0.85, 0.84, 0.8, 0.6, 0.1],
               [0.85, 0.8, 0.7, 0.5, 0.3, 0.1])


def test_fig2a_claims_per_reading(monkeypatch):
    asked = []

    def under(profile, seed, reading):
        asked.append((seed, reading["shortcut"]))
        return HOLDS if reading["shortcut"] is False else FAILS

    monkeypatch.setattr(experiments, "fig2a_under", under)
    claims = experiments.fig2a_claims({0: FAILS, 1: FAILS}, "smoke")
    assert [c.id for c in claims] == list(experiments.FIG2A_CLAIMS)
    readings = experiments.fig2a_readings()
    assert len(asked) == 2 * (len(readings) - 1)  # every seed of every non-default reading
    for claim in claims:
        assert [r["reading"] for r in claim.readings] == claim_readings(claim.id)
        assert len(claim.readings) >= 2 and {r["reading"]["shortcut"] for r in claim.readings} == {True, False}
        assert claim.verdict == "not reproduced" and claim.n_seeds == 2  # the default: FAILS
        for row in claim.readings:
            expected = "reproduced" if row["reading"]["shortcut"] is False else "not reproduced"
            assert row["verdict"] == expected and row["n_seeds"] == 2
        default = next(r for r in claim.readings if is_default(r["reading"]))
        assert (default["value"], default["verdict"]) == (claim.value, claim.verdict)
    drop80 = {r["reading"]["shortcut"]: r["value"] for r in claims[0].readings}
    assert drop80[False] == pytest.approx(0.01) and drop80[True] == pytest.approx(0.75)
    inv5 = {r["reading"]["shortcut"]: r["value"] for r in claims[1].readings}
    assert inv5[False] == pytest.approx(0.15) and inv5[True] == pytest.approx(0.85)


def test_fixed_lambda_is_not_chosen():
    fixed = next(r for r in experiments.fig2a_readings() if r["lam_rule"] == "fixed")
    assert experiments.fig2a_choice("smoke", fixed) == (fixed["lam"], fixed["beta"])
