"""The registry of the paper's figures that the book regenerates.

Each :class:`FigureSpec` names the per-seed computation (a function
``compute(profile, seed)`` from :mod:`afm.experiments`) and the drawing
(``plot(results_by_seed)`` from the plotting modules). The chapters and the
command line (``afm run``) both go through :func:`results`, so they share one
cache: a figure computed on the command line is not recomputed when the book
builds, and the other way round.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from afm.lab.cache import cached, is_cached
from afm.lab.profiles import check_profile
from afm.lab.sweep import run_many


def _ref(path: str) -> Callable:
    """``"module:function"`` → the function, imported on first use (keeps ``import afm`` light)."""
    module, name = path.split(":")
    return getattr(importlib.import_module(f"afm.{module}"), name)


@dataclass(frozen=True)
class FigureSpec:
    id: str
    title: str
    chapter: str
    plot: str                 # "module:function" taking {seed: results} (or nothing) → Figure
    compute: str | None = None  # "module:function" taking (profile, seed) → results
    seeds: str | None = None    # "module:function" taking profile → default seeds
    prepare: str | None = None  # "module:function" (profile, jobs, scheduler): shared runs first

    def default_seeds(self, profile: str) -> list[int]:
        return list(_ref(self.seeds)(profile)) if self.seeds else []


FIGURES: dict[str, FigureSpec] = {f.id: f for f in [
    FigureSpec("1a", "The forgetting layer (schematic)", "01_forgetting_layer",
               plot="plotting.forgetting_layer:fig_1a_schematic"),
    FigureSpec("1b", "Gradients of excitatory neurons, with and without the shortcut",
               "01_forgetting_layer", plot="plotting.forgetting_layer:fig_1b_gradients_by_seed",
               compute="experiments.forgetting_layer:shortcut_gradients",
               seeds="experiments.forgetting_layer:seeds", prepare="experiments.forgetting_layer:choose_lam_beta"),
    FigureSpec("1c", "Lateral inhibition between neurons", "01_forgetting_layer",
               plot="plotting.forgetting_layer:fig_1c_lateral_by_seed",
               compute="experiments.forgetting_layer:lateral_interactions",
               seeds="experiments.forgetting_layer:seeds", prepare="experiments.forgetting_layer:choose_lam_beta"),
    FigureSpec("1d", "Activations of excitatory neurons, plain and with forgetting layers",
               "02_sparse_coding", plot="plotting.sparse_coding:fig_1d_activations",
               compute="experiments.sparse_coding:sparse_coding",
               seeds="experiments.sparse_coding:seeds", prepare="experiments.sparse_coding:prepare"),
    FigureSpec("1e", "Sparsity per layer: plain, ERS, ERS + IRS, and against λ",
               "02_sparse_coding", plot="plotting.sparse_coding:fig_1e_sparsity",
               compute="experiments.sparse_coding:sparse_coding",
               seeds="experiments.sparse_coding:seeds", prepare="experiments.sparse_coding:prepare"),
    FigureSpec("1f", "The switches over training", "02_sparse_coding",
               plot="plotting.sparse_coding:fig_1f_switches",
               compute="experiments.sparse_coding:switch_traces",
               seeds="experiments.sparse_coding:trace_seeds",
               prepare="experiments.sparse_coding:prepare"),
    FigureSpec("2a", "Ablating neurons in the order of their importance", "03_neuron_importance",
               plot="plotting.neuron_importance:fig_2a_ablation",
               compute="experiments.neuron_importance:ablation",
               seeds="experiments.neuron_importance:seeds",
               prepare="experiments.neuron_importance:prepare_ablation"),
    FigureSpec("2b", "Natural and targeted forgetting, layer by layer", "03_neuron_importance",
               plot="plotting.neuron_importance:fig_2b_layers",
               compute="experiments.neuron_importance:ablation",
               seeds="experiments.neuron_importance:seeds",
               prepare="experiments.neuron_importance:prepare_ablation"),
    FigureSpec("2c", "Removing the most important channels of LeNet-5", "03_neuron_importance",
               plot="plotting.neuron_importance:fig_2c_channels",
               compute="experiments.neuron_importance:channel_removal",
               seeds="experiments.neuron_importance:seeds",
               prepare="experiments.neuron_importance:prepare_channels"),
    FigureSpec("2d", "The distribution of neuron importance", "03_neuron_importance",
               plot="plotting.neuron_importance:fig_2d_distributions",
               compute="experiments.neuron_importance:importance_distributions",
               seeds="experiments.sparse_coding:seeds",
               prepare="experiments.neuron_importance:prepare_distributions"),
    FigureSpec("4a", "Sparsity against accuracy: L1, DeCov, sgd and three forgetting layers",
               "04_balance", plot="plotting.balance:fig_4a_scatter",
               compute="experiments.balance:sparsity_accuracy",
               seeds="experiments.balance:seeds", prepare="experiments.balance:prepare"),
    FigureSpec("4b", "Robustness to perturbed neurons, layer by layer", "04_balance",
               plot="plotting.balance:fig_4b_perturbation",
               compute="experiments.balance:perturbation_robustness",
               seeds="experiments.balance:perturb_seeds", prepare="experiments.balance:prepare"),
    FigureSpec("4c", "Feature clusters: t-SNE, silhouette and distance ratio", "04_balance",
               plot="plotting.balance:fig_4c_by_seed",
               compute="experiments.balance:clusters_figure",
               seeds="experiments.balance:cluster_seeds", prepare="experiments.balance:prepare"),
    FigureSpec("plugin", "Forgetting layers plugged into three networks: accuracy vs learning rate "
               "(not in the paper)", "09_own_model", plot="plotting.own_model:fig_lr_grid",
               compute="experiments.own_model:seed_results", seeds="experiments.own_model:seeds",
               prepare="experiments.own_model:prepare"),
    FigureSpec("5a", "Permuted MNIST: digits under three task permutations", "05_long_memory",
               plot="plotting.long_memory:fig_5a_permutations"),
    FigureSpec("5b", "Ten Permuted-MNIST tasks: first-task and average accuracy", "05_long_memory",
               plot="plotting.long_memory:fig_5b_by_seed",
               compute="experiments.long_memory:sequence_results",
               seeds="experiments.long_memory:seeds", prepare="experiments.long_memory:prepare"),
    FigureSpec("5c", "Importance of the trunk weights, with and without forgetting layers",
               "05_long_memory", plot="plotting.long_memory:fig_5c_by_seed",
               compute="experiments.long_memory:importance_results",
               seeds="experiments.long_memory:seeds", prepare="experiments.long_memory:prepare"),
    FigureSpec("3a", "Structure-adaptive encoding: sgd, L1, L2 and the forgetting layer",
               "06_efficient_learning", plot="plotting.efficient_learning:fig_3a_structure",
               compute="experiments.efficient_learning:structure_adaptive",
               seeds="experiments.efficient_learning:seeds", prepare="experiments.efficient_learning:prepare_mlp"),
    FigureSpec("3b", "Pruning VGG-9: random, OBD and the forgetting layer's importance (Eq. 2)",
               "06_efficient_learning", plot="plotting.efficient_learning:fig_3b_pruning",
               compute="experiments.efficient_learning:pruning_curves",
               seeds="experiments.efficient_learning:vgg_seeds", prepare="experiments.efficient_learning:prepare_vgg"),
    FigureSpec("3c", "Convergence of VGG-9: sgd, forgetting layer* and forgetting layer",
               "06_efficient_learning", plot="plotting.efficient_learning:fig_3c_convergence",
               compute="experiments.efficient_learning:convergence",
               seeds="experiments.efficient_learning:vgg_seeds", prepare="experiments.efficient_learning:prepare_vgg"),
]}
# In the paper's order (1a ... 5c), then the figures the paper does not have.
FIGURES = dict(sorted(FIGURES.items(), key=lambda item: (not item[0][0].isdigit(), item[0])))


def get(figure_id: str) -> FigureSpec:
    """The :class:`FigureSpec` of ``figure_id`` (``"1b"``, also ``"fig1b"``, ``"Fig. 1b"``)."""
    key = figure_id.lower().replace("fig.", "").replace("fig", "").strip()
    if key not in FIGURES:
        raise ValueError(f"unknown figure {figure_id!r}: the book regenerates "
                         f"{', '.join(FIGURES)} (see `afm list`)")
    return FIGURES[key]


def _seed_config(spec: FigureSpec, profile: str, seed: int) -> dict:
    return {"figure": spec.id, "profile": profile, "seed": int(seed)}


def _compute_one(figure_id: str, profile: str, seed: int) -> Any:
    spec = get(figure_id)
    return cached("figure", _seed_config(spec, profile, seed),
                  lambda: _ref(spec.compute)(profile, seed))


def results(figure_id: str, profile: str, seeds: Sequence[int] | None = None,
            jobs: int | None = None, scheduler=None, progress: bool = True) -> dict[int, Any]:
    """``{seed: results}`` of a figure in ``profile``, computed (in parallel) or loaded from the cache.

    Args:
        figure_id: e.g. ``"1b"``.
        profile: ``smoke``, ``book`` or ``paper``.
        seeds: default: the profile's seeds for this figure.
        jobs, scheduler: see :func:`afm.lab.sweep.run_many`.
        progress: a tqdm bar over the seeds still to compute.

    Returns:
        ``{seed: results}``, in the order of ``seeds``; ``{}`` for a figure drawn from code
        (no computation, e.g. the schematic ``"1a"``).

    Raises:
        ValueError: for an unknown figure or profile.

    Example:
        >>> results("1a", "smoke")  # a schematic: nothing to compute or cache
        {}
        >>> results("1z", "smoke")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: unknown figure '1z': the book regenerates 1a, 1b, ...
    """
    spec, profile = get(figure_id), check_profile(profile)
    if spec.compute is None:
        return {}
    seeds = spec.default_seeds(profile) if seeds is None else [int(s) for s in seeds]
    todo = [s for s in seeds if not is_cached("figure", _seed_config(spec, profile, s))]
    if todo and spec.prepare:  # runs that every seed needs (e.g. a validation grid), once
        _ref(spec.prepare)(profile, jobs=jobs, scheduler=scheduler)
    if todo:
        run_many(_compute_one, [(spec.id, profile, s) for s in todo], jobs=jobs,
                 scheduler=scheduler, progress=progress, desc=f"Fig. {spec.id}")
    return {s: _compute_one(spec.id, profile, s) for s in seeds}


def status(figure_id: str, profile: str) -> str:
    """``"3/3 seeds cached"``, ``"0/3 seeds cached"``, or ``"drawn from code"``."""
    spec = get(figure_id)
    if spec.compute is None:
        return "drawn from code"
    seeds = spec.default_seeds(profile)
    done = sum(is_cached("figure", _seed_config(spec, profile, s)) for s in seeds)
    return f"{done}/{len(seeds)} seeds cached"


def draw(figure_id: str, results_by_seed: dict[int, Any] | None = None):
    """The matplotlib figure of ``figure_id`` from its results."""
    spec = get(figure_id)
    plot = _ref(spec.plot)
    return plot() if spec.compute is None else plot(results_by_seed)


def to_jsonable(obj: Any) -> Any:
    """Results with arrays and tensors turned into lists, for the results file."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    return obj


def write(figure_id: str, profile: str, out_dir: Path, results_by_seed: dict[int, Any]) -> list[Path]:
    """Write ``fig-<id>.png`` and (for computed figures) ``fig-<id>.json`` into ``out_dir``."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig = draw(figure_id, results_by_seed)
    image = out_dir / f"fig-{get(figure_id).id}.png"
    fig.savefig(image, dpi=150, bbox_inches="tight")
    plt.close(fig)
    paths = [image]
    if results_by_seed:
        data = out_dir / f"fig-{get(figure_id).id}.json"
        data.write_text(json.dumps({"figure": get(figure_id).id, "profile": profile,
                                    "results": to_jsonable(results_by_seed)}))
        paths.append(data)
    return paths
