"""Chapter "Forgetting layers for efficient learning": Fig. 3a, 3b and 3c.

* Fig. 3a (structure-adaptive encoding): the paper's MLP 784-256-256-128-10 on
  Fashion-MNIST, trained with plain SGD, SGD + L1, SGD + L2 (weight decay) and
  with a complete forgetting layer (ERS + IRS, shortcut) after each hidden layer,
  at several training-set sizes. Every strength (L1, L2, and the layer's λ, β, ρ)
  is chosen on the validation split (10 % of the training set, seed 0), at each
  training-set size. The test set is evaluated after every epoch for the curves
  (on :func:`settings`' ``curve_test`` images) and never used for a choice.
* Fig. 3b (storing information in few parameters): a VGG-9 with forgetting layers
  on its 6 convolutional and 2 hidden fully connected layers, trained on the
  CIFAR-10 JPEG stand-in, then pruned to fractions of its weights by three rules
  (:mod:`afm.baselines.pruning`): random, optimal brain damage with the empirical Fisher
  (iterative, fine-tuned after each round), and Eq. (2)'s parameter importance
  (one shot, no fine-tuning).
* Fig. 3c (convergence): the training loss of the plain VGG-9 (``sgd``), the VGG-9
  with forgetting layers trained without their losses (``forgetting layer*``, λ = β = 0)
  and the complete one (``forgetting layer``), same seed, same batches.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, replace

import numpy as np
import torch

from afm import data as afm_data
from afm.lab.cache import cached
from afm.importance import activation_importance, neuron_importance
from afm.models import excitatory_of
from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.plotting import efficient_learning as plotting
from afm.baselines.pruning import (apply_masks, fine_tune, keep_top, keep_top_per_layer, magnitude_scores,
                       obd_scores, per_layer_kept, prunable_weights, random_scores,
                       recalibrate_batch_norm, weight_importance)
from afm.train import TrainConfig, evaluate, loader
from afm.lab.runs import Run, best_on_validation, fit, fit_all, spread

#: Fig. 3a's network (the paper's) and methods, in the order of the legend.
WIDTHS = (784, 256, 256, 128, 10)
METHODS = ("sgd", "l1", "l2", "forgetting")
#: Fig. 3b's pruning rules: the paper's forgetting_random, forgetting_OBS (here OBD) and
#: forgetting_l2 (Eq. 2, one global ranking); then two references that are not in the paper:
#: Eq. (2) ranked within each layer (the same share of every layer kept) and |w|.
RULES = ("random", "obd", "importance", "importance_layer", "importance_reversed", "magnitude")
#: Fig. 3c's networks: plain, forgetting layers without ERS/IRS, the complete layer.
VARIANTS = ("sgd", "forgetting*", "forgetting")
#: The paper's headline numbers.
PAPER_GAIN = 0.13          # "a nearly 13 % improvement in test accuracy"
PAPER_FRACTION = 0.20      # "only approximately 20 % of the parameters"
#: Fig. 3b: a pruned network "keeps" its accuracy within this of the unpruned one.
TOLERANCE = 0.01


def settings(profile: str) -> dict:
    """What each profile trains (the chapter prints it and says why).

    ``mlp_sizes``/``mlp_epochs``: Fig. 3a's training-set sizes (``None`` = all 54,000)
    and epochs at each (small sets get more epochs, so that every run takes
    enough steps to fit its data). ``vgg_*``: Fig. 3b/3c's VGG-9 (``width`` scales
    the channels, c = 64·width), its training subset and epochs.
    """
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(mlp_sizes=(500,), mlp_epochs=(3,), seeds=[0], l1s=[1e-5], l2s=[1e-3],
                   lams=[1.0], betas=[1e-4], rhos=[1.0], curve_test=500,
                   vgg_width=0.125, vgg_train_size=256, vgg_val_fraction=0.02, vgg_epochs=1,
                   vgg_seeds=[0], vgg_lams=[1.0], vgg_beta=1e-4, fractions=(1.0, 0.5, 0.1),
                   fisher_samples=32, finetune_size=128, finetune_lr=0.01, random_draws=1,
                   recalibrate_size=128, prune_eval=500),
        book=dict(mlp_sizes=(1000, 5000, None), mlp_epochs=(30, 10, 2), seeds=[0, 1, 2],
                  l1s=[1e-6, 1e-5, 1e-4], l2s=[1e-4, 1e-3, 1e-2], lams=[0.1, 1.0],
                  betas=[1e-4, 1e-3], rhos=[1.0, 4.0], curve_test=2000,
                  vgg_width=0.125, vgg_train_size=8000, vgg_val_fraction=0.05, vgg_epochs=4,
                  vgg_seeds=[0, 1],
                  vgg_lams=[0.1, 1.0], vgg_beta=1e-4,
                  fractions=(1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05),
                  fisher_samples=256, finetune_size=2000, finetune_lr=0.01, random_draws=2,
                  recalibrate_size=1000, prune_eval=2000),
        paper=dict(mlp_sizes=(1000, 5000, None), mlp_epochs=(200, 60, 20), seeds=[0, 1, 2, 3, 4],
                   l1s=[1e-7, 1e-6, 1e-5, 1e-4], l2s=[1e-5, 1e-4, 1e-3, 1e-2],
                   lams=[0.1, 1.0, 10.0], betas=[1e-5, 1e-4, 1e-3], rhos=[1.0, 2.0, 4.0],
                   curve_test=None, vgg_width=1.0, vgg_train_size=None, vgg_val_fraction=0.1,
                   vgg_epochs=30,
                   vgg_seeds=[0, 1, 2], vgg_lams=[0.1, 1.0, 10.0], vgg_beta=1e-4,
                   fractions=(1.0, 0.8, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05),
                   fisher_samples=1000, finetune_size=10000, finetune_lr=0.01, random_draws=5,
                   recalibrate_size=5000, prune_eval=None))


def seeds(profile: str) -> list[int]:
    """Fig. 3a's seeds."""
    return list(settings(profile)["seeds"])


