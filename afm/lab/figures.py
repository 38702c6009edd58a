"""The registry of the paper's figures that the book regenerates.

Every experiment module declares its figures (``FIGURES``, a list of
:class:`~afm.lab.registry.Figure` holding the real compute and plot functions);
this module only collects them. The chapters and the command line (``afm run``)
both go through :func:`results`, so they share one cache: a figure computed on
the command line is not recomputed when the book builds, and the other way round.
One result is stored once: the cache is keyed by the compute function, so figures
drawn from one computation (Fig. 1d/1e, 2a/2b) share it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from afm.experiments import (balance, efficient_learning, forgetting_layer, long_memory,
                             neuron_importance, own_model, sparse_coding)
from afm.lab.cache import cached, is_cached
from afm.experiments import readings as readings_experiments
from afm.experiments import readings_claims, readings_efficiency, readings_mechanism
from afm.lab.claims import claim_summary, figure_claims
from afm.lab.profiles import check_profile
from afm.lab.registry import Figure
from afm.lab.sweep import run_many

_ALL = [*forgetting_layer.FIGURES, *sparse_coding.FIGURES, *neuron_importance.FIGURES,
        *efficient_learning.FIGURES, *balance.FIGURES, *long_memory.FIGURES, *own_model.FIGURES]
# In the paper's order (1a ... 5c), then the figures the paper does not have.
FIGURES: dict[str, Figure] = dict(sorted(((f.id, f) for f in _ALL),
                                         key=lambda item: (not item[0][0].isdigit(), item[0])))


def get(figure_id: str) -> Figure:
    """The :class:`~afm.lab.registry.Figure` of ``figure_id`` (``"1b"``, also ``"fig1b"``, ``"Fig. 1b"``)."""
    key = figure_id.lower().replace("fig.", "").replace("fig", "").strip()
    if key not in FIGURES:
        raise ValueError(f"unknown figure {figure_id!r}: the book regenerates "
                         f"{', '.join(FIGURES)} (see `afm list`)")
    return FIGURES[key]


def _seed_config(spec: Figure, profile: str, seed: int) -> dict:
    """The cache key of one seed's result: the compute function (shared by the figures it
    draws), the profile and the seed."""
    compute = f"{spec.compute.__module__}.{spec.compute.__qualname__}"
    return {"compute": compute, "profile": profile, "seed": int(seed)}


def _compute_one(figure_id: str, profile: str, seed: int) -> Any:
    spec = get(figure_id)
    return cached("figure", _seed_config(spec, profile, seed), lambda: spec.compute(profile, seed))


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
        spec.prepare(profile, jobs=jobs, scheduler=scheduler)
    if todo:
        run_many(_compute_one, [(spec.id, profile, s) for s in todo], jobs=jobs,
                 scheduler=scheduler, progress=progress, desc=f"Fig. {spec.id}")
    return {s: _compute_one(spec.id, profile, s) for s in seeds}


def missing_seeds(figure_id: str, profile: str, seeds: Sequence[int] | None = None) -> list[int]:
    """The seeds of ``figure_id`` in ``profile`` that the cache does not hold yet."""
    spec, profile = get(figure_id), check_profile(profile)
    if spec.compute is None:
        return []
    seeds = spec.default_seeds(profile) if seeds is None else [int(s) for s in seeds]
    return [s for s in seeds if not is_cached("figure", _seed_config(spec, profile, s))]


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
    return spec.plot() if spec.compute is None else spec.plot(results_by_seed)


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


#: Figures whose claims ``afm run`` judges itself, under every reading declared for them:
#: ``claims(results_by_seed, profile) -> [Claim]``.
CLAIMS = {"1c": readings_claims.fig1c_claims, "1d": readings_mechanism.fig1d_claims,
          "1e": readings_mechanism.fig1e_claims, "1f": readings_claims.fig1f_claims,
          "2a": readings_experiments.fig2a_claims, "2b": readings_mechanism.fig2b_claims,
          "2c": readings_claims.fig2c_claims,
          "2d": readings_claims.fig2d_claims, "3a": readings_efficiency.fig3a_claims,
          "3b": readings_efficiency.fig3b_claims, "3c": readings_efficiency.fig3c_claims}


def claims_of(figure_id: str, profile: str, results_by_seed: dict[int, Any]) -> list[dict]:
    """The claims of a figure, as its results file holds them (:func:`afm.lab.claims.claim_summary`):
    judged from ``results_by_seed`` under each reading where :data:`CLAIMS` has the figure, else
    those its chapter recorded in ``profile``."""
    fig_id = get(figure_id).id
    if fig_id in CLAIMS:
        return [claim_summary(c) for c in CLAIMS[fig_id](results_by_seed, profile)]
    return figure_claims(fig_id, profile)


def write(figure_id: str, profile: str, out_dir: Path, results_by_seed: dict[int, Any],
          fmt: str = "png") -> list[Path]:
    """Write ``fig-<id>.<fmt>`` (``png``, ``svg`` or ``pdf``) and, for computed figures,
    ``fig-<id>.json`` into ``out_dir``; each file appears whole or not at all.

    The JSON holds the results by seed and, under ``claims``, the figure's claims
    (:func:`claims_of`: headline verdict under the default reading and the per-reading table).
    """
    import io

    import matplotlib.pyplot as plt

    from afm.lab.paths import atomic_write

    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"unknown image format {fmt!r}: use png, svg or pdf")
    fig = draw(figure_id, results_by_seed)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight")
    plt.close(fig)
    paths = [atomic_write(out_dir / f"fig-{get(figure_id).id}.{fmt}", buffer.getvalue())]
    if results_by_seed:
        paths.append(atomic_write(out_dir / f"fig-{get(figure_id).id}.json", json.dumps({
            "figure": get(figure_id).id, "profile": profile,
            "results": to_jsonable(results_by_seed),
            "claims": to_jsonable(claims_of(figure_id, profile, results_by_seed))})))
    return paths
