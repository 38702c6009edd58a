"""Appendix "Reading the equations": measure the choices the paper's text leaves open.

All on the MLP 784-64-64-10 on Fashion-MNIST with the complete forgetting layer
(shortcut, ERS + IRS), trained with the same SGD settings:

* the gate reading of Eq. (4): dense ``W_f`` (N×N) vs diagonal vs static;
* the reading of Eq. (8): asymmetric ``(1-σ_i) σ_j`` vs symmetric ``1 - σ_i σ_j``;
* sensitivity: validation accuracy and sparsity over a λ × β grid, and over ρ;
* the claims under their readings (:mod:`afm.lab.readings`): Fig. 2a's network trained and
  ablated under every reading of its claims, and the claims judged under each; and for the
  chapter "The claims under their readings", every varied figure's claims judged under each
  of their readings (:func:`claims_under_readings`) and said in words (:func:`where_it_holds`).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import numpy as np

from afm import data as afm_data
from afm.capture import capture_activations
from afm.experiments import neuron_importance
from afm.experiments.readings_claims import grid_under, lam_beta_under
from afm.lab.cache import cached
from afm.lab.claims import VERDICTS, Claim, with_readings
from afm.lab.profiles import by_profile, check_profile
from afm.lab.readings import apply_reading, check_reading, claim_readings, is_default, label
from afm.lab.runs import Run, fit_all
from afm.metrics import sparsity
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


# --- Fig. 2a's claims under every reading declared for them -----------------------------------

#: The claims of Fig. 2a (they share their readings: the shortcut × λ, and Eq. (8)).
FIG2A_CLAIMS = ("fig2a-positive-order-80", "fig2a-inverse-order-5", "fig2a-random-between")


def fig2a_readings() -> list[dict]:
    """Every reading of Fig. 2a's claims, the book's default first."""
    from afm.experiments.readings_claims import readings_of

    return readings_of(FIG2A_CLAIMS)


def fig2a_grid(profile: str, reading: dict) -> list[Run]:
    """Chapter 3's (λ, β) grid (seed 0) under ``reading``; ``[]`` if it fixes λ."""
    s = neuron_importance.settings(profile)
    return grid_under(reading, [neuron_importance.fashion_spec(profile, lam, beta)
                                for lam, beta in product(s["lams"], s["betas"])])


def fig2a_choice(profile: str, reading: dict) -> tuple[float, float]:
    """(λ, β) of Fig. 2a's network under ``reading``: the fixed ones, or the best on validation
    over the chapter's grid, trained under the reading (seed 0)."""
    return lam_beta_under(reading, fig2a_grid(profile, reading))


def fig2a_spec(profile: str, seed: int, reading: dict) -> Run:
    """Fig. 2a's network for ``seed`` trained under ``reading``."""
    lam, beta = fig2a_choice(profile, reading)
    return apply_reading(neuron_importance.fashion_spec(profile, lam, beta, int(seed)), reading)