def vgg_seeds(profile: str) -> list[int]:
    """Fig. 3b's and 3c's seeds (fewer: the VGG-9 is the book's heaviest network)."""
    return list(settings(profile)["vgg_seeds"])


# --- Fig. 3a: the over-parameterised MLP ----------------------------------------------------------

def method_of(spec: Run) -> str:
    """Which of :data:`METHODS` a Fig. 3a run is."""
    if spec.forgetting:
        return "forgetting"
    return "l1" if spec.l1 else ("l2" if spec.l2 else "sgd")


def mlp_spec(profile: str, size: int | None, method: str, seed: int = 0, strength: float = 0.0,
             lam: float = 0.0, beta: float = 0.0, rho: float = 1.0) -> Run:
    """The Fig. 3a run of ``method`` at training-set size ``size``.

    ``history["eval_acc"]`` of its result is the accuracy on the first ``curve_test`` images
    of a fixed permutation of the test set after every epoch (the curve of Fig. 3a, never
    used for a choice)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")
    s = settings(profile)
    if size not in s["mlp_sizes"]:
        raise ValueError(f"training-set size {size!r} is not one of {s['mlp_sizes']} in {profile!r}")
    epochs = s["mlp_epochs"][list(s["mlp_sizes"]).index(size)]
    base = Run(dataset="fashion-mnist", widths=WIDTHS, forgetting=False,
               train=TrainConfig(epochs=epochs, lr=0.05), train_size=size, epoch_eval="test",
               epoch_eval_size=s["curve_test"], seed=seed)
    if method == "l1":
        return replace(base, l1=strength)
    if method == "l2":
        return replace(base, l2=strength)
    if method == "forgetting":
        return replace(base, forgetting=True, shortcut=True, lam=lam, beta=beta, rho=rho)
    return base


def mlp_grid(profile: str, size: int | None, lam_beta: tuple[float, float] | None = None
             ) -> dict[str, list[Run]]:
    """The validation grid of every method at one training-set size (seed 0).

    The forgetting layer's grid has two stages: (λ, β) over ``lams`` × ``betas`` at the
    first of ``rhos``; then, given the chosen ``lam_beta``, ρ over ``rhos``.
    """
    s = settings(profile)
    if lam_beta is not None:
        return {"forgetting": [mlp_spec(profile, size, "forgetting", lam=lam_beta[0],
                                        beta=lam_beta[1], rho=rho) for rho in s["rhos"]]}
    return {"sgd": [mlp_spec(profile, size, "sgd")],
            "l1": [mlp_spec(profile, size, "l1", strength=v) for v in s["l1s"]],
            "l2": [mlp_spec(profile, size, "l2", strength=v) for v in s["l2s"]],
            "forgetting": [mlp_spec(profile, size, "forgetting", lam=lam, beta=beta, rho=s["rhos"][0])
                           for lam in s["lams"] for beta in s["betas"]]}


def choose_mlp(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Every method's strengths at every training-set size, by *validation* accuracy (seed 0).

    L1 from ``l1s``, L2 from ``l2s``; the forgetting layer's (λ, β) from ``lams`` ×
    ``betas`` at ρ = ``rhos[0]``, then ρ from ``rhos`` at that (λ, β). The test set
    plays no part in the choice; ties go to the earlier candidate.

    Returns:
        ``{"specs": {size: {method: Run}}, "grid": [{"size", "method", "stage", "l1",
        "l2", "lam", "beta", "rho", "val_acc", "chosen"}, ...]}``.
    """
    choice = cached("efficiency_mlp_choice", {"profile": profile, **settings(profile)},
                    lambda: _choose_mlp(profile, jobs, scheduler))
    return {"specs": {size: {m: Run.from_dict(d) for m, d in per.items()}
                      for size, per in choice["specs"].items()}, "grid": choice["grid"]}


