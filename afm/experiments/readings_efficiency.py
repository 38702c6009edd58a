"""Chapter 6's claims under every reading declared for them (:mod:`afm.lab.readings`).

* Fig. 3a is about training speed: how much test accuracy the forgetting layer adds to an
  over-parameterised MLP within the chapter's few epochs. How far a network gets in a few
  epochs depends on the optimizer, which the paper never states, so its claims are measured
  under each reading of it (SGD with momentum, the book's default, and plain SGD). Every
  network of the figure, and every candidate of its validation grids, is trained under the
  reading, and the strengths (L1, L2, λ, β, ρ) are chosen again on validation
  (:func:`~afm.experiments.efficient_learning.choose_mlp`).
* Fig. 3b: the complete VGG-9 trained under each reading of the shortcut and λ, then pruned by
  Eq. (2) read with the reading's Ω outside the forgetting layers (``eq2_outside``) and its
  threshold (``eq2_threshold``: one global, or one per layer); random pruning and iterative
  OBD of the same network are the references.
* Fig. 3c is about training speed and smoothness too, so its claims are measured under the
  optimizer readings crossed with the VGG-9's batch norm (the paper never says whether its
  VGG-9 has any; without it, the forgetting layers are the only thing between the convolutions
  that rescales activations). The three networks of the figure are trained under each reading,
  λ chosen again on validation. A network whose training diverges under a reading is recorded
  as such (:func:`~afm.lab.runs.outcome`), with an infinite final loss, never as an error.

Each claim is judged by the chapter's own verdict functions (:mod:`afm.verdicts.efficient_learning`),
called, not copied: under the default reading a claim's verdict is the chapter's.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, replace

import numpy as np

from afm import data as afm_data
from afm.baselines.pruning import prunable_weights, random_scores, weight_importance
from afm.experiments import efficient_learning as el
from afm.experiments.efficient_learning import pruning as elp
from afm.experiments.readings_claims import (grid_under, lam_beta_under, measured_under,
                                             over_readings, readings_of)
from afm.importance import neuron_importance
from afm.lab.cache import cached
from afm.lab.claims import Claim
from afm.lab.readings import NOT_TRAINING, apply_reading, is_default
from afm.lab.runs import Run, best_on_validation, fit, outcomes
from afm.train import loader


# --- Fig. 3a: the optimizer ---------------------------------------------------------------------

FIG3A_CLAIMS = ("fig3a-gain-over-sgd", "fig3a-ordering-l1-l2")


def fig3a_grid(profile: str, reading: dict) -> list[Run]:
    """The first stage of the chapter's validation grids (every method, every training-set
    size, seed 0) trained under ``reading``; the second stage (ρ) follows from its choice."""
    return [apply_reading(spec, reading) for size in el.settings(profile)["mlp_sizes"]
            for specs in el.mlp_grid(profile, size).values() for spec in specs]


def fig3a_specs(profile: str, seed: int, reading: dict) -> list[Run]:
    """Every network of Fig. 3a for ``seed`` under ``reading``: each method at each size with
    the strengths chosen on validation under that reading."""
    choice = el.choose_mlp(profile, reading=reading)
    return [replace(spec, seed=int(seed)) for per_size in choice["specs"].values()
            for spec in per_size.values()]


def fig3a_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 3a's results for one seed under ``reading``, shaped as
    :func:`~afm.experiments.efficient_learning.structure_adaptive` gives them. Cached."""
    return measured_under("fig3a_reading", profile, seed, reading,
                          lambda: el.structure_adaptive(profile, int(seed), reading))


def fig3a_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """The chapter's verdicts on :func:`~afm.experiments.efficient_learning.summarise_3a` of
    ``by_seed``."""
    from afm.verdicts import efficient_learning as rules

    judge = {"fig3a-gain-over-sgd": rules.gain_over_sgd,
             "fig3a-ordering-l1-l2": rules.ordering_l1_l2}.get(claim_id)
    if judge is None:
        raise ValueError(f"not a claim of Fig. 3a: {claim_id!r}; expected one of {FIG3A_CLAIMS}")
    return judge(el.summarise_3a({s: by_seed[s] for s in sorted(by_seed)}), profile=profile)


