"""Appendix "Reading the equations": measure the choices the paper's text leaves open.

All on the MLP 784-64-64-10 on Fashion-MNIST with the complete forgetting layer
(shortcut, ERS + IRS), trained with the same SGD settings:

* the gate reading of Eq. (4): dense ``W_f`` (N×N) vs diagonal vs static;
* the reading of Eq. (8): asymmetric ``(1-σ_i) σ_j`` vs symmetric ``1 - σ_i σ_j``;
* sensitivity: validation accuracy and sparsity over a λ × β grid, and over ρ.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import numpy as np

from afm import data as afm_data
from afm.capture import capture_activations
from afm.metrics import sparsity
from afm.lab.profiles import by_profile, check_profile
from afm.lab.runs import Run, fit_all
from afm.train import TrainConfig


def settings(profile: str) -> dict:
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(train_size=2000, epochs=1, seeds=[0], lams=[0.1, 1.0], betas=[0.0, 1e-4],
                   rhos=[1.0, 4.0]),
        book=dict(train_size=None, epochs=5, seeds=[0, 1, 2], lams=[0.01, 0.1, 1.0, 10.0],
                  betas=[0.0, 1e-5, 1e-4, 1e-3], rhos=[0.25, 1.0, 4.0, 16.0]),
        paper=dict(train_size=None, epochs=20, seeds=[0, 1, 2, 3, 4],
                   lams=[0.01, 0.1, 1.0, 10.0, 100.0], betas=[0.0, 1e-5, 1e-4, 1e-3, 1e-2],
                   rhos=[0.25, 1.0, 4.0, 16.0]))


def base_spec(profile: str, lam: float = 1.0, beta: float = 1e-4) -> Run:
    """The appendix's reference run: λ = 1, β = 1e-4 unless a sweep varies them."""
    s = settings(profile)
    return Run(dataset="fashion-mnist", widths=(784, 64, 64, 10), forgetting=True,
               shortcut=True, lam=lam, beta=beta, train=TrainConfig(epochs=s["epochs"], lr=0.05),
               train_size=s["train_size"])


def summarize(specs: list[Run], jobs: int | None = None) -> list[dict]:
    """Train (or load) each run; its validation and test accuracy and per-layer sparsity, Eq. (1)."""
    test = afm_data.load_dataset("fashion-mnist", train=False)
    batches = [(test.tensors[0][i:i + 2000], test.tensors[1][i:i + 2000])
               for i in range(0, len(test), 2000)]
    rows = []
    for spec, result in zip(specs, fit_all(specs, jobs=jobs)):
        acts = capture_activations(spec.build(result["state_dict"]), batches)
        rows.append({"gate": spec.gate, "reading": spec.lateral, "lam": spec.lam,
                     "beta": spec.beta, "rho": spec.rho, "seed": spec.seed,
                     "val_acc": result["val_acc"], "test_acc": result["test_acc"],
                     "sparsity": float(np.mean([sparsity(a) for a in acts.values()]))})
    return rows


def gate_readings(profile: str, jobs: int | None = None) -> list[dict]:
    """Eq. (4) read three ways, over the profile's seeds."""
    s = settings(profile)
    return summarize([replace(base_spec(profile), gate=g, seed=seed)
                      for g in ("dense", "diagonal", "static") for seed in s["seeds"]], jobs)


def lateral_readings(profile: str, jobs: int | None = None) -> list[dict]:
    """Eq. (8) read two ways (dense gate), over the profile's seeds."""
    s = settings(profile)
    return summarize([replace(base_spec(profile), lateral=r, seed=seed)
                      for r in ("asymmetric", "symmetric") for seed in s["seeds"]], jobs)


def lam_beta_grid(profile: str, jobs: int | None = None) -> list[dict]:
    """Validation accuracy and sparsity over λ × β (seed 0)."""
    s = settings(profile)
    return summarize([base_spec(profile, lam=lam, beta=beta)
                      for lam, beta in product(s["lams"], s["betas"])], jobs)


def rho_sweep(profile: str, jobs: int | None = None) -> list[dict]:
    """Validation accuracy and sparsity over the steepness ρ (seed 0)."""
    return summarize([replace(base_spec(profile), rho=rho) for rho in settings(profile)["rhos"]],
                     jobs)
