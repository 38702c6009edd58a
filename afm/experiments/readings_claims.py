"""The claims of Fig. 1c, 1f and 2d under every reading declared for them (:mod:`afm.lab.readings`).

For each figure: the figure's network trained under each reading (:func:`~afm.lab.readings.apply_reading`
on the figure's own :class:`~afm.lab.runs.Run`, λ and β chosen on validation over the chapter's grid
unless the reading fixes them), the figure's measurement taken on it (cached, keyed by the reading),
and each claim judged under each reading by the chapter's own criterion, written once here beside
the chapter's wording. Fig. 2a's claims are in :mod:`afm.experiments.readings`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import product
from typing import Any

import numpy as np

from afm.experiments import forgetting_layer, sparse_coding
from afm.lab.cache import cached
from afm.lab.claims import Claim, verdict_from, with_readings
from afm.lab.profiles import check_profile
from afm.lab.readings import apply_reading, check_reading, claim_readings, is_default, label
from afm.lab.runs import Run, choose, fit, spread, trained


def readings_of(claim_ids: Sequence[str]) -> list[dict]:
    """Every reading of ``claim_ids``, one per distinct :func:`~afm.lab.readings.label`, default first."""
    out: dict[str, dict] = {}
    for claim_id in claim_ids:
        for reading in claim_readings(claim_id):
            out.setdefault(label(reading), reading)
    return list(out.values())


def chosen_lam_beta(reading: dict, candidates: Sequence[Run]) -> tuple[float, float]:
    """(λ, β) under ``reading``: the fixed ones, or the best on validation among ``candidates``
    (the chapter's grid) trained under the reading."""
    if reading.get("lam_rule") == "fixed":
        return reading["lam"], reading["beta"]
    best, _ = choose([apply_reading(c, reading) for c in candidates])
    return best.lam, best.beta


def measured_under(kind: str, profile: str, seed: int, reading: dict, measure: Callable[[], Any]):
    """``measure()`` cached as ``kind``, keyed by profile, seed and reading."""
    check_profile(profile)
    key = {"profile": profile, "seed": int(seed), "reading": sorted(check_reading(reading).items())}
    return cached(kind, key, measure)


def judged(claim_ids: Sequence[str], by_reading: dict[str, dict], profile: str,
           judge: Callable[[str, dict, str], Claim]) -> list[Claim]:
    """Each claim judged under each of its readings: ``by_reading`` maps a reading's label to
    ``{seed: measurement}``; ``judge(claim_id, by_seed, profile)`` is the chapter's criterion."""
    return [with_readings([(r, judge(claim_id, by_reading[label(r)], profile))
                           for r in claim_readings(claim_id)]) for claim_id in claim_ids]


# --- Fig. 1c: lateral inhibition ------------------------------------------------------------

FIG1C_CLAIMS = ("fig1c-lateral-inhibition",)


def fig1c_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 1c for one seed under ``reading``: chapter 1's network trained under it, and
    :func:`~afm.experiments.forgetting_layer.lateral_of` with the reading's Eq. (8) (the
    inhibition the network was trained with). Cached."""
    def measure() -> dict:
        s = forgetting_layer.settings(profile)
        base = forgetting_layer.base_spec(profile)
        lam, beta = chosen_lam_beta(reading, [replace(base, lam=lam, beta=beta)
                                              for lam, beta in product(s["lams"], s["betas"])])
        spec = apply_reading(replace(base, lam=lam, beta=beta, seed=int(seed)), reading)
        return {**forgetting_layer.lateral_of(trained(spec), 0, spec.lateral),
                "lam": lam, "beta": beta}
    return measured_under("fig1c_reading", profile, seed, reading, measure)


def fig1c_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 1's criterion, verbatim (book/01_forgetting_layer.md, claim cell of Fig. 1c):
    exerted correlation positive and received correlation negative, in every seed."""
    rho_ex = np.array([r["spearman_exerted"] for r in by_seed.values()])
    rho_re = np.array([r["spearman_received"] for r in by_seed.values()])
    holds = (rho_ex > 0) & (rho_re < 0)
    mean, std = spread(rho_ex)
    return Claim(id=claim_id, figure="1c", chapter="01_forgetting_layer",
                 statement="An essential neuron is inhibited less and inhibits others more",
                 measured="Spearman(Ω, inhibition exerted); Spearman(Ω, inhibition received) in details",
                 value=mean, spread=std, n_seeds=len(rho_ex), profile=profile,
                 verdict=verdict_from(bool(holds.all()), bool(holds.any())),
                 section="book/01_forgetting_layer.html#ch1-lateral",
                 details={"spearman_received": rho_re.tolist()})