def fig2a_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 2a for one seed under ``reading``: the global ablation curves (positive, inverse,
    random) of the network trained under it, as :func:`afm.experiments.neuron_importance.ablation`
    computes them (Ω on the validation split, accuracy on the test set). Cached."""
    check_profile(profile)
    key = {"profile": profile, "seed": int(seed), "reading": sorted(check_reading(reading).items())}
    return cached("fig2a_reading", key, lambda: _fig2a_under(profile, int(seed), dict(reading)))


def _fig2a_under(profile: str, seed: int, reading: dict) -> dict:
    s = neuron_importance.settings(profile)
    spec = fig2a_spec(profile, seed, reading)
    result, model, _, test, omega = neuron_importance.trained_and_omega(spec, profile)
    fractions = list(s["fractions"])
    curves = neuron_importance.ablation_curves(model, test, omega, fractions, s["draws"], seed)
    return {"lam": spec.lam, "beta": spec.beta, "seed": seed, "test_acc": result["test_acc"],
            "val_acc": result["val_acc"], "fractions": np.asarray(fractions), "curves": curves}


def _fig2a_claim(claim_id: str, summaries: list[dict], profile: str) -> Claim:
    """One Fig. 2a claim judged on per-seed summaries, by the chapter's rule
    (:mod:`afm.verdicts.neuron_importance`)."""
    from afm.verdicts import neuron_importance as rules

    if claim_id == "fig2a-positive-order-80":
        return rules.positive_order_80([x["drop_at_80"] for x in summaries], profile=profile)
    if claim_id == "fig2a-inverse-order-5":
        return rules.inverse_order_5([x["inverse_at_5"] for x in summaries], profile=profile)
    return rules.random_between({o: [x["auc"][o] for x in summaries] for o in ("positive", "random", "inverse")},
                                profile=profile)


def fig2a_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 2a's claims, each with its headline under the default reading (the figure's own
    ``results_by_seed``) and its per-reading table (the same seeds, trained under each reading)."""
    summaries = {}
    for reading in fig2a_readings():
        by_seed = (results_by_seed if is_default(reading)
                   else {seed: fig2a_under(profile, seed, reading) for seed in results_by_seed})
        summaries[label(reading)] = [neuron_importance.ablation_summary(r) for r in by_seed.values()]
    return [with_readings([(r, _fig2a_claim(claim_id, summaries[label(r)], profile))
                           for r in claim_readings(claim_id)]) for claim_id in FIG2A_CLAIMS]


# --- The chapter "The claims under their readings" --------------------------------------------

#: The figures whose claims are measured under every reading declared for them, in the book's order
#: (``afm run`` judges them all; chapters 7 and 8 show all but Fig. 2c and 3c, whose LeNet-5s and
#: VGG-9s trained again under each reading do not fit the ``book`` profile's time budget; the report
#: names their claims).
VARIED_FIGURES = ("1c", "1d", "1e", "1f", "2a", "2b", "2c", "2d", "3a", "3b", "3c")


def claims_under_readings(figure_id: str, profile: str, jobs: int | None = None) -> list[Claim]:
    """The claims of ``figure_id`` judged under every reading declared for them, as ``afm run``
    judges them (:data:`afm.lab.figures.CLAIMS`): the figure's own results (computed, or loaded
    from the cache its chapter filled) for the default reading, the same seeds trained under
    each other reading. Each claim carries its per-reading table; a claim of the figure on
    which no reading bears (:data:`afm.lab.readings.UNVARIED`) is left out.

    Raises:
        ValueError: for a figure whose claims are not varied (see :data:`VARIED_FIGURES`).
    """
    from afm.lab import figures

    fig_id = figures.get(figure_id).id
    if fig_id not in VARIED_FIGURES:
        raise ValueError(f"Fig. {fig_id}'s claims are not measured under readings: "
                         f"choose one of {', '.join(VARIED_FIGURES)}")
    results = figures.results(fig_id, profile, jobs=jobs, progress=False)
    prefit(fig_id, profile, list(results), jobs=jobs)
    premeasure(fig_id, profile, list(results), jobs=jobs)
    return [c for c in figures.CLAIMS[fig_id](results, profile) if c.readings]


