"""Fig. 3c's claims under the optimizer × batch-norm readings: each reading judged by chapter 6's
verdicts on its own loss curves, a network that diverged recorded (infinite loss), never an
error (synthetic curves, no training), and the curve measures of one network by hand."""

from dataclasses import replace

import numpy as np
import pytest

from afm.experiments import readings_efficiency as rf
from afm.experiments.efficient_learning import VARIANTS, curve_of
from afm.lab.readings import claim_readings
from afm.lab.runs import Run
from afm.verdicts import efficient_learning as rules

INF = float("inf")


def curves(final: dict, tv_relative: dict) -> dict:
    """A Fig. 3c result (one seed) with the fields the claims read."""
    return {"runs": {v: {"final_loss": final[v], "tv_relative": tv_relative[v]} for v in VARIANTS}}


def test_fig3c_claims_per_reading(monkeypatch):
    """Default: the complete layer lower and smoother than sgd (holds), the layer* higher and
    rougher (holds). Without batch norm at momentum 0.9, sgd diverges and both forgetting
    networks train: the complete layer counts as lower and smoother, the layer* is not higher.
    Plain SGD with batch norm: the complete layer only lower (partly). Plain SGD without batch
    norm: all three diverge, nothing holds."""
    prepared = []
    monkeypatch.setattr(rf, "prepare_fig3c", lambda profile, seeds: prepared.append(list(seeds)))

    def under(profile, seed, reading):
        if not reading["batch_norm"] and reading["momentum"] == 0.9:
            return curves({"sgd": INF, "forgetting*": 2.0, "forgetting": 1.9},
                          {"sgd": INF, "forgetting*": 0.1, "forgetting": 0.1})
        if not reading["batch_norm"]:
            return curves(dict.fromkeys(VARIANTS, INF), dict.fromkeys(VARIANTS, INF))
        return curves({"sgd": 1.2, "forgetting*": 1.5, "forgetting": 1.1},
                      {"sgd": 0.1, "forgetting*": 0.2, "forgetting": 0.3})

    monkeypatch.setattr(rf, "fig3c_under", under)
    default = {s: curves({"sgd": 1.2, "forgetting*": 1.5, "forgetting": 1.0 + 0.1 * s},
                         {"sgd": 0.1, "forgetting*": 0.2, "forgetting": 0.05}) for s in (0, 1)}
    conv, star = rf.fig3c_claims(default, "smoke")
    assert (conv.id, star.id) == rf.FIG3C_CLAIMS and prepared == [[0, 1]]
    for claim in (conv, star):
        assert [r["reading"] for r in claim.readings] == claim_readings(claim.id)
        assert [(r["reading"]["momentum"], r["reading"]["batch_norm"]) for r in claim.readings] == [
            (0.9, True), (0.9, False), (0.0, True), (0.0, False)]
        assert all(r["n_seeds"] == 2 for r in claim.readings)
    assert [r["verdict"] for r in conv.readings] == ["reproduced", "reproduced", "partly", "not reproduced"]
    assert [r["verdict"] for r in star.readings] == ["reproduced", "not reproduced", "reproduced",
                                                     "not reproduced"]
    assert conv.value == pytest.approx(-0.15)        # mean over seeds of (1.0, 1.1) - 1.2
    final, tv = rf.fig3c_measures(default)
    assert replace(conv, readings=[]) == rules.convergence(final, tv, profile="smoke")  # the chapter's
    with pytest.raises(ValueError, match="not a claim of Fig. 3c"):
        rf.fig3c_claim("fig3b-random-worse", default, "smoke")
    from afm.lab import figures

    written = figures.claims_of("3c", "smoke", default)   # what `afm run 3c` writes
    assert [c["id"] for c in written] == list(rf.FIG3C_CLAIMS)
    assert {r["reading"]["batch_norm"] for r in written[0]["readings"]} == {True, False}


def test_curve_of_a_trained_and_a_diverged_network():
    """By hand: batch losses 2, 1, 1.5, 0.5 → total variation (1 + 0.5 + 1) / 3, mean 1.25;
    a diverged network has no curve and infinite loss and roughness."""
    spec = Run()
    result = {"history": {"batch_loss": [2.0, 1.0, 1.5, 0.5], "loss": [1.5, 1.0], "eval_acc": [0.4, 0.5]},
              "test_acc": 0.5, "state_dict": {"w": np.zeros((2, 3)), "bn.running_mean": np.zeros(3)}}
    import torch

    result["state_dict"] = {k: torch.as_tensor(v) for k, v in result["state_dict"].items()}
    c = curve_of(spec, result)
    assert c["tv"] == pytest.approx(2.5 / 3) and c["tv_relative"] == pytest.approx(2.5 / 3 / 1.25)
    assert (c["final_loss"], c["mean_loss"], c["parameters"], c["diverged"]) == (1.0, 1.25, 6, False)
    d = curve_of(spec, {"diverged": "the loss became nan at epoch 0, step 3", "val_acc": -INF})
    assert d["diverged"].startswith("the loss became nan")
    assert d["final_loss"] == d["tv_relative"] == INF and d["batch_loss"].size == 0
