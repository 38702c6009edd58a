"""The claims of Fig. 1c, 1f and 2d under every reading declared for them (:mod:`afm.lab.readings`).

For each figure: the figure's network trained under each reading (:func:`~afm.lab.readings.apply_reading`
on the figure's own :class:`~afm.lab.runs.Run`, λ and β chosen on validation over the chapter's grid
unless the reading fixes them), the figure's measurement taken on it (cached, keyed by the reading),
and each claim judged under each reading by the chapter's own verdict function
(:mod:`afm.verdicts`), called, not copied: under the default reading a claim's verdict is the
chapter's. Fig. 2a's claims are in :mod:`afm.experiments.readings`, Fig. 1d's, 1e's and 2b's
(on the networks trained here and for Fig. 2a) in :mod:`afm.experiments.readings_mechanism`,
Fig. 3a's and 3b's in :mod:`afm.experiments.readings_efficiency`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import product
from typing import Any

from afm.experiments import forgetting_layer, sparse_coding
from afm.lab.cache import cached
from afm.lab.claims import Claim, with_readings
from afm.lab.profiles import check_profile
from afm.lab.readings import apply_reading, check_reading, claim_readings, is_default, label
from afm.lab.runs import Run, choose, fit, trained
from afm.verdicts import forgetting_layer as rules_1, neuron_importance as rules_3, sparse_coding as rules_2


def readings_of(claim_ids: Sequence[str]) -> list[dict]:
    """Every reading of ``claim_ids``, one per distinct :func:`~afm.lab.readings.label`, default first."""
    out: dict[str, dict] = {}
    for claim_id in claim_ids:
        for reading in claim_readings(claim_id):
            out.setdefault(label(reading), reading)
    return list(out.values())


def grid_under(reading: dict, candidates: Sequence[Run]) -> list[Run]:
    """A chapter's (λ, β) grid ``candidates`` trained under ``reading``, from which a reading that
    leaves λ to validation chooses; ``[]`` for a reading that fixes λ."""
    return [] if reading.get("lam_rule") == "fixed" else [apply_reading(c, reading) for c in candidates]


def lam_beta_under(reading: dict, grid: Sequence[Run]) -> tuple[float, float]:
    """(λ, β) under ``reading``: fixed by it, or those of the best on validation in ``grid``
    (:func:`grid_under`)."""
    if reading.get("lam_rule") == "fixed":
        return reading["lam"], reading["beta"]
    best, _ = choose(grid)
    return best.lam, best.beta


def mnist_grid(profile: str, reading: dict) -> list[Run]:
    """Chapter 1's (λ, β) grid under ``reading`` (Fig. 1c to 1f and 2d choose from it)."""
    s, base = forgetting_layer.settings(profile), forgetting_layer.base_spec(profile)
    return grid_under(reading, [replace(base, lam=lam, beta=beta)
                                for lam, beta in product(s["lams"], s["betas"])])


def mnist_lam_beta(profile: str, reading: dict) -> tuple[float, float]:
    """(λ, β) of Fig. 1c to 1f and 2d under ``reading``."""
    return lam_beta_under(reading, mnist_grid(profile, reading))


def fig1c_spec(profile: str, seed: int, reading: dict) -> Run:
    """Chapter 1's network of Fig. 1c trained under ``reading``."""
    lam, beta = mnist_lam_beta(profile, reading)
    return apply_reading(replace(forgetting_layer.base_spec(profile), lam=lam, beta=beta,
                                 seed=int(seed)), reading)


def fig2d_specs(profile: str, seed: int, reading: dict) -> dict[str, Run]:
    """Chapter 2's ERS and ERS + IRS networks trained under ``reading`` (Fig. 1f reads the
    second; the ERS network keeps β = 0 whatever the reading fixes)."""
    lam, beta = mnist_lam_beta(profile, reading)
    specs = {v: apply_reading(sparse_coding.variant_spec(profile, v, int(seed), lam, beta), reading)
             for v in FIG2D_VARIANTS}
    specs["ERS"] = replace(specs["ERS"], beta=0.0)
    return specs


def measured_under(kind: str, profile: str, seed: int, reading: dict, measure: Callable[[], Any]):
    """``measure()`` cached as ``kind``, keyed by profile, seed and reading."""
    check_profile(profile)
    key = {"profile": profile, "seed": int(seed), "reading": sorted(check_reading(reading).items())}
    return cached(kind, key, measure)


