"""The entry of one figure of the paper in the book's registry (:mod:`afm.lab.figures`).

Each experiment module declares its figures as a list ``FIGURES`` of :class:`Figure`,
with the real functions (no strings), so that "go to definition" leads from a figure
to the code that computes and draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One figure: how to compute it per seed, and how to draw it.

    Args:
        id: the paper's panel, e.g. ``"2a"``.
        title: one line for ``afm list``.
        chapter: the chapter's file stem, e.g. ``"03_neuron_importance"``.
        plot: ``plot({seed: results}) -> matplotlib Figure`` (``plot()`` when nothing is computed).
        compute: ``compute(profile, seed) -> results`` (``None``: drawn from code). Figures that
            share a compute function share its cached results.
        seeds: ``seeds(profile) -> [int]``, the seeds the profile averages over.
        prepare: ``prepare(profile, jobs=, scheduler=)``: the runs every seed needs, trained first
            (in parallel).

    Example:
        >>> Figure("1z", "A demo", "00_demo", plot=lambda: None).default_seeds("smoke")
        []
    """

    id: str
    title: str
    chapter: str
    plot: Callable[..., Any]
    compute: Callable[[str, int], Any] | None = None
    seeds: Callable[[str], list[int]] | None = None
    prepare: Callable[..., Any] | None = None

    def default_seeds(self, profile: str) -> list[int]:
        return [int(s) for s in self.seeds(profile)] if self.seeds else []
