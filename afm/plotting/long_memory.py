"""Fig. 5a-5c, drawn from the results of :mod:`afm.experiments.long_memory` (matplotlib)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from afm.plotting.style import LONG_MEMORY_METHODS as STYLE
from afm.plotting.style import LONG_MEMORY_TITLES as TITLES
from afm.plotting.style import PLAIN_NETWORK as PLAIN
from afm.plotting.style import FORGETTING_NETWORK as FORGETTING
from afm.plotting.style import mean_and_std



def fig_5a_permutations(results_by_seed: dict):
    """Fig. 5a: a few test digits as they are, and under the pixel permutations of three tasks.

    ``results_by_seed``: ``{seed: afm.experiments.long_memory.permutation_examples(...)}``;
    the first seed's permutations are drawn.
    """
    examples = results_by_seed[min(results_by_seed)]
    rows = [("MNIST", examples["original"])] + [
        (f"task {t + 1}", imgs) for t, imgs in examples["tasks"].items()]
    n = len(examples["labels"])
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n + 1.0, 1.35 * len(rows)),
                             squeeze=False, constrained_layout=True)
    for r, (name, imgs) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center")
            if r == 0:
                ax.set_title(f"label {int(examples['labels'][c])}", fontsize=9)
    fig.suptitle("Permuted MNIST: one fixed pixel shuffle per task, the same labels", x=0.02,
                 ha="left", fontsize=10)
    return fig


#: The methods of the paper's Fig. 5b, drawn with bands; the others as thin lines.
PAPER_METHODS = ("joint", "sgd", "ewc", "ewc_f")


def _band(ax, x, values, method):
    label, color, ls = STYLE.get(method, (method, None, "-"))
    mean, std = mean_and_std(100 * np.asarray(values, dtype=float))
    marker = None if method == "joint" else "o"
    main = method in PAPER_METHODS
    ax.plot(x, mean, ls, color=color, label=label, marker=marker, markersize=3 if main else 2,
            lw=2.2 if method in ("ewc", "ewc_f") else (1.4 if main else 1.0),
            alpha=1.0 if main else 0.75)
    if main:
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, lw=0)


def fig_5b(results_by_seed: dict, methods=None):
    """Fig. 5b: test accuracy on the first task after learning each task (left) and the average
    accuracy over the tasks seen so far (right); mean over seeds, ± std (bands) for the
    paper's four methods (``joint``, ``sgd``, ``ewc``, ``ewc_f``).

    ``joint`` is one network trained on all tasks at once: on the left a flat line (its
    accuracy on the first task), on the right its average over the first ``t`` tasks.
    """
    runs = [results_by_seed[s] for s in sorted(results_by_seed)]
    methods = list(methods or runs[0]["methods"])
    n_tasks = len(runs[0]["first_task"][methods[0]])
    x = np.arange(1, n_tasks + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.2), constrained_layout=True)
    for method in methods:
        first = np.stack([r["first_task"][method] for r in runs])
        if method == "joint":
            first = np.repeat(first[:, -1:], n_tasks, axis=1)
        _band(axes[0], x, first, method)
        _band(axes[1], x, np.stack([r["average"][method] for r in runs]), method)
    axes[0].set_ylabel("test accuracy on task 1 (%)")
    axes[1].set_ylabel("mean test accuracy over tasks 1..t (%)")
    for ax in axes:
        ax.set_xlabel("tasks learned, t")
        ax.set_xticks(x)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, ncol=2, loc="lower left")
    fig.suptitle(f"{n_tasks} Permuted-MNIST tasks, one head per task "
                 f"(mean ± std over {len(runs)} seed{'s' if len(runs) > 1 else ''})",
                 x=0.02, ha="left")
    return fig


def fig_5c(results_by_seed: dict, methods=("mas", "ewc", "anpyc")):
    """Fig. 5c: histograms of the trunk weights' importance, without (blue) and with (yellow)
    forgetting layers, for MAS, EWC and ANPyC (seeds pooled).

    The importance is relative to its mean, ``Ω / mean Ω``, on a log axis, so that the
    three methods' different units compare; the dotted lines are the bounds of the
    near-zero, middle and top ranges of :func:`afm.baselines.continual.polarisation_shares`.
    """
    from afm.baselines.continual import POLARISATION_BOUNDS

    runs = [results_by_seed[s] for s in sorted(results_by_seed)]
    bins = np.asarray(runs[0]["bins"])
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods), 3.8), sharey=True,
                             constrained_layout=True, squeeze=False)
    for ax, method in zip(axes[0], methods):
        for key, color, label in (("plain", PLAIN, "without forgetting layers"),
                                  ("forgetting", FORGETTING, "with forgetting layers")):
            counts = np.sum([np.asarray(r[method][key]["hist"], dtype=float) for r in runs], axis=0)
            share = counts / counts.sum()
            ax.stairs(share, bins, fill=True, color=color, alpha=0.35)
            ax.stairs(share, bins, color=color, lw=1.6, label=label)
            pol = [r[method][key]["polarisation"] for r in runs]
            text = (f"near 0: {100 * np.mean([p['near_zero'] for p in pol]):.1f} %   "
                    f"middle: {100 * np.mean([p['middle'] for p in pol]):.1f} %   "
                    f"top: {100 * np.mean([p['top'] for p in pol]):.2f} %")
            y = 0.97 if key == "plain" else 0.90
            ax.text(0.03, y, text, transform=ax.transAxes, fontsize=7.5, va="top",
                    color="#2B4A80" if key == "plain" else "#9A6C00")
        for b in POLARISATION_BOUNDS:
            ax.axvline(np.log10(b), color="0.3", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 1.0)
        ax.set_title(TITLES.get(method, method))
        ax.set_xlabel("log10(Ω / mean Ω), trunk weights")
    axes[0, 0].set_ylabel("share of weights")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Importance of the trunk weights after all tasks", x=0.02, ha="left")
    return fig