def _runs_of(figure_id: str):
    """``(claim ids, grid(profile, reading), runs(profile, seed, reading))`` of a varied figure:
    the validation grid a reading that leaves λ open chooses from, and the networks it trains."""
    from afm.experiments import (readings_claims as rc, readings_efficiency as rf,
                                 readings_mechanism as rm)

    return {"1c": (rc.FIG1C_CLAIMS, rc.mnist_grid, lambda *a: [rc.fig1c_spec(*a)]),
            "1d": (rm.FIG1D_CLAIMS, rc.mnist_grid, lambda *a: list(rc.fig2d_specs(*a).values())),
            "1e": (rm.FIG1E_CLAIMS, rc.mnist_grid, lambda *a: list(rc.fig2d_specs(*a).values())),
            "1f": (rc.FIG1F_CLAIMS, rc.mnist_grid, lambda *a: [rc.fig2d_specs(*a)["ERS + IRS"]]),
            "2d": (rc.FIG2D_CLAIMS, rc.mnist_grid, lambda *a: list(rc.fig2d_specs(*a).values())),
            "2a": (FIG2A_CLAIMS, fig2a_grid, lambda *a: [fig2a_spec(*a)]),
            "2b": (rm.FIG2B_CLAIMS, fig2a_grid, lambda *a: [fig2a_spec(*a)]),
            "2c": (rc.FIG2C_CLAIMS, rc.cnn_grid, lambda *a: [rc.fig2c_spec(*a)]),
            "3a": (rf.FIG3A_CLAIMS, rf.fig3a_grid, rf.fig3a_specs),
            "3b": (rf.FIG3B_CLAIMS, rf.vgg_grid, lambda *a: [rf.fig3b_spec(*a)])}[figure_id]


def prefit(figure_id: str, profile: str, seeds: list[int], jobs: int | None = None) -> int:
    """Train, in parallel (:func:`afm.lab.runs.fit_all`), every network that ``figure_id``'s
    claims need under their readings other than the default: first the validation grids, then
    each reading's network for each seed. The measurements then find them in the cache. Each
    training runs on one thread, so the numbers do not depend on ``jobs``.

    Returns:
        The number of distinct networks (already cached or not).
    """
    from afm.experiments.readings_claims import readings_of

    claim_ids, grid, runs = _runs_of(figure_id)
    others = [r for r in readings_of(claim_ids) if not is_default(r)]
    grids = [run for r in others for run in grid(profile, r)]
    fit_all(list(dict.fromkeys(grids)), jobs=jobs)
    nets = [run for r in others for seed in seeds for run in runs(profile, seed, r)]
    fit_all(list(dict.fromkeys(nets)), jobs=jobs)
    return len(set(grids) | set(nets))


def _measures(figure_id: str, profile: str, seeds: list[int]) -> list[list[tuple]]:
    """The costly measurements of ``figure_id``'s claims under its readings other than the
    default, as ``[stage: [(function, *args)]]`` (a stage's tasks are independent): the ablation
    curves of Fig. 2a and 2b, and Fig. 3b's pruning references (random, iterative OBD: one per
    trained network), then its Eq. (2) curves. The other figures' measurements are cheap."""
    from afm.experiments import readings_efficiency as rf, readings_mechanism as rm
    from afm.experiments.readings_claims import readings_of

    def others(claim_ids):
        return [r for r in readings_of(claim_ids) if not is_default(r)]

    if figure_id == "2a":
        return [[(fig2a_under, profile, s, r) for r in others(FIG2A_CLAIMS) for s in seeds]]
    if figure_id == "2b":
        return [[(rm.fig2b_under, profile, s, r) for r in others(rm.FIG2B_CLAIMS) for s in seeds]]
    if figure_id == "3b":  # the references once per trained network, then each reading's curves
        networks = {(s, rf.fig3b_spec(profile, s, rf.training_of(r))): rf.training_of(r)
                    for r in others(rf.FIG3B_CLAIMS) for s in seeds}
        return [[(rf._references, profile, s, t) for (s, _), t in networks.items()],
                [(rf.fig3b_under, profile, s, r) for r in others(rf.FIG3B_CLAIMS) for s in seeds]]
    return []


def _measure(fn, *args) -> None:
    """``fn(*args)`` for its cache entry only (nothing to send back from a worker)."""
    fn(*args)


def premeasure(figure_id: str, profile: str, seeds: list[int], jobs: int | None = None) -> int:
    """Take, in parallel (:func:`afm.lab.sweep.run_many`, one thread per task), the costly
    measurements that ``figure_id``'s claims read under their readings (:func:`_measures`); the
    claims then find them in the cache. Call it after :func:`prefit` (the networks are trained).

    Returns:
        The number of measurements (already cached or not).
    """
    from afm.lab.sweep import run_many

    stages = _measures(figure_id, profile, seeds)
    for tasks in stages:
        run_many(_measure, tasks, jobs=jobs, progress=False, desc=f"Fig. {figure_id} measurements")
    return sum(len(t) for t in stages)