def judged(claim_ids: Sequence[str], by_reading: dict[str, dict], profile: str,
           judge: Callable[[str, dict, str], Claim]) -> list[Claim]:
    """Each claim judged under each of its readings: ``by_reading`` maps a reading's label to
    ``{seed: measurement}``; ``judge(claim_id, by_seed, profile)`` calls the chapter's verdict."""
    return [with_readings([(r, judge(claim_id, by_reading[label(r)], profile))
                           for r in claim_readings(claim_id)]) for claim_id in claim_ids]


def over_readings(claim_ids: Sequence[str], results_by_seed: dict, profile: str,
                  under: Callable[[str, int, dict], Any],
                  judge: Callable[[str, dict, str], Claim]) -> list[Claim]:
    """The claims ``claim_ids`` under each of their readings: the default from the figure's own
    ``results_by_seed``, every other reading from ``under(profile, seed, reading)`` for the same
    seeds; each judged by ``judge`` (:func:`judged`)."""
    by_reading = {label(r): (results_by_seed if is_default(r) else
                             {seed: under(profile, seed, r) for seed in results_by_seed})
                  for r in readings_of(claim_ids)}
    return judged(claim_ids, by_reading, profile, judge)


# --- Fig. 1c: lateral inhibition ------------------------------------------------------------

FIG1C_CLAIMS = ("fig1c-lateral-inhibition",)


def fig1c_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 1c for one seed under ``reading``: chapter 1's network trained under it, and
    :func:`~afm.experiments.forgetting_layer.lateral_of` with the reading's Eq. (8) (the
    inhibition the network was trained with). Cached."""
    def measure() -> dict:
        spec = fig1c_spec(profile, seed, reading)
        return {**forgetting_layer.lateral_of(trained(spec), 0, spec.lateral),
                "lam": spec.lam, "beta": spec.beta}
    return measured_under("fig1c_reading", profile, seed, reading, measure)


def fig1c_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 1's verdict, :func:`afm.verdicts.forgetting_layer.lateral_inhibition`, on each
    seed's Ω, ``M`` and ``E[h]`` (as :func:`~afm.experiments.forgetting_layer.lateral_of` gives them)."""
    runs = [by_seed[seed] for seed in sorted(by_seed)]
    return rules_1.lateral_inhibition([r["omega"] for r in runs], [r["M"] for r in runs],
                                      [r["mean_h"] for r in runs], profile=profile)


def fig1c_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 1c's claim: the default reading from the figure's ``results_by_seed``, every other
    reading from the same seeds trained under it."""
    return over_readings(FIG1C_CLAIMS, results_by_seed, profile, fig1c_under, fig1c_claim)


# --- Fig. 1f: the switches over training ------------------------------------------------------

FIG1F_CLAIMS = ("fig1f-switches-close",)


def fig1f_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 1f's numbers for one seed under ``reading``: chapter 2's complete layer (ERS + IRS)
    trained under it, and :func:`~afm.experiments.sparse_coding.switch_summary` of its switches
    before and after each epoch (as the chapter measures them). Cached."""
    def measure() -> dict:
        spec = fig2d_specs(profile, seed, reading)["ERS + IRS"]
        gates = sparse_coding._gate_history(fit(spec)["history"]["gates"])
        return {**sparse_coding.switch_summary(gates), "lam": spec.lam, "beta": spec.beta}
    return measured_under("fig1f_reading", profile, seed, reading, measure)


def fig1f_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 2's verdict, :func:`afm.verdicts.sparse_coding.switches_close`, on each seed's
    :func:`~afm.experiments.sparse_coding.switch_summary` of the complete layer."""
    runs = [by_seed[seed] for seed in sorted(by_seed)]
    return rules_2.switches_close([r["start_mean"] for r in runs], [r["closed_share"] for r in runs],
                                  profile=profile)


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
        specs = fig2d_specs(profile, seed, reading)
        lam, beta = specs["ERS + IRS"].lam, specs["ERS + IRS"].beta
        return {"lam": lam, "beta": beta, "seed": int(seed),
                "variants": {v: neuron_importance.distribution_of(spec) for v, spec in specs.items()}}
    return measured_under("fig2d_reading", profile, seed, reading, measure)


def importance_of(by_seed: dict) -> dict:
    """``{variant: [{layer: (N,)} per seed]}`` from Fig. 2d's per-seed results, as the chapter
    hands them to its verdicts."""
    runs = [by_seed[seed] for seed in sorted(by_seed)]
    return {v: [r["variants"][v]["importance"] for r in runs] for v in runs[0]["variants"]}


def fig2d_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 3's verdicts (:mod:`afm.verdicts.neuron_importance`): ``importance_bimodal``
    (common scale, both forgetting variants) and ``irs_polarises`` (ERS + IRS against ERS)."""
    imp = importance_of(by_seed)
    if claim_id == "fig2d-importance-bimodal":
        return rules_3.importance_bimodal(imp, profile=profile)
    if claim_id == "fig2d-irs-polarises":
        return rules_3.irs_polarises(imp["ERS"], imp["ERS + IRS"], profile=profile)
    raise ValueError(f"not a varied claim of Fig. 2d: {claim_id!r}; expected one of {FIG2D_CLAIMS}")