def _choose_mlp(profile: str, jobs: int | None, scheduler) -> dict:
    s = settings(profile)
    chosen, rows = {}, []

    def pick(size, grid, stage):
        for method, specs in grid.items():
            results = fit_all(specs)
            best = best_on_validation(results)
            chosen[size][method] = specs[best]
            rows.extend({"size": r["train_size"], "method": method, "stage": stage,
                         "l1": sp.l1, "l2": sp.l2, "lam": sp.lam, "beta": sp.beta,
                         "rho": sp.rho, "val_acc": r["val_acc"], "chosen": i == best}
                        for i, (sp, r) in enumerate(zip(specs, results)))

    grids = {size: mlp_grid(profile, size) for size in s["mlp_sizes"]}
    fit_all([sp for g in grids.values() for specs in g.values() for sp in specs], jobs, scheduler)
    for size, grid in grids.items():
        chosen[size] = {}
        pick(size, grid, 1)
    grids = {size: mlp_grid(profile, size, (chosen[size]["forgetting"].lam,
                                            chosen[size]["forgetting"].beta))
             for size in s["mlp_sizes"]}
    fit_all([sp for g in grids.values() for sp in g["forgetting"]], jobs, scheduler)
    for size, grid in grids.items():
        pick(size, grid, 2)
    return {"specs": {size: {m: asdict(sp) for m, sp in per.items()} for size, per in chosen.items()},
            "grid": rows}