def _value(row: dict) -> str:
    return f"{row['value']:.3g} ± {row['spread']:.2g}"


def where_it_holds(claim: Claim) -> str:
    """Where ``claim`` holds, in words: its verdict under the book's default reading, then the
    readings under which it is reproduced, and partly reproduced, each with its value (mean ± std
    over seeds); the readings under which it fails are counted.

    Example:
        >>> rows = [{"reading": {"shortcut": True}, "value": 75.5, "spread": 1.0, "n_seeds": 3,
        ...          "verdict": "not reproduced"},
        ...         {"reading": {"shortcut": False}, "value": 0.0, "spread": 0.0, "n_seeds": 3,
        ...          "verdict": "reproduced"}]
        >>> claim = Claim("fig2a-demo", "2a", "03_neuron_importance", "s", "m", 75.5, 1.0, 3,
        ...               "book", "not reproduced", readings=rows)
        >>> where_it_holds(claim)
        'not reproduced under the default reading (75.5 ± 1); reproduced under no shortcut (0 ± 0); fails under no other reading'
    """
    if not claim.readings:
        raise ValueError(f"{claim.id} was measured under the default reading only")
    default = [r for r in claim.readings if is_default(r["reading"])]
    if len(default) != 1:
        raise ValueError(f"{claim.id}: expected one default reading, got {len(default)}")
    others = [r for r in claim.readings if not is_default(r["reading"])]
    parts = [f"{default[0]['verdict']} under the default reading ({_value(default[0])})"]
    for verdict, words in (("reproduced", "reproduced"), ("partly", "partly reproduced")):
        rows = [r for r in others if r["verdict"] == verdict]
        if rows:
            parts.append(f"{words} under " + ", ".join(f"{label(r['reading'])} ({_value(r)})"
                                                        for r in rows))
    failed = sum(r["verdict"] == "not reproduced" for r in others)
    parts.append("fails under no other reading" if failed == 0 else
                 f"fails under {failed} other reading{'' if failed == 1 else 's'}")
    return "; ".join(parts)


def holds_anywhere(claim: Claim) -> str:
    """The best verdict of ``claim`` over all its readings (``reproduced`` > ``partly`` > ``not
    reproduced``)."""
    verdicts = {r["verdict"] for r in claim.readings} or {claim.verdict}
    return next(v for v in VERDICTS if v in verdicts)


def sentences(claims: list[Claim]) -> dict[str, str]:
    """:func:`where_it_holds` of each claim, keyed by its id with ``-`` as ``_`` (what the
    readings chapters glue, e.g. ``ch7_fig1c_lateral_inhibition``)."""
    return {c.id.replace("-", "_"): where_it_holds(c) for c in claims}


def table_of(claims: list[Claim]) -> "pandas.DataFrame":
    """One row per claim and reading (``id``, ``figure``, ``reading`` label, ``settings``,
    ``value``, ``spread``, ``n_seeds``, ``verdict``), as the report's
    :func:`afm.experiments.report.readings_table` lays out every recorded claim."""
    import pandas as pd

    from afm.experiments.report import readings_table

    return readings_table(pd.DataFrame([{"id": c.id, "figure": c.figure, "value": c.value,
                                         "spread": c.spread, "n_seeds": c.n_seeds,
                                         "verdict": c.verdict, "readings": c.readings}
                                        for c in claims]))


def reading_counts(claims: list[Claim]) -> dict:
    """What chapters 7 and 8 glue about their claims: ``n_claims``, and per verdict how many
    claims get it under the default reading (``default_<verdict>``) and at best over their
    readings (``best_<verdict>``), as :func:`afm.experiments.report.reading_numbers` counts."""
    from afm.experiments.report import reading_numbers

    return {"n_claims": len(claims), **reading_numbers(table_of(claims))}