def fig3a_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 3a's claims under each reading; the default from the figure's ``results_by_seed``,
    every other reading from the same seeds trained under it."""
    return over_readings(FIG3A_CLAIMS, results_by_seed, profile, fig3a_under, fig3a_claim)


# --- Fig. 3b: Eq. (2) ---------------------------------------------------------------------------

FIG3B_CLAIMS = ("fig3b-few-parameters", "fig3b-random-worse")


def vgg_grid(profile: str, reading: dict) -> list:
    """The chapter's λ grid of the complete VGG-9, ``vgg_lams`` (seed 0), trained under ``reading``,
    from which Fig. 3b and 3c choose λ; ``[]`` if the reading fixes λ."""
    return grid_under(reading, [el.vgg_spec(profile, "forgetting", 0, lam)
                                for lam in el.settings(profile)["vgg_lams"]])


def fig3b_spec(profile: str, seed: int, reading: dict):
    """The complete VGG-9 of Fig. 3b trained under ``reading``: λ fixed by the reading, or the
    best on validation among :func:`vgg_grid`."""
    lam, _ = lam_beta_under(reading, vgg_grid(profile, reading))
    return apply_reading(el.vgg_spec(profile, "forgetting", int(seed), lam), reading)


def _pruning_setup(profile: str, seed: int, reading: dict) -> tuple:
    """The network of Fig. 3b trained under ``reading`` and what pruning it needs:
    ``(settings, spec, model, (train, val, eval) sets, recalibration loader, fractions)``."""
    s = el.settings(profile)
    spec = fig3b_spec(profile, seed, reading)
    model = spec.build(fit(spec)["state_dict"])
    sets = spec.splits()
    recal = loader(afm_data.subset(sets[0], s["recalibrate_size"], seed=seed + 1), 250)
    return s, spec, model, sets, recal, list(s["fractions"])


def training_of(reading: dict) -> dict:
    """The settings of ``reading`` that train the network (and choose its λ), without how
    Eq. (2) prunes it."""
    return {k: v for k, v in reading.items() if k not in NOT_TRAINING or k == "lam_rule"}


def _references(profile: str, seed: int, reading: dict) -> dict:
    """Random pruning and iterative OBD of the network trained under ``reading``. They depend
    on the network only, not on how Eq. (2) is read or on which reading trained it, so they are
    cached per network: two readings that train the same network (λ chosen on validation, and
    λ fixed at the value chosen) share them."""
    training = training_of(reading)
    key = {"profile": profile, "seed": int(seed), "network": asdict(fig3b_spec(profile, seed, training)),
           "settings": el.settings(profile)}

    def measure() -> dict:
        s, spec, model, (train_set, _, eval_set), recal, fractions = _pruning_setup(
            profile, seed, training)
        weights = prunable_weights(model)
        draws = np.array([[elp._pruned_accuracy(model, random_scores(weights, seed=1000 * seed + d), f,
                                               eval_set, recal)[0] for f in fractions]
                          for d in range(s["random_draws"])])
        obd = el.obd_iterative(model, train_set, fractions, eval_set, spec.regularisers(), s, seed,
                               recal)
        return {"unpruned": elp._accuracy(copy.deepcopy(model), eval_set, recal),
                "random": draws.mean(0), "obd": obd["acc"]}
    return cached("fig3b_references", key, measure)


def fig3b_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 3b's numbers for one seed under ``reading``, shaped as
    :func:`~afm.experiments.efficient_learning.pruning_curves` gives them for the rules the
    claims read (``importance``: Eq. (2) with the reading's ``outside`` and threshold;
    ``random``, ``obd``). Cached."""
    def measure() -> dict:
        _, _, model, (_, val_set, eval_set), recal, fractions = _pruning_setup(
            profile, seed, reading)
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
    """The chapter's verdicts, called (not copied), on its measures of ``by_seed``."""
    from afm.verdicts import efficient_learning as rules

    m = rules.pruning_measures(by_seed, el.settings(profile)["fractions"])
    if claim_id == "fig3b-few-parameters":
        return rules.few_parameters(m["kept"]["importance"], m["kept"]["obd"], profile=profile)
    if claim_id == "fig3b-random-worse":
        return rules.random_worse(m["acc20"]["importance"] - m["acc20"]["random"], profile=profile)
    raise ValueError(f"not a claim of Fig. 3b: {claim_id!r}; expected one of {FIG3B_CLAIMS}")