def prepare_mlp(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Fig. 3a's runs, in parallel: the validation grids, then every method at every seed."""
    choice = choose_mlp(profile, jobs, scheduler)
    specs = [replace(sp, seed=seed) for seed in seeds(profile)
             for per_size in choice["specs"].values() for sp in per_size.values()]
    fit_all(specs, jobs, scheduler)
    return choice


def structure_adaptive(profile: str, seed: int = 0) -> dict:
    """Fig. 3a for one seed: every method at every training-set size.

    Returns:
        ``{"sizes": [n, ...], "runs": {n: {method: {"test_curve" (epochs,), "train_curve"
        (epochs,), "test_acc", "val_acc", "train_acc", "gap", "epochs", "hyper"}}}}``, ``n``
        the number of training images; ``train_curve`` is the running accuracy on the
        batches of each epoch (train mode), ``gap`` = final train accuracy − test accuracy.
    """
    choice = choose_mlp(profile)
    out = {"sizes": [], "runs": {}}
    for size, per_method in choice["specs"].items():
        specs = [replace(sp, seed=seed) for sp in per_method.values()]
        runs = fit_all(specs)
        n = runs[0]["train_size"]
        out["sizes"].append(n)
        out["runs"][n] = {
            method_of(sp): {
                "test_curve": np.array(r["history"]["eval_acc"]),
                "train_curve": np.array(r["history"]["train_acc"]),
                "test_acc": r["test_acc"], "val_acc": r["val_acc"], "train_acc": r["train_acc"],
                "gap": r["train_acc"] - r["test_acc"], "epochs": sp.train.epochs,
                "hyper": {"l1": sp.l1, "l2": sp.l2, "lam": sp.lam, "beta": sp.beta, "rho": sp.rho}}
            for sp, r in zip(specs, runs)}
    return out


def summarise_3a(per_seed: dict[int, dict]) -> dict:
    """Over seeds, per training-set size and method: mean/std of test accuracy and gap,
    and the gain of every method over ``sgd`` (paired by seed)."""
    first = next(iter(per_seed.values()))
    out = {}
    for n in first["sizes"]:
        out[n] = {}
        for method in METHODS:
            acc = np.array([r["runs"][n][method]["test_acc"] for r in per_seed.values()])
            sgd = np.array([r["runs"][n]["sgd"]["test_acc"] for r in per_seed.values()])
            gap = np.array([r["runs"][n][method]["gap"] for r in per_seed.values()])
            out[n][method] = {"acc": float(acc.mean()), "acc_std": spread(acc)[1],
                              "gap": float(gap.mean()), "gap_std": spread(gap)[1],
                              "gain": float((acc - sgd).mean()), "gain_std": spread(acc - sgd)[1],
                              "gains": (acc - sgd).tolist(), "n": int(acc.size)}
    return out




# --- The VGG-9 of Fig. 3b and 3c ----------------------------------------------------------------

def variant_of(spec: Run) -> str:
    """``sgd``, ``forgetting*`` (layers without their losses) or ``forgetting`` (:data:`VARIANTS`)."""
    if not spec.has_forgetting:
        return "sgd"
    return "forgetting" if (spec.lam or spec.beta) else "forgetting*"


def vgg_spec(profile: str, variant: str, seed: int = 0, lam: float | None = None) -> Run:
    """The VGG-9 of ``variant`` (:data:`VARIANTS`) on the CIFAR-10 stand-in; ``lam`` for the
    complete layer. ``vgg_val_fraction`` of the 50,000 training images is the validation split,
    ``vgg_train_size`` of the rest are trained on, ``prune_eval`` test images (all if None)
    are evaluated. No data augmentation."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: expected one of {VARIANTS}")
    s = settings(profile)
    base = Run(arch="vgg9", options=(("width", s["vgg_width"]),), dataset="cifar10",
               forgetting=variant != "sgd", train=TrainConfig(epochs=s["vgg_epochs"], lr=0.05),
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


def convergence(profile: str, seed: int = 0) -> dict:
    """Fig. 3c for one seed: the training loss (task cross-entropy, without the regularisers)
    of the three networks, per batch and per epoch, and its total variation.

    Returns:
        ``{"lam", "beta", "steps_per_epoch", "runs": {variant: {"batch_loss" (T,),
        "epoch_loss" (epochs,), "val_curve", "test_acc", "tv", "tv_relative",
        "final_loss", "mean_loss", "parameters"}}}``.
    """
    specs = vgg_specs(profile, seed)
    out = {"lam": specs["forgetting"].lam, "beta": specs["forgetting"].beta, "runs": {}}
    for variant, spec in specs.items():
        r = fit(spec)
        history = r["history"]
        bl = np.array(history["batch_loss"])
        out["steps_per_epoch"] = len(bl) // max(1, spec.train.epochs)
        out["runs"][variant] = {
            "batch_loss": bl, "epoch_loss": np.array(history["loss"]),
            "val_curve": np.array(history["eval_acc"]), "test_acc": r["test_acc"],
            "tv": total_variation(bl), "tv_relative": total_variation(bl) / float(bl.mean()),
            "final_loss": float(history["loss"][-1]), "mean_loss": float(np.mean(history["loss"])),
            "parameters": int(sum(v.numel() for k, v in r["state_dict"].items()
                                  if not k.endswith(("running_mean", "running_var",
                                                     "num_batches_tracked"))))}
    return out




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
            fisher_data = loader((train_set.tensors[0][idx], train_set.tensors[1][idx]), 256)
            masks = keep_top(obd_scores(model, fisher_data, weights), fraction, current=masks)
            apply_masks(model, masks)
            idx = torch.from_numpy(np.sort(gen.choice(len(train_set), s["finetune_size"], replace=False)))
            config = TrainConfig(epochs=1, batch_size=128, lr=s["finetune_lr"], seed=seed + k)
            fine_tune(model, (train_set.tensors[0][idx], train_set.tensors[1][idx]), masks, config,
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


FIGURES = [
    Figure("3a", "Structure-adaptive encoding: sgd, L1, L2 and the forgetting layer",
           "06_efficient_learning", plot=plotting.fig_3a_structure, compute=structure_adaptive,
           seeds=seeds, prepare=prepare_mlp),
    Figure("3b", "Pruning VGG-9: random, OBD and the forgetting layer's importance (Eq. 2)",
           "06_efficient_learning", plot=plotting.fig_3b_pruning, compute=pruning_curves,
           seeds=vgg_seeds, prepare=prepare_vgg),
    Figure("3c", "Convergence of VGG-9: sgd, forgetting layer* and forgetting layer",
           "06_efficient_learning", plot=plotting.fig_3c_convergence, compute=convergence,
           seeds=vgg_seeds, prepare=prepare_vgg),
]