def plain_near_uniform(by_seed: dict, profile: str) -> Claim:
    """Chapter 3's verdict :func:`afm.verdicts.neuron_importance.plain_near_uniform` on the
    plain network's importance. No reading bears on it (its readings list is empty)."""
    return rules_3.plain_near_uniform(importance_of(by_seed)["plain"], profile=profile)


def with_plain(result: dict, default: dict) -> dict:
    """A Fig. 2d result under a reading, with the plain network of the default (no reading
    bears on a network without forgetting layers; the bimodality verdict reports it beside)."""
    return {**result, "variants": {"plain": default["variants"]["plain"], **result["variants"]}}


def fig2d_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 2d's claims: the varied ones under each reading (the default from the figure's
    ``results_by_seed``), then the plain network's, judged once."""
    by_reading = {label(r): (results_by_seed if is_default(r) else
                             {seed: with_plain(fig2d_under(profile, seed, r), results_by_seed[seed])
                              for seed in results_by_seed})
                  for r in readings_of(FIG2D_CLAIMS)}
    return [*judged(FIG2D_CLAIMS, by_reading, profile, fig2d_claim),
            plain_near_uniform(results_by_seed, profile)]


# --- Fig. 2c: removing the most important channels of LeNet-5 --------------------------------

FIG2C_CLAIMS = ("fig2c-top-channels-collapse",)


def cnn_grid(profile: str, reading: dict) -> list[Run]:
    """Chapter 3's λ grid of the LeNet-5 with forgetting layers (seed 0) under ``reading``;
    ``[]`` for a reading that fixes λ."""
    from afm.experiments import neuron_importance

    return grid_under(reading, [neuron_importance.cnn_spec(profile, True, lam)
                                for lam in neuron_importance.settings(profile)["cnn_lams"]])


def fig2c_spec(profile: str, seed: int, reading: dict) -> Run:
    """The LeNet-5 with forgetting layers of Fig. 2c trained under ``reading``: λ fixed by the
    reading, or the best on validation among :func:`cnn_grid`."""
    from afm.experiments import neuron_importance

    lam, beta = lam_beta_under(reading, cnn_grid(profile, reading))
    return apply_reading(replace(neuron_importance.cnn_spec(profile, True, lam, int(seed)), beta=beta),
                         reading)


def fig2c_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 2c for one seed under ``reading``: :func:`~afm.experiments.neuron_importance.channel_removal`
    with the LeNet-5 trained under it (the plain LeNet-5, which no reading changes, is the
    chapter's). Cached."""
    from afm.experiments import neuron_importance

    return measured_under("fig2c_reading", profile, seed, reading,
                          lambda: neuron_importance.channel_removal(profile, int(seed),
                                                                    fig2c_spec(profile, seed, reading)))


def fig2c_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 3's verdict, :func:`afm.verdicts.neuron_importance.top_channels_collapse`, on the
    accuracy lost per seed (:func:`~afm.verdicts.neuron_importance.channel_measures`)."""
    from afm.experiments import neuron_importance

    if claim_id not in FIG2C_CLAIMS:
        raise ValueError(f"not a claim of Fig. 2c: {claim_id!r}; expected one of {FIG2C_CLAIMS}")
    drops, _ = rules_3.channel_measures({s: by_seed[s] for s in sorted(by_seed)}, neuron_importance.TOP_K)
    return rules_3.top_channels_collapse(drops, profile=profile)


def fig2c_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 2c's claim under each reading; the default from the figure's ``results_by_seed``,
    every other reading from the same seeds trained under it."""
    return over_readings(FIG2C_CLAIMS, results_by_seed, profile, fig2c_under, fig2c_claim)
