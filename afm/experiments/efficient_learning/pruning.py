"""Fig. 3b and 3c: the VGG-9 with forgetting layers on the CIFAR-10 stand-in, its convergence
against the plain network, and its pruning by random, OBD and Eq. (2)'s importance
(chapter "Efficient learning"; the settings are :func:`afm.experiments.efficient_learning.settings`)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch

from afm import data as afm_data
from afm.baselines.pruning import (apply_masks, fine_tune, keep_top, keep_top_per_layer, magnitude_scores,
                                   obd_scores, per_layer_kept, prunable_weights, random_scores,
                                   recalibrate_batch_norm, weight_importance)
from afm.experiments.efficient_learning import RULES, TOLERANCE, VARIANTS, settings, vgg_seeds
from afm.importance import activation_importance, neuron_importance
from afm.lab.cache import cached
from afm.lab.runs import Run, best_on_validation, diverged, fit, fit_all, outcome
from afm.models import excitatory_of
from afm.train import TrainConfig, evaluate, loader


def variant_of(spec: Run) -> str:
    """``sgd``, ``forgetting*`` (layers without their losses) or ``forgetting`` (:data:`VARIANTS`)."""
    if not spec.has_forgetting:
        return "sgd"
    return "forgetting" if (spec.lam or spec.beta) else "forgetting*"


def vgg_spec(profile: str, variant: str, seed: int = 0, lam: float | None = None) -> Run:
    """The VGG-9 of ``variant`` (:data:`VARIANTS`) on the CIFAR-10 stand-in; ``lam`` for the
    complete layer. ``vgg_val_fraction`` of the 50,000 training images is the validation split,
    ``vgg_train_size`` of the rest are trained on, ``prune_eval`` test images (all if None)
    are evaluated. SGD (momentum 0.9, batch 128, lr 0.05 decayed to 0 by a cosine schedule),
    no data augmentation."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: expected one of {VARIANTS}")
    s = settings(profile)
    base = Run(arch="vgg9", options=(("width", s["vgg_width"]),), dataset="cifar10",
               forgetting=variant != "sgd",
               train=TrainConfig(epochs=s["vgg_epochs"], lr=0.05, schedule="cosine"),
               train_size=s["vgg_train_size"], val_fraction=s["vgg_val_fraction"],
               test_size=s["prune_eval"], seed=seed)
    if variant == "forgetting":
        if lam is None:
            raise ValueError("the complete forgetting layer needs lam (choose_vgg gives it)")
        return replace(base, lam=lam, beta=s["vgg_beta"])
    return base


