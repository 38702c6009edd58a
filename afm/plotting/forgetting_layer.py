"""Figures of the paper, drawn from computed results (matplotlib).

Each ``fig_*`` function takes the results of the matching function in
:mod:`afm.experiments` and returns a ``matplotlib.figure.Figure``, so the
chapters and the command line draw the same pictures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

EXCITATORY = "#4C72B0"
INHIBITORY = "#C44E52"


def _neuron(ax, xy, color, r=0.16, label=None):
    ax.add_patch(Circle(xy, r, facecolor=color, edgecolor="black", lw=0.8, zorder=3))
    if label:
        ax.text(*xy, label, ha="center", va="center", color="white", fontsize=8, zorder=4)


def _arrow(ax, a, b, color="0.3", style="-|>", lw=0.8, ls="-", rad=0.0):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=8, color=color, lw=lw,
                                 linestyle=ls, connectionstyle=f"arc3,rad={rad}", zorder=2))


def fig_1a_schematic(n: int = 4):
    """Fig. 1a: excitatory layer ``h`` → inhibitory switches σ (Eq. 4) → ``h ⊙ σ`` (Eq. 3),
    plus the identity shortcut (Eq. 5), and the lateral inhibition among switches (Eq. 8)."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ys = np.linspace(0.6, 3.0, n)
    x_h, x_s, x_out, x_next = 0.5, 2.6, 4.7, 6.8
    for y in ys:
        _neuron(ax, (x_h, y), EXCITATORY, label="h")
        _neuron(ax, (x_s, y), INHIBITORY, label="σ")
        ax.text(x_out, y, "⊙", ha="center", va="center", fontsize=16, zorder=4)
        _neuron(ax, (x_next, y), EXCITATORY)
        for y2 in ys:  # dense W_f: every switch reads every excitatory neuron
            _arrow(ax, (x_h + 0.17, y), (x_s - 0.17, y2), color="0.75", lw=0.5)
        _arrow(ax, (x_s + 0.17, y), (x_out - 0.15, y), color=INHIBITORY)
        _arrow(ax, (x_h + 0.17, y + 0.05), (x_out - 0.15, y + 0.05), color=EXCITATORY, rad=-0.25)
        _arrow(ax, (x_out + 0.15, y), (x_next - 0.17, y), color="0.2")
    for y_a, y_b in zip(ys[:-1], ys[1:]):  # lateral inhibition between switches
        _arrow(ax, (x_s + 0.05, y_a + 0.17), (x_s + 0.05, y_b - 0.17), color=INHIBITORY,
               style="<|-|>", ls="--", rad=-0.6)
    ax.add_patch(FancyBboxPatch((x_h - 0.25, 3.45), x_next - x_h + 0.5, 0.25,
                                boxstyle="round,pad=0.02", facecolor="0.92", edgecolor="0.5"))
    _arrow(ax, (x_h, 3.2), (x_h, 3.45), color="0.4")
    _arrow(ax, (x_next, 3.45), (x_next, 3.2), color="0.4")
    ax.text((x_h + x_next) / 2, 3.575, "shortcut: h'' = h + h ⊙ σ   (Eq. 5)", ha="center",
            va="center", fontsize=9)
    ax.text(x_h, 0.1, "excitatory h\n(layer l)", ha="center", va="top", fontsize=9)
    ax.text(x_s, 0.1, "inhibitory switches\nσ = δ(ρ · h W_f)  (Eq. 4)", ha="center", va="top",
            fontsize=9)
    ax.text(x_out, 0.1, "forgetting\nh' = h ⊙ σ  (Eq. 3)", ha="center", va="top", fontsize=9)
    ax.text(x_next, 0.1, "next excitatory\nlayer", ha="center", va="top", fontsize=9)
    ax.text(x_s + 0.55, 1.8, "lateral\ninhibition\n(IRS, Eq. 8)", color=INHIBITORY, fontsize=8,
            va="center")
    ax.set_xlim(-0.2, 7.5)
    ax.set_ylim(-0.55, 3.85)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Fig. 1a  The plug-and-play forgetting layer", loc="left", fontsize=11)
    return fig