def fig3b_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 3b's claims under each reading; the default from the figure's ``results_by_seed``
    (the chapter's own pruning curves), every other reading from the same seeds."""
    return over_readings(FIG3B_CLAIMS, results_by_seed, profile, fig3b_under, fig3b_claim)


# --- Fig. 3c: the optimizer and batch norm ------------------------------------------------------

FIG3C_CLAIMS = ("fig3c-convergence", "fig3c-without-losses")


def fig3c_lam(profile: str, reading: dict) -> float:
    """λ of Fig. 3c's complete layer under ``reading``: the best on validation among the
    chapter's ``vgg_lams`` (seed 0, :func:`vgg_grid`) trained under it. A candidate whose
    training diverged is never preferred to one that trained; if all diverged, the first."""
    grid = vgg_grid(profile, reading)
    return grid[best_on_validation(outcomes(grid))].lam


def fig3c_specs(profile: str, seed: int, reading: dict) -> dict[str, Run]:
    """The three VGG-9s of Fig. 3c (``sgd``, ``forgetting*``, ``forgetting``) trained under
    ``reading``, the complete layer with :func:`fig3c_lam`."""
    lam = fig3c_lam(profile, reading)
    return {v: apply_reading(el.vgg_spec(profile, v, int(seed), lam), reading) for v in el.VARIANTS}


def prepare_fig3c(profile: str, seeds, jobs: int | None = None, scheduler=None) -> None:
    """Train, in parallel, every network that Fig. 3c's claims read under a reading other than
    the default (which the figure trains): the λ grid of each reading, then its three networks
    for each seed. Afterwards :func:`fig3c_under` only reads the cache."""
    readings = [r for r in readings_of(FIG3C_CLAIMS) if not is_default(r)]
    outcomes([spec for r in readings for spec in vgg_grid(profile, r)], jobs, scheduler)
    outcomes([spec for r in readings for seed in seeds for spec in fig3c_specs(profile, seed, r).values()],
             jobs, scheduler)


def fig3c_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 3c for one seed under ``reading``, shaped as
    :func:`~afm.experiments.efficient_learning.convergence` gives it. Cached."""
    return measured_under("fig3c_reading", profile, seed, reading,
                          lambda: el.convergence(profile, int(seed), fig3c_specs(profile, seed, reading)))


def fig3c_measures(by_seed: dict) -> tuple[dict, dict]:
    """``({variant: final-epoch losses (seeds,)}, {variant: relative total variations (seeds,)})``
    of Fig. 3c's per-seed results, as the chapter hands them to its verdicts."""
    runs = [by_seed[seed]["runs"] for seed in sorted(by_seed)]
    return ({v: np.array([r[v]["final_loss"] for r in runs]) for v in el.VARIANTS},
            {v: np.array([r[v]["tv_relative"] for r in runs]) for v in el.VARIANTS})


def fig3c_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """The chapter's verdicts, :func:`afm.verdicts.efficient_learning.convergence` and
    :func:`~afm.verdicts.efficient_learning.without_losses`, on :func:`fig3c_measures`."""
    from afm.verdicts import efficient_learning as rules

    judge = {"fig3c-convergence": rules.convergence,
             "fig3c-without-losses": rules.without_losses}.get(claim_id)
    if judge is None:
        raise ValueError(f"not a claim of Fig. 3c: {claim_id!r}; expected one of {FIG3C_CLAIMS}")
    return judge(*fig3c_measures(by_seed), profile=profile)


def fig3c_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 3c's claims under each reading (optimizer × batch norm); the default from the
    figure's ``results_by_seed``, every other reading from the same seeds trained under it
    (:func:`prepare_fig3c` first, in parallel)."""
    prepare_fig3c(profile, list(results_by_seed))
    return over_readings(FIG3C_CLAIMS, results_by_seed, profile, fig3c_under, fig3c_claim)
