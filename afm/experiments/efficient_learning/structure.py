"""Fig. 3a, structure-adaptive encoding: the over-parameterised MLP 784-256-256-128-10 on
Fashion-MNIST with sgd, L1, L2 and the forgetting layer, at several training-set sizes
(chapter "Efficient learning"; the settings are :func:`afm.experiments.efficient_learning.settings`)."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np

from afm.experiments.efficient_learning import METHODS, WIDTHS, seeds, settings
from afm.lab.cache import cached
from afm.lab.readings import apply_reading, check_reading
from afm.lab.runs import Run, best_on_validation, fit_all, spread
from afm.train import TrainConfig


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


def choose_mlp(profile: str, jobs: int | None = None, scheduler=None,
               reading: dict | None = None) -> dict:
    """Every method's strengths at every training-set size, by *validation* accuracy (seed 0).

    L1 from ``l1s``, L2 from ``l2s``; the forgetting layer's (λ, β) from ``lams`` ×
    ``betas`` at ρ = ``rhos[0]``, then ρ from ``rhos`` at that (λ, β). The test set
    plays no part in the choice; ties go to the earlier candidate. With a ``reading``
    (:mod:`afm.lab.readings`, e.g. the optimizer), every candidate is trained under it and
    the strengths are chosen again.

    Returns:
        ``{"specs": {size: {method: Run}}, "grid": [{"size", "method", "stage", "l1",
        "l2", "lam", "beta", "rho", "val_acc", "chosen"}, ...]}``.
    """
    key = {"profile": profile, **settings(profile)}
    if reading:
        key["reading"] = sorted(check_reading(reading).items())
    choice = cached("efficiency_mlp_choice", key, lambda: _choose_mlp(profile, jobs, scheduler, reading))
    return {"specs": {size: {m: Run.from_dict(d) for m, d in per.items()}
                      for size, per in choice["specs"].items()}, "grid": choice["grid"]}


def _choose_mlp(profile: str, jobs: int | None, scheduler, reading: dict | None = None) -> dict:
    s = settings(profile)
    chosen, rows = {}, []

    def under(grid: dict[str, list[Run]]) -> dict[str, list[Run]]:
        return {m: [apply_reading(sp, reading or {}) for sp in specs] for m, specs in grid.items()}

    def pick(size, grid, stage):
        for method, specs in grid.items():
            results = fit_all(specs)
            best = best_on_validation(results)
            chosen[size][method] = specs[best]
            rows.extend({"size": r["train_size"], "method": method, "stage": stage,
                         "l1": sp.l1, "l2": sp.l2, "lam": sp.lam, "beta": sp.beta,
                         "rho": sp.rho, "val_acc": r["val_acc"], "chosen": i == best}
                        for i, (sp, r) in enumerate(zip(specs, results)))

    grids = {size: under(mlp_grid(profile, size)) for size in s["mlp_sizes"]}
    fit_all([sp for g in grids.values() for specs in g.values() for sp in specs], jobs, scheduler)
    for size, grid in grids.items():
        chosen[size] = {}
        pick(size, grid, 1)
    grids = {size: under(mlp_grid(profile, size, (chosen[size]["forgetting"].lam,
                                                  chosen[size]["forgetting"].beta)))
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


def structure_adaptive(profile: str, seed: int = 0, reading: dict | None = None) -> dict:
    """Fig. 3a for one seed: every method at every training-set size (trained under
    ``reading``, with the strengths chosen under it, if one is given).

    Returns:
        ``{"sizes": [n, ...], "runs": {n: {method: {"test_curve" (epochs,), "train_curve"
        (epochs,), "test_acc", "val_acc", "train_acc", "gap", "epochs", "hyper"}}}}``, ``n``
        the number of training images; ``train_curve`` is the running accuracy on the
        batches of each epoch (train mode), ``gap`` = final train accuracy − test accuracy.
    """
    choice = choose_mlp(profile, reading=reading)
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
