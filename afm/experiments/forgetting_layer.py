"""Chapter 1, "The plug-and-play forgetting layer": Fig. 1b (shortcut gradients) and Fig. 1c
(lateral inhibition between neurons).

The network is the paper's MNIST MLP 784-128-256-10 with a complete forgetting
layer (ERS + IRS) after each hidden layer. λ and β are chosen on a validation
split (10 % of the training set) from a small grid, then the same λ, β are
used with and without the shortcut.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import torch
from scipy import stats

from afm import data as afm_data
from afm.capture import capture_activations, capture_gradients
from afm.importance import neuron_importance
from afm.layer import forgetting_layers
from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.plotting import forgetting_layer as plotting
from afm.lab.runs import Run, choose, fit, trained
from afm.train import TrainConfig

#: How many test samples the gradient heatmaps of Fig. 1b show.
HEATMAP_SAMPLES = 64


def settings(profile: str) -> dict:
    """What each profile trains: data size, epochs, seeds and the (λ, β) grid."""
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(train_size=2000, epochs=1, seeds=[0], lams=[1.0], betas=[1e-4]),
        book=dict(train_size=None, epochs=5, seeds=[0, 1, 2], lams=[0.1, 1.0],
                  betas=[1e-5, 1e-4, 1e-3]),
        paper=dict(train_size=None, epochs=20, seeds=[0, 1, 2, 3, 4], lams=[0.1, 1.0, 10.0],
                   betas=[1e-5, 1e-4, 1e-3]))


def base_spec(profile: str) -> Run:
    """The paper's MNIST MLP 784-128-256-10 with the complete layer: SGD (momentum 0.9),
    lr 0.05, batch 128, seed 0."""
    s = settings(profile)
    return Run(dataset="mnist", widths=(784, 128, 256, 10), forgetting=True, shortcut=True,
               train=TrainConfig(epochs=s["epochs"], lr=0.05), train_size=s["train_size"])


def choose_lam_beta(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Grid search of (λ, β) for the complete layer with shortcut, on validation accuracy (seed 0)."""
    s = settings(profile)
    candidates = [replace(base_spec(profile), lam=lam, beta=beta)
                  for lam, beta in product(s["lams"], s["betas"])]
    best, results = choose(candidates, jobs=jobs, scheduler=scheduler)
    return {"lam": best.lam, "beta": best.beta,
            "grid": [{"lam": c.lam, "beta": c.beta, "val_acc": r["val_acc"]}
                     for c, r in zip(candidates, results)]}


def gradient_summary(grads: torch.Tensor) -> dict:
    """Median |∂L/∂h| and the share of neurons whose mean |∂L/∂h| is below 1e-6 ('vanished')."""
    mag = grads.abs()
    per_neuron = mag.mean(0)
    return {"median": float(mag.median()), "mean": float(mag.mean()),
            "vanished": float((per_neuron < 1e-6).double().mean())}


def shortcut_gradients(profile: str, seed: int = 0) -> dict:
    """Fig. 1b: ``|∂L/∂h|`` of the excitatory neurons at the start and at the end of training.

    For both ``shortcut=True`` and ``False`` (same λ, β, seed and data), on the
    first :data:`HEATMAP_SAMPLES` test images, with ``L`` the full Eq. (9).

    Returns:
        ``{"lam", "beta", "layers", "runs": {shortcut: {"start"|"end": {layer: (64, N)},
        "summary": ..., "test_acc", "gate_mean"}}}``
    """
    chosen = choose_lam_beta(profile)
    test = afm_data.load_dataset("mnist", train=False)
    x, y = test.tensors[0][:HEATMAP_SAMPLES], test.tensors[1][:HEATMAP_SAMPLES]
    out = {"lam": chosen["lam"], "beta": chosen["beta"], "runs": {}}
    for shortcut in (True, False):
        spec = replace(base_spec(profile), lam=chosen["lam"], beta=chosen["beta"],
                       shortcut=shortcut, seed=seed)
        result = fit(spec)
        regs = spec.regularisers()
        models = {"start": spec.build(), "end": spec.build(result["state_dict"])}
        grads = {when: capture_gradients(m, x, y, regs) for when, m in models.items()}
        out["layers"] = list(grads["start"])
        out["runs"][shortcut] = {
            **grads,
            "summary": {when: {layer: gradient_summary(g) for layer, g in gs.items()}
                        for when, gs in grads.items()},
            "test_acc": result["test_acc"],
            "gate_mean": {name: float(layer_gates[-1].mean())
                          for name, layer_gates in result["history"]["gates"].items()},
        }
    return out