def fig1c_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 1c's claim: the default reading from the figure's ``results_by_seed``, every other
    reading from the same seeds trained under it."""
    by_reading = {label(r): (results_by_seed if is_default(r) else
                             {seed: fig1c_under(profile, seed, r) for seed in results_by_seed})
                  for r in readings_of(FIG1C_CLAIMS)}
    return judged(FIG1C_CLAIMS, by_reading, profile, fig1c_claim)


# --- Fig. 1f: the switches over training ------------------------------------------------------

FIG1F_CLAIMS = ("fig1f-switches-close",)


def fig1f_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 1f's numbers for one seed under ``reading``: chapter 2's complete layer (ERS + IRS)
    trained under it, and :func:`~afm.experiments.sparse_coding.switch_summary` of its switches
    before and after each epoch (as the chapter measures them). Cached."""
    def measure() -> dict:
        s = forgetting_layer.settings(profile)
        base = forgetting_layer.base_spec(profile)
        lam, beta = chosen_lam_beta(reading, [replace(base, lam=lam, beta=beta)
                                              for lam, beta in product(s["lams"], s["betas"])])
        spec = apply_reading(sparse_coding.variant_spec(profile, "ERS + IRS", int(seed), lam, beta),
                             reading)
        gates = sparse_coding._gate_history(fit(spec)["history"]["gates"])
        return {**sparse_coding.switch_summary(gates), "lam": lam, "beta": beta}
    return measured_under("fig1f_reading", profile, seed, reading, measure)


def fig1f_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 2's criterion, verbatim (book/02_sparse_coding.md, claim cell of Fig. 1f): the
    mean switch starts within 0.05 of 1/2 and more than half the switches end closed, every seed."""
    start = np.array([r["start_mean"] for r in by_seed.values()])
    closed = np.array([r["closed_share"] for r in by_seed.values()])
    holds = (np.abs(start - 0.5) < 0.05) & (closed > 0.5)
    mean, std = spread(closed)
    return Claim(id=claim_id, figure="1f", chapter="02_sparse_coding",
                 statement="The switches start half open and most of them close by the end of training",
                 measured="share of switches with σ < 0.1 at the end of training (complete layer, both "
                          "hidden layers); start mean σ in details",
                 value=mean, spread=std, n_seeds=len(closed), profile=profile,
                 verdict=verdict_from(bool(holds.all()), bool(holds.any())),
                 section="book/02_sparse_coding.html#ch2-switches",
                 details={"start_mean": start.tolist(), "closed_share": closed.tolist()})


def fig1f_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 1f's claim under each reading, over chapter 2's seeds (the claim is judged on the
    networks of Fig. 1e, not on the traced seeds the figure draws, so ``results_by_seed`` is not
    read; the default reading trains the chapter's own run, which the cache shares)."""
    seeds = sparse_coding.seeds(profile)
    by_reading = {label(r): {seed: fig1f_under(profile, seed, r) for seed in seeds}
                  for r in readings_of(FIG1F_CLAIMS)}
    return judged(FIG1F_CLAIMS, by_reading, profile, fig1f_claim)


# --- Fig. 2d: the distribution of importance --------------------------------------------------

FIG2D_CLAIMS = ("fig2d-importance-bimodal", "fig2d-irs-polarises")
#: The claim of Fig. 2d on which no reading bears (:data:`afm.lab.readings.UNVARIED`).
FIG2D_UNVARIED = "fig2d-plain-near-uniform"
#: The networks with forgetting layers the varied claims of Fig. 2d compare.
FIG2D_VARIANTS = ("ERS", "ERS + IRS")