def fig_1b_gradients(results_by_seed: dict, layer: str | None = None):
    """Fig. 1b from ``{seed: results}``: heatmaps of |∂L/∂h| of the first seed (test samples ×
    neurons), rows: without / with shortcut, columns: start / end of training, on one log
    colour scale."""
    results = results_by_seed[min(results_by_seed)]
    layer = layer or results["layers"][0]
    panels = [(sc, when) for sc in (False, True) for when in ("start", "end")]
    mags = [results["runs"][sc][when][layer].abs().numpy() for sc, when in panels]
    positive = np.concatenate([m[m > 0].ravel() for m in mags])
    lo = max(float(np.percentile(positive, 1)), 1e-12) if positive.size else 1e-12
    hi = float(max(m.max() for m in mags)) or 1.0
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.2), sharex=True, sharey=True,
                             constrained_layout=True)
    for ax, (sc, when), mag in zip(axes.ravel(), panels, mags):
        order = np.argsort(-mag.mean(0))  # neurons by mean gradient, largest first
        im = ax.imshow(np.clip(mag[:, order], lo, hi), aspect="auto", cmap="coolwarm",
                       norm=LogNorm(vmin=lo, vmax=hi), interpolation="nearest")
        s = results["runs"][sc]["summary"][when][layer]
        ax.set_title(f"{'shortcut' if sc else 'no shortcut'}, {when} of training\n"
                     f"median {s['median']:.1e}, vanished {100 * s['vanished']:.0f} %",
                     fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("excitatory neuron (sorted by mean |∂L/∂h|)")
    for ax in axes[:, 0]:
        ax.set_ylabel("test sample")
    fig.colorbar(im, ax=axes, label="|∂L/∂h|  (log scale)", shrink=0.9)
    fig.suptitle(f"Fig. 1b  Gradients of excitatory neurons ({layer})", x=0.02, ha="left")
    return fig


def fig_1c_lateral(results_by_seed: dict, top: int = 24):
    """Fig. 1c from ``{seed: results}``: the first seed's lateral inhibition matrix ``M_ij`` of
    the ``top`` most and least important neurons (sorted by Ω), and Ω against the inhibition
    each neuron exerts and receives."""
    results = results_by_seed[min(results_by_seed)]
    omega, m = results["omega"], results["M"]
    order = np.argsort(-omega)
    pick = np.concatenate([order[: top // 2], order[-(top // 2):]])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), constrained_layout=True)
    im = axes[0].imshow(m[np.ix_(pick, pick)], cmap="Reds", interpolation="nearest")
    axes[0].set_title(f"M_ij = E[h_i h_j (1-σ_i) σ_j]\n{top // 2} most (top-left) and "
                      f"{top // 2} least important", fontsize=9)
    axes[0].set_xlabel("j (inhibits), by Ω ↓")
    axes[0].set_ylabel("i (is inhibited), by Ω ↓")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    axes[1].scatter(omega, results["exerted"], s=10, color="#C44E52")
    axes[1].set_xlabel("importance Ω_j")
    axes[1].set_ylabel("inhibition exerted Σ_i M_ij")
    axes[1].set_title(f"Spearman ρ = {results['spearman_exerted']:.2f}", fontsize=9)
    axes[2].scatter(omega[results["active"]], results["received"], s=10, color="#4C72B0")
    axes[2].set_xlabel("importance Ω_i")
    axes[2].set_ylabel("inhibition received Σ_j M_ij / E[h_i]")
    axes[2].set_title(f"Spearman ρ = {results['spearman_received']:.2f}", fontsize=9)
    fig.suptitle(f"Fig. 1c  Lateral inhibition between neurons ({results['layer']})",
                 x=0.02, ha="left")
    return fig