def choose_vgg(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """λ of the complete layer in the VGG-9 by validation accuracy (seed 0, β fixed)."""
    return cached("efficiency_vgg_choice", {"profile": profile, **settings(profile)},
                  lambda: _choose_vgg(profile, jobs, scheduler))


def _choose_vgg(profile: str, jobs: int | None, scheduler) -> dict:
    s = settings(profile)
    specs = [vgg_spec(profile, "forgetting", 0, lam) for lam in s["vgg_lams"]]
    results = fit_all(specs, jobs, scheduler)
    best = best_on_validation(results)
    return {"lam": specs[best].lam, "beta": specs[best].beta,
            "grid": [{"lam": sp.lam, "beta": sp.beta, "val_acc": r["val_acc"]}
                     for sp, r in zip(specs, results)]}


def vgg_specs(profile: str, seed: int) -> dict[str, Run]:
    """The three networks of Fig. 3c (the complete one is the network Fig. 3b prunes)."""
    lam = choose_vgg(profile)["lam"]
    return {v: vgg_spec(profile, v, seed, lam) for v in VARIANTS}


def prepare_vgg(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Fig. 3b's and 3c's training runs, in parallel: the λ grid, then every network and seed."""
    choice = choose_vgg(profile, jobs, scheduler)
    fit_all([sp for seed in vgg_seeds(profile) for sp in vgg_specs(profile, seed).values()],
            jobs, scheduler)
    return choice


def total_variation(losses) -> float:
    """Smoothness of a loss curve: the mean absolute change between consecutive steps,
    ``TV = (1/(T-1)) Σ_t |L_{t+1} − L_t|`` (lower = smoother)."""
    a = np.asarray(losses, dtype=float)
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"total_variation needs a 1-D curve of at least 2 values, got shape {a.shape}")
    return float(np.abs(np.diff(a)).mean())


def convergence(profile: str, seed: int = 0, specs: dict[str, Run] | None = None) -> dict:
    """Fig. 3c for one seed: the training loss (task cross-entropy, without the regularisers)
    of the three networks, per batch and per epoch, and its total variation.

    Args:
        specs: ``{variant: Run}`` of the three networks (default :func:`vgg_specs`; the
            readings of Fig. 3c give the same networks trained under a reading).

    Returns:
        ``{"lam", "beta", "steps_per_epoch", "runs": {variant: curve_of(...)}}``
        (:func:`curve_of`; a network whose training diverged is recorded, not an error).
    """
    specs = vgg_specs(profile, seed) if specs is None else specs
    runs = {variant: curve_of(spec, outcome(spec)) for variant, spec in specs.items()}
    steps = [len(r["batch_loss"]) // max(1, specs[v].train.epochs) for v, r in runs.items()
             if not r["diverged"]]
    return {"lam": specs["forgetting"].lam, "beta": specs["forgetting"].beta,
            "steps_per_epoch": steps[0] if steps else None, "runs": runs}


def curve_of(spec: Run, result: dict) -> dict:
    """Fig. 3c's measures of one trained network (``result`` of :func:`~afm.lab.runs.outcome`):
    ``batch_loss`` (T,), ``epoch_loss`` (epochs,), ``val_curve``, ``test_acc``, ``tv``,
    ``tv_relative``, ``final_loss``, ``mean_loss``, ``parameters`` and ``diverged`` (False, or
    where and why the loss became non-finite). A diverged network has no curve; its final loss
    and total variations are +inf, so it never counts as lower or smoother than one that trained.
    """
    if diverged(result):
        inf = float("inf")
        return {"diverged": result["diverged"], "batch_loss": np.array([]), "epoch_loss": np.array([]),
                "val_curve": np.array([]), "test_acc": float("nan"), "tv": inf, "tv_relative": inf,
                "final_loss": inf, "mean_loss": inf, "parameters": None}
    history = result["history"]
    bl = np.array(history["batch_loss"])
    return {"diverged": False, "batch_loss": bl, "epoch_loss": np.array(history["loss"]),
            "val_curve": np.array(history["eval_acc"]), "test_acc": result["test_acc"],
            "tv": total_variation(bl), "tv_relative": total_variation(bl) / float(bl.mean()),
            "final_loss": float(history["loss"][-1]), "mean_loss": float(np.mean(history["loss"])),
            "parameters": int(sum(v.numel() for k, v in result["state_dict"].items()
                                  if not k.endswith(("running_mean", "running_var",
                                                     "num_batches_tracked"))))}


# --- Fig. 3b: pruning the trained VGG-9 ---------------------------------------------------------

def _accuracy(model, eval_set, recalibration) -> float:
    """Test accuracy after re-estimating the batch-norm statistics on ``recalibration``."""
    return evaluate(recalibrate_batch_norm(model, recalibration), eval_set)


def _pruned_accuracy(model, scores, fraction, eval_set, recalibration,
                     per_layer: bool = False) -> tuple[float, dict]:
    masks = (keep_top_per_layer if per_layer else keep_top)(scores, fraction)
    pruned = apply_masks(copy.deepcopy(model), masks)
    return _accuracy(pruned, eval_set, recalibration), masks


def obd_iterative(model, train_set, fractions, eval_set, regularisers, s: dict, seed: int,
                  recalibration) -> dict:
    """Iterative optimal brain damage: for each kept fraction in decreasing order, OBD
    saliencies from the empirical Fisher (``fisher_samples`` training images), prune the
    remaining weights down to the fraction, fine-tune once over ``finetune_size`` training
    images (masks held), evaluate (on a copy whose batch-norm statistics are re-estimated
    on ``recalibration``, as for the other rules). Returns accuracies and per-layer kept shares."""
    model = copy.deepcopy(model)
    weights = list(prunable_weights(model))
    gen = np.random.default_rng(seed)
    masks = {n: torch.ones_like(w, dtype=torch.bool) for n, w in prunable_weights(model).items()}
    acc, layers = [], []
    for k, fraction in enumerate(fractions):
        if fraction < 1.0:
            idx = torch.from_numpy(np.sort(gen.choice(len(train_set), s["fisher_samples"], replace=False)))
            fisher_data = loader(train_set[idx], 256)  # CIFAR-10 uint8: converts only these
            masks = keep_top(obd_scores(model, fisher_data, weights), fraction, current=masks)
            apply_masks(model, masks)
            idx = torch.from_numpy(np.sort(gen.choice(len(train_set), s["finetune_size"], replace=False)))
            config = TrainConfig(epochs=1, batch_size=128, lr=s["finetune_lr"], seed=seed + k)
            fine_tune(model, train_set[idx], masks, config,
                      regularisers, progress=False)
            model.cpu()
        acc.append(_accuracy(copy.deepcopy(model), eval_set, recalibration))
        layers.append(per_layer_kept(masks))
    return {"acc": np.array(acc), "layers": layers}


def pruning_curves(profile: str, seed: int = 0) -> dict:
    """Fig. 3b for one seed: test accuracy of the trained complete VGG-9 against the
    fraction of its weights kept, for the three rules of :data:`RULES`.

    ``random`` (``random_draws`` draws), ``importance`` (Eq. 2 on Ω measured over the
    validation split, one global threshold), ``importance_layer`` (the same θ, the same
    share of every layer kept), ``importance_reversed`` (a diagnostic: −θ, the same share
    of every layer, so the weights of the *most* important neurons go first, like chapter
    3's inverse order) and ``magnitude`` (|w|, one global threshold) prune the
    trained network in one shot, without fine-tuning;
    ``obd`` prunes iteratively with a fine-tuning pass after each round
    (:func:`obd_iterative`). Accuracy is on ``prune_eval`` test images (all if None),
    every network (the unpruned one too) after its batch-norm statistics are re-estimated
    on the same ``recalibrate_size`` training images (:func:`afm.baselines.pruning.recalibrate_batch_norm`);
    ``as_trained`` is the unpruned accuracy with the statistics of training.

    Returns:
        ``{"fractions", "unpruned", "acc": {rule: (fractions,) (random: mean of draws)},
        "random_draws": (draws, fractions), "layers": {rule: [per-layer kept at each
        fraction]}, "kept": {rule: smallest fraction within TOLERANCE of unpruned},
        "weights", "gate_parameters", "omega", "omega_activity_spearman" (per forgetting
        layer: Spearman(Ω, mean |activation|) of its neurons on the validation split)}``.
    """
    s = settings(profile)
    spec = vgg_specs(profile, seed)["forgetting"]
    run = fit(spec)
    model = spec.build(run["state_dict"])
    train_set, val_set, eval_set = spec.splits()  # eval_set: the prune_eval test images
    fractions = list(s["fractions"])
    weights = prunable_weights(model)
    omega = neuron_importance(model, loader(val_set))
    activity = activation_importance(model, loader(val_set))
    recal = loader(afm_data.subset(train_set, s["recalibrate_size"], seed=seed + 1), 250)
    as_trained = evaluate(model, eval_set)
    unpruned = _accuracy(copy.deepcopy(model), eval_set, recal)
    draws = np.array([[_pruned_accuracy(model, random_scores(weights, seed=1000 * seed + d), f,
                                        eval_set, recal)[0] for f in fractions]
                      for d in range(s["random_draws"])])
    acc, layers = {"random": draws.mean(0)}, {}
    theta = weight_importance(model, omega)
    reversed_theta = {n: -t for n, t in theta.items()}  # most important first (chapter 3's inverse order)
    for rule, scores, per_layer in (("importance", theta, False), ("importance_layer", theta, True),
                                    ("importance_reversed", reversed_theta, True),
                                    ("magnitude", magnitude_scores(weights), False)):
        curve = [_pruned_accuracy(model, scores, f, eval_set, recal, per_layer) for f in fractions]
        acc[rule] = np.array([a for a, _ in curve])
        layers[rule] = [per_layer_kept(masks) for _, masks in curve]
    obd = obd_iterative(model, train_set, fractions, eval_set, spec.regularisers(), s, seed, recal)
    acc["obd"] = obd["acc"]
    n_weights = sum(w.numel() for w in weights.values())
    gate_params = sum(p.numel() for n, p in model.named_parameters() if ".forget." in n)
    return {"fractions": np.array(fractions), "unpruned": unpruned, "acc": acc,
            "random_draws": draws,
            "layers": {**layers, "obd": obd["layers"],
                       "random": [per_layer_kept(keep_top(random_scores(weights, seed=1000 * seed), f))
                                  for f in fractions]},
            "kept": {rule: smallest_kept(fractions, acc[rule], unpruned) for rule in RULES},
            "weights": int(n_weights), "gate_parameters": int(gate_params),
            "layer_sizes": {n: int(w.numel()) for n, w in weights.items()},
            "omega": {n: o.numpy() for n, o in omega.items()},
            "omega_activity_spearman": {n: _spearman(o, activity[excitatory_of(n)])
                                        for n, o in omega.items()},
            "as_trained": as_trained, "test_acc": run["test_acc"], "val_acc": run["val_acc"]}


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two 1-D tensors."""
    from scipy.stats import spearmanr

    return float(spearmanr(a.numpy(), b.numpy()).statistic)


def smallest_kept(fractions, acc, unpruned: float, tolerance: float = TOLERANCE) -> float:
    """The smallest fraction of weights whose accuracy is within ``tolerance`` of ``unpruned``
    (1.0 when no smaller one is; fractions are checked from large to small, so a rule that
    recovers after a dip is credited with its smallest good fraction)."""
    good = [f for f, a in zip(fractions, acc) if a >= unpruned - tolerance]
    return float(min(good)) if good else 1.0