def fig2d_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 2d for one seed under ``reading``: chapter 2's ERS and ERS + IRS networks trained
    under it (the ERS network keeps β = 0 whatever the reading fixes), and
    :func:`~afm.experiments.neuron_importance.distribution_of` each. Cached."""
    from afm.experiments import neuron_importance

    def measure() -> dict:
        s = forgetting_layer.settings(profile)
        base = forgetting_layer.base_spec(profile)
        lam, beta = chosen_lam_beta(reading, [replace(base, lam=lam, beta=beta)
                                              for lam, beta in product(s["lams"], s["betas"])])
        specs = {v: apply_reading(sparse_coding.variant_spec(profile, v, int(seed), lam, beta), reading)
                 for v in FIG2D_VARIANTS}
        specs["ERS"] = replace(specs["ERS"], beta=0.0)
        return {"lam": lam, "beta": beta, "seed": int(seed),
                "variants": {v: neuron_importance.distribution_of(spec) for v, spec in specs.items()}}
    return measured_under("fig2d_reading", profile, seed, reading, measure)


def _stat(r: dict, variant: str, layer: str, key: str) -> float:
    return r["variants"][variant]["stats"][layer][key]


def fig2d_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 3's criteria, verbatim (book/03_neuron_importance.md, claim cell of Fig. 2d).

    Bimodal: in every hidden layer of both ERS and ERS + IRS, Sarle's b above the uniform
    distribution's 5/9, at least 5 % within 0.1 of each end and more than 50 % at the ends
    together. IRS polarises: polarisation of ERS + IRS above that of ERS in every layer.
    Both in every seed for "reproduced"."""
    from afm.analysis.stats import UNIFORM_BIMODALITY

    dres = list(by_seed.values())
    layers = list(dres[0]["variants"]["ERS + IRS"]["stats"])
    common = dict(figure="2d", chapter="03_neuron_importance", n_seeds=len(dres), profile=profile,
                  section="book/03_neuron_importance.html#ch3-distributions")
    if claim_id == "fig2d-importance-bimodal":
        def bimodal(r, v, l):
            low, high = _stat(r, v, l, "low"), _stat(r, v, l, "high")
            return (_stat(r, v, l, "bimodality") > UNIFORM_BIMODALITY and min(low, high) >= 0.05
                    and low + high > 0.5)
        holds = np.array([all(bimodal(r, v, l) for v in FIG2D_VARIANTS for l in layers) for r in dres])
        b_full = np.array([np.mean([_stat(r, "ERS + IRS", l, "bimodality") for l in layers])
                           for r in dres])
        mean, std = spread(b_full)
        return Claim(id=claim_id, statement="With the forgetting layer, neuron importance is bimodal, "
                                            "most values near both ends",
                     measured="Sarle's bimodality coefficient of Ω (ERS + IRS), mean over hidden layers; "
                              "criterion also needs >= 5 % within 0.1 of each end and > 50 % at the "
                              "ends together, both variants",
                     value=mean, spread=std, verdict=verdict_from(bool(holds.all()), bool(holds.any())),
                     **common)
    if claim_id == "fig2d-irs-polarises":
        pol = np.array([[_stat(r, "ERS + IRS", l, "polarisation") - _stat(r, "ERS", l, "polarisation")
                         for l in layers] for r in dres])
        holds = np.all(pol > 0, axis=1)
        return Claim(id=claim_id, statement="Lateral inhibition (IRS) further polarises the "
                                            "distribution of importance",
                     measured="polarisation 2·E|Ω - 1/2|, ERS + IRS minus ERS, mean over hidden layers",
                     value=float(pol.mean()), spread=spread(pol.mean(1))[1],
                     verdict=verdict_from(bool(holds.all()), bool(holds.any())),
                     details={"polarisation_difference_per_layer": pol.tolist(), "layers": layers},
                     **common)
    raise ValueError(f"not a varied claim of Fig. 2d: {claim_id!r}; expected one of {FIG2D_CLAIMS}")


def plain_near_uniform(by_seed: dict, profile: str) -> Claim:
    """Chapter 3's criterion, verbatim: the plain network's importance within Kolmogorov-Smirnov
    distance 0.1 of U(0, 1) in every layer. No reading bears on it (its readings list is empty)."""
    dres = list(by_seed.values())
    layers = list(dres[0]["variants"]["plain"]["stats"])
    ks = np.array([[_stat(r, "plain", l, "ks_uniform") for l in layers] for r in dres])
    holds = np.all(ks <= 0.1, axis=1)
    return Claim(id=FIG2D_UNVARIED, figure="2d", chapter="03_neuron_importance",
                 statement="The plain network's importance is distributed near uniformly",
                 measured="Kolmogorov-Smirnov distance of the plain network's importance (mean "
                          "activation / layer max) from U(0, 1), mean over hidden layers (near "
                          "uniform: <= 0.1 in every layer)",
                 value=float(ks.mean()), spread=spread(ks.mean(1))[1], n_seeds=len(dres),
                 profile=profile, verdict=verdict_from(bool(holds.all()), bool(holds.any())),
                 section="book/03_neuron_importance.html#ch3-distributions",
                 details={"ks_per_layer": ks.tolist(), "layers": layers})


def fig2d_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 2d's claims: the varied ones under each reading (the default from the figure's
    ``results_by_seed``), then the plain network's, judged once."""
    by_reading = {label(r): (results_by_seed if is_default(r) else
                             {seed: fig2d_under(profile, seed, r) for seed in results_by_seed})
                  for r in readings_of(FIG2D_CLAIMS)}
    return [*judged(FIG2D_CLAIMS, by_reading, profile, fig2d_claim),
            plain_near_uniform(results_by_seed, profile)]
