"""Fig. 3b's claims under every reading declared for them (:mod:`afm.lab.readings`).

The complete VGG-9 of Fig. 3b trained under each reading of the shortcut and λ, then pruned
by Eq. (2) read with the reading's Ω outside the forgetting layers (``eq2_outside``) and its
threshold (``eq2_threshold``: one global, or one per layer); random pruning and iterative OBD
of the same network are the references. Each claim is judged by the chapter's own rule,
:func:`afm.experiments.efficient_learning.verdicts_3b`.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from afm import data as afm_data
from afm.baselines.pruning import prunable_weights, random_scores, weight_importance
from afm.experiments import efficient_learning as el
from afm.experiments.efficient_learning import pruning as elp
from afm.experiments.readings_claims import judged, measured_under, readings_of
from afm.importance import neuron_importance
from afm.lab.claims import Claim
from afm.lab.readings import NOT_TRAINING, apply_reading, is_default, label
from afm.lab.runs import best_on_validation, fit, fit_all, spread
from afm.train import loader

FIG3B_CLAIMS = ("fig3b-few-parameters", "fig3b-random-worse")


def fig3b_spec(profile: str, seed: int, reading: dict):
    """The complete VGG-9 of Fig. 3b trained under ``reading``: λ fixed by the reading, or the
    best on validation among the chapter's ``vgg_lams`` trained under it (seed 0)."""
    s = el.settings(profile)
    if reading.get("lam_rule") == "fixed":
        lam = reading["lam"]
    else:
        candidates = [apply_reading(el.vgg_spec(profile, "forgetting", 0, lam), reading)
                      for lam in s["vgg_lams"]]
        lam = candidates[best_on_validation(fit_all(candidates))].lam
    return apply_reading(el.vgg_spec(profile, "forgetting", int(seed), lam), reading)


def _references(profile: str, seed: int, reading: dict) -> dict:
    """Random pruning and iterative OBD of the network trained under ``reading`` (they do not
    depend on how Eq. (2) is read, so they are cached per training reading)."""
    training = {k: v for k, v in reading.items() if k not in NOT_TRAINING or k == "lam_rule"}

    def measure() -> dict:
        s = el.settings(profile)
        spec = fig3b_spec(profile, seed, training)
        model = spec.build(fit(spec)["state_dict"])
        train_set, _, eval_set = spec.splits()
        recal = loader(afm_data.subset(train_set, s["recalibrate_size"], seed=seed + 1), 250)
        fractions = list(s["fractions"])
        weights = prunable_weights(model)
        draws = np.array([[elp._pruned_accuracy(model, random_scores(weights, seed=1000 * seed + d), f,
                                               eval_set, recal)[0] for f in fractions]
                          for d in range(s["random_draws"])])
        obd = el.obd_iterative(model, train_set, fractions, eval_set, spec.regularisers(), s, seed,
                               recal)
        return {"unpruned": elp._accuracy(copy.deepcopy(model), eval_set, recal),
                "random": draws.mean(0), "obd": obd["acc"]}
    return measured_under("fig3b_reading_references", profile, seed, training, measure)


def fig3b_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 3b's numbers for one seed under ``reading``, shaped as
    :func:`~afm.experiments.efficient_learning.pruning_curves` gives them for the rules the
    claims read (``importance``: Eq. (2) with the reading's ``outside`` and threshold;
    ``random``, ``obd``). Cached."""
    def measure() -> dict:
        s = el.settings(profile)
        spec = fig3b_spec(profile, seed, reading)
        model = spec.build(fit(spec)["state_dict"])
        train_set, val_set, eval_set = spec.splits()
        recal = loader(afm_data.subset(train_set, s["recalibrate_size"], seed=seed + 1), 250)
        fractions = list(s["fractions"])
        theta = weight_importance(model, neuron_importance(model, loader(val_set)),
                                  outside=reading["eq2_outside"])
        per_layer = reading["eq2_threshold"] == "per_layer"  # keep_top_per_layer, else keep_top
        ref = _references(profile, seed, reading)
        acc = {"importance": np.array([elp._pruned_accuracy(model, theta, f, eval_set, recal, per_layer)[0]
                                       for f in fractions]),
               "random": ref["random"], "obd": ref["obd"]}
        return {"fractions": np.array(fractions), "unpruned": ref["unpruned"], "acc": acc,
                "kept": {rule: el.smallest_kept(fractions, a, ref["unpruned"]) for rule, a in acc.items()}}
    return measured_under("fig3b_reading", profile, seed, reading, measure)


def fig3b_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """The chapter's rule, called (not copied): :func:`~afm.experiments.efficient_learning.verdicts_3b`."""
    v = el.verdicts_3b(by_seed)
    common = dict(figure="3b", chapter="06_efficient_learning", n_seeds=len(by_seed),
                  profile=profile, section="book/06_efficient_learning.html#ch6-pruning")
    if claim_id == "fig3b-few-parameters":
        mean, std = spread(v["kept_importance"])
        return Claim(id=claim_id, statement="Pruned by the forgetting layer's parameter importance, "
                     "VGG-9 keeps its accuracy with about 20 % of the parameters, close to OBS",
                     measured="smallest fraction of weights (%) whose test accuracy is within 1 point "
                              "of the unpruned network, Eq. (2) in one shot; OBD in details",
                     value=100 * mean, spread=100 * std, verdict=v["few"],
                     details={"kept_importance": v["kept_importance"], "kept_obd": v["kept_obd"]},
                     **common)
    if claim_id == "fig3b-random-worse":
        mean, std = spread(v["random_gap_at_20"])
        return Claim(id=claim_id, statement="Random pruning is far worse (the lower bound)",
                     measured="test accuracy of Eq. (2) pruning minus random pruning at 20 % of the "
                              "weights (points)",
                     value=100 * mean, spread=100 * std, verdict=v["random"],
                     details={"gap_at_20": v["random_gap_at_20"]}, **common)
    raise ValueError(f"not a claim of Fig. 3b: {claim_id!r}; expected one of {FIG3B_CLAIMS}")


def fig3b_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 3b's claims under each reading; the default from the figure's ``results_by_seed``
    (the chapter's own pruning curves), every other reading from the same seeds."""
    by_reading = {label(r): (results_by_seed if is_default(r) else
                             {seed: fig3b_under(profile, seed, r) for seed in results_by_seed})
                  for r in readings_of(FIG3B_CLAIMS)}
    return judged(FIG3B_CLAIMS, by_reading, profile, fig3b_claim)
