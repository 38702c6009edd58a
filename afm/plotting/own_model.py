"""The plug-in chapter's figures, drawn from results (:mod:`afm.experiments.own_model`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

#: How each variant is drawn: label and colour.
STYLE = {"plain": ("without forgetting layers", "0.35"),
         "paper": ("paper's layer, h + h⊙σ", "#C44E52"),
         "unit": ("plug-in default, (h + h⊙σ)/1.5", "#4C72B0"),
         "detached": ("paper's layer, gate input detached", "#DD8452")}


def accuracy_table(results_by_seed: dict) -> dict:
    """``{arch: {variant: {lr: (mean, std) test accuracy over seeds}}}``."""
    out: dict = {}
    for res in results_by_seed.values():
        for r in res["rows"]:
            out.setdefault(r["arch"], {}).setdefault(r["variant"], {}).setdefault(r["lr"], []).append(
                r["test_acc"])
    return {a: {v: {lr: (float(np.mean(x)), float(np.std(x, ddof=1)) if len(x) > 1 else 0.0)
                    for lr, x in sorted(by_lr.items())} for v, by_lr in by_v.items()}
            for a, by_v in out.items()}


def _lr_panel(ax, table: dict, arch: str, title: str, usual: float) -> None:
    for variant, (label, color) in STYLE.items():
        if variant not in table[arch]:
            continue
        lrs = list(table[arch][variant])
        mean = 100 * np.array([table[arch][variant][lr][0] for lr in lrs])
        std = 100 * np.array([table[arch][variant][lr][1] for lr in lrs])
        ax.errorbar(lrs, mean, yerr=std, marker="o", capsize=3, color=color, label=label)
    ax.axvline(usual, color="0.7", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (dotted: the usual one)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)


def fig_lr(results_by_seed: dict, arch: str, title: str, usual: float):
    """One architecture: test accuracy (mean ± std over seeds) against the learning rate."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
    _lr_panel(ax, accuracy_table(results_by_seed), arch, title, usual)
    ax.legend(fontsize=8)
    return fig


def fig_lr_grid(results_by_seed: dict, architectures: dict):
    """Every architecture side by side (the registry's figure, ``afm run plugin``);
    ``architectures``: ``{name: {"title": ..., "usual": learning rate}}``."""
    table = accuracy_table(results_by_seed)
    fig, axes = plt.subplots(1, len(table), figsize=(5 * len(table), 3.6), constrained_layout=True)
    for ax, arch in zip(np.atleast_1d(axes), table):
        spec = architectures[arch]
        _lr_panel(ax, table, arch, spec["title"], spec["usual"])
    np.atleast_1d(axes)[0].legend(fontsize=8)
    return fig


def fig_cause(cause: dict):
    """The loss of every training step of the first epoch at each network's usual learning
    rate (seed 0): without forgetting layers, the paper's layer, the paper's layer with the gate's
    input detached, and the plug-in default."""
    fig, axes = plt.subplots(1, len(cause), figsize=(5 * len(cause), 3.4), constrained_layout=True)
    for ax, (arch, c) in zip(np.atleast_1d(axes), cause.items()):
        for variant in ("plain", "paper", "detached", "unit"):
            loss = c["batch_loss"][variant]
            label, color = STYLE[variant]
            ax.plot(np.arange(1, len(loss) + 1), loss, color=color, label=label, lw=1.2)
        ax.set_yscale("log")
        ax.set_xlabel(f"training step (lr {c['lr']:g})")
        ax.set_ylabel("cross-entropy")
        ax.set_title(arch, fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    return fig


def fig_omega_pruning(results_by_seed: dict):
    """Silencing the least important units by Ω (plug-in default, usual learning rate) against
    silencing random ones: test accuracy, mean ± std over seeds, one panel per network."""
    runs = [results_by_seed[s] for s in sorted(results_by_seed)]
    archs = list(runs[0]["omega"])
    fig, axes = plt.subplots(1, len(archs), figsize=(5 * len(archs), 3.4), constrained_layout=True)
    for ax, arch in zip(np.atleast_1d(axes), archs):
        fr = 100 * np.asarray(runs[0]["omega"][arch]["fractions"])
        for key, label, color in (("acc_omega", "least important by Ω first", "#4C72B0"),
                                  ("acc_random", "random units", "0.5")):
            acc = 100 * np.stack([r["omega"][arch][key] for r in runs])
            ax.errorbar(fr, acc.mean(0), yerr=acc.std(0), marker="o", capsize=3, color=color,
                        label=label)
        ax.set_xlabel("gated units silenced (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(arch, fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    return fig