def lateral_interactions(profile: str, seed: int = 0, layer: int = 0) -> dict:
    """Fig. 1c: how strongly neuron j inhibits neuron i under Eq. (8), from learned σ.

    ``M_ij = E_x[h_i h_j (1-σ_i) σ_j]`` over the test set for hidden layer ``layer``
    of the trained complete network (shortcut, chosen λ and β). ``exerted_j =
    Σ_{i≠j} M_ij`` is what neuron j does to the others, ``received_i = Σ_{j≠i}
    M_ij`` what it suffers. The paper: "an essential neuron is inhibited less,
    and inhibits others more", i.e. Spearman(Ω, exerted) > 0 and
    Spearman(Ω, received) < 0 (received is normalised by ``E[h_i]`` so that a
    neuron's own activity does not decide the sign).
    """
    chosen = choose_lam_beta(profile)
    spec = replace(base_spec(profile), lam=chosen["lam"], beta=chosen["beta"], seed=seed)
    return {**lateral_of(trained(spec), layer), "lam": chosen["lam"], "beta": chosen["beta"]}


def inhibition_matrix(h: torch.Tensor, s: torch.Tensor, lateral: str = "asymmetric") -> torch.Tensor:
    """Eq. (8), pair by pair: ``M_ij = E_x[h_i h_j (1-σ_i) σ_j]`` (asymmetric reading) or
    ``E_x[h_i h_j (1 - σ_i σ_j)]`` (symmetric), diagonal zero; ``h``, ``s``: (B, N) → (N, N)."""
    if lateral == "asymmetric":
        m = (h * (1 - s)).T @ (h * s) / h.shape[0]
    elif lateral == "symmetric":
        m = (h.T @ h - (h * s).T @ (h * s)) / h.shape[0]
    else:
        raise ValueError(f"lateral must be 'asymmetric' or 'symmetric', got {lateral!r}")
    return m.fill_diagonal_(0.0)


def lateral_of(model: torch.nn.Module, layer: int = 0, lateral: str = "asymmetric") -> dict:
    """Fig. 1c's measurement on a trained ``model``: :func:`inhibition_matrix` of hidden layer
    ``layer`` over the MNIST test set, and the Spearman correlations of Ω with the inhibition
    each neuron exerts and receives (see :func:`lateral_interactions`)."""
    test = afm_data.load_dataset("mnist", train=False)
    batches = [(test.tensors[0][i:i + 1000], test.tensors[1][i:i + 1000])
               for i in range(0, len(test), 1000)]
    name, fl = list(forgetting_layers(model))[layer]
    hs, sigmas = [], []
    model.eval()
    with torch.no_grad():
        for xb, _ in batches:
            model(xb)
            hs.append(fl.excitation.double())
            sigmas.append(fl.gate.double())
    h, s = torch.cat(hs), torch.cat(sigmas)
    m = inhibition_matrix(h, s, lateral)
    omega = neuron_importance(model, batches)[name].double()
    exerted = m.sum(0)
    mean_h = h.mean(0)
    active = mean_h > 1e-8
    received = m.sum(1)[active] / mean_h[active]
    rho_exerted = stats.spearmanr(omega.numpy(), exerted.numpy()).statistic
    rho_received = stats.spearmanr(omega[active].numpy(), received.numpy()).statistic
    return {"layer": name, "omega": omega.numpy(), "M": m.numpy(), "exerted": exerted.numpy(),
            "received": received.numpy(), "active": active.numpy(), "mean_h": mean_h.numpy(),
            "spearman_exerted": float(rho_exerted), "spearman_received": float(rho_received),
            "dead_neurons": int((~active).sum())}


def seeds(profile: str) -> list[int]:
    """The seeds each profile averages over."""
    return list(settings(profile)["seeds"])


#: The chapter's figures, for :mod:`afm.lab.figures` (``afm run``) and the chapter.
FIGURES = [
    Figure("1a", "The forgetting layer (schematic)", "01_forgetting_layer",
           plot=plotting.fig_1a_schematic),
    Figure("1b", "Gradients of excitatory neurons, with and without the shortcut",
           "01_forgetting_layer", plot=plotting.fig_1b_gradients, compute=shortcut_gradients,
           seeds=seeds, prepare=choose_lam_beta),
    Figure("1c", "Lateral inhibition between neurons", "01_forgetting_layer",
           plot=plotting.fig_1c_lateral, compute=lateral_interactions, seeds=seeds,
           prepare=choose_lam_beta),
]
