"""The claims of Fig. 1d, 1e and 2b under every reading declared for them (:mod:`afm.lab.readings`).

No network is trained for them that the other varied figures do not train already:

* Fig. 1d and 1e are measured on chapter 2's ERS and ERS + IRS networks trained under each
  reading, the very networks of Fig. 2d (:func:`~afm.experiments.readings_claims.fig2d_specs`),
  with :func:`afm.experiments.sparse_coding.measure_run` (sparsity, Eq. (1), and activations on
  the test set, as the chapter measures them). The plain network has no forgetting layer, so no
  reading changes it: it is the default results' (:func:`with_plain`).
* Fig. 2b is measured on chapter 3's Fashion-MNIST network trained under each reading, the
  network of Fig. 2a (:func:`afm.experiments.readings.fig2a_spec`): one hidden layer ablated at
  a time, most and least important first, as :func:`afm.experiments.neuron_importance.ablation`
  does it.

Each claim is judged by its chapter's own verdict function (:mod:`afm.verdicts`), called, not
copied: under the default reading a claim's verdict is the chapter's.
"""

from __future__ import annotations

import numpy as np

from afm.analysis.ablation import ablation_curve, area_under
from afm.experiments import neuron_importance, sparse_coding
from afm.experiments.readings_claims import fig2d_specs, judged, measured_under, over_readings, readings_of
from afm.lab.claims import Claim
from afm.lab.readings import is_default, label
from afm.verdicts import neuron_importance as rules_3, sparse_coding as rules_2

# --- Fig. 1d and 1e: activation and sparsity ------------------------------------------------

FIG1D_CLAIMS = ("fig1d-activation-decreased",)
FIG1E_CLAIMS = ("fig1e-sparsity-raised", "fig1e-ers-sparser-than-irs", "fig1e-irs-generalises",
                "fig1e-upper-layer-less-sparse")
#: The networks with forgetting layers Fig. 1d and 1e measure under a reading (plain: the default's).
SPARSE_VARIANTS = ("ERS", "ERS + IRS")


def sparse_readings() -> dict[str, dict]:
    """``{label: reading}`` of every reading of Fig. 1d's and 1e's claims: one dict per label,
    so that the two figures measure (and cache) each reading once."""
    return {label(r): r for r in readings_of(FIG1D_CLAIMS + FIG1E_CLAIMS)}


def fig1e_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 1d and 1e for one seed under ``reading``: chapter 2's ERS and ERS + IRS networks
    trained under it (those of Fig. 2d: the ERS network keeps β = 0), each measured by
    :func:`~afm.experiments.sparse_coding.measure_run` on the test set. Cached.

    Returns:
        ``{"lam", "beta", "seed", "layers": [excitatory layers], "variants": {"ERS" | "ERS + IRS":
        measure_run(...)}}`` (no plain network: see :func:`with_plain`).
    """
    def measure() -> dict:
        specs = fig2d_specs(profile, seed, reading)
        batches = sparse_coding._test_batches()
        variants = {v: sparse_coding.measure_run(specs[v], batches) for v in SPARSE_VARIANTS}
        return {"lam": specs["ERS + IRS"].lam, "beta": specs["ERS + IRS"].beta, "seed": int(seed),
                "layers": list(variants["ERS + IRS"]["sparsity"]), "variants": variants}
    return measured_under("fig1e_reading", profile, seed, reading, measure)


def with_plain(result: dict, default: dict) -> dict:
    """A Fig. 1d/1e result under a reading, with the plain network of the default (no reading
    bears on a network without forgetting layers; the verdicts compare against it)."""
    return {**result, "variants": {"plain": default["variants"]["plain"], **result["variants"]}}


def fig1e_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 2's verdicts (:mod:`afm.verdicts.sparse_coding`) on its per-seed measures
    (:func:`~afm.verdicts.sparse_coding.measures`: sparsity ``S``, mean activation ``act``, test
    accuracy ``acc``), as the chapter calls them; Fig. 1d's claim too."""
    m = rules_2.measures(by_seed)
    rules = {"fig1d-activation-decreased": lambda: rules_2.activation_decreased(m["act"], profile=profile),
             "fig1e-sparsity-raised": lambda: rules_2.sparsity_raised(m["S"], profile=profile),
             "fig1e-ers-sparser-than-irs": lambda: rules_2.ers_sparser_than_irs(m["S"], profile=profile),
             "fig1e-irs-generalises": lambda: rules_2.irs_generalises(m["acc"], profile=profile),
             "fig1e-upper-layer-less-sparse": lambda: rules_2.upper_layer_less_sparse(m["S"], profile=profile)}
    if claim_id not in rules:
        raise ValueError(f"not a claim of Fig. 1d or 1e: {claim_id!r}; expected one of {list(rules)}")
    return rules[claim_id]()


def _sparse_claims(claim_ids: tuple[str, ...], results_by_seed: dict, profile: str) -> list[Claim]:
    """``claim_ids`` of Fig. 1d/1e under each reading: the default from the figure's
    ``results_by_seed``, every other from the same seeds trained under it (plain: the default's)."""
    wanted = {label(r) for r in readings_of(claim_ids)}
    by_reading = {name: (results_by_seed if is_default(r) else
                         {seed: with_plain(fig1e_under(profile, seed, r), results_by_seed[seed])
                          for seed in results_by_seed})
                  for name, r in sparse_readings().items() if name in wanted}
    return judged(claim_ids, by_reading, profile, fig1e_claim)


def fig1d_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 1d's claim (the activation decreases) under each of its readings."""
    return _sparse_claims(FIG1D_CLAIMS, results_by_seed, profile)


def fig1e_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 1e's four claims (sparsity, ERS against ERS + IRS, generalisation, upper layer)
    under each of their readings."""
    return _sparse_claims(FIG1E_CLAIMS, results_by_seed, profile)


# --- Fig. 2b: natural and targeted forgetting, layer by layer -------------------------------

FIG2B_CLAIMS = ("fig2b-higher-layers-critical",)
#: Fig. 2b's two orders: least important first (natural forgetting), most important first (targeted).
ORDERS = ("positive", "inverse")


def fig2b_under(profile: str, seed: int, reading: dict) -> dict:
    """Fig. 2b for one seed under ``reading``: Fig. 2a's network trained under it
    (:func:`afm.experiments.readings.fig2a_spec`), Ω read on its validation split, and each
    hidden layer ablated alone in both orders on the test set, as
    :func:`afm.experiments.neuron_importance.ablation` does. Cached.

    Returns:
        ``{"lam", "beta", "seed", "fractions": (F,), "layers", "per_layer": {layer:
        {"positive" | "inverse": (F,)}}}``
    """
    from afm.experiments.readings import fig2a_spec

    def measure() -> dict:
        spec = fig2a_spec(profile, seed, reading)
        _, model, _, test, omega = neuron_importance.trained_and_omega(spec, profile)
        fractions = list(neuron_importance.settings(profile)["fractions"])
        return {"lam": spec.lam, "beta": spec.beta, "seed": int(seed),
                "fractions": np.asarray(fractions), "layers": list(omega),
                "per_layer": {layer: {order: ablation_curve(model, test, {layer: omega[layer]},
                                                            fractions, order) for order in ORDERS}
                              for layer in omega}}
    return measured_under("fig2b_reading", profile, seed, reading, measure)


def layer_areas(result: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(targeted, natural)``: the areas under each hidden layer's inverse and positive curves,
    ``(layers,)`` each, in the order of ``result["layers"]`` (as
    :func:`afm.experiments.neuron_importance.ablation_summary` computes them)."""
    f, curves = result["fractions"], result["per_layer"]
    return tuple(np.array([area_under(f, curves[layer][order]) for layer in result["layers"]])
                 for order in ("inverse", "positive"))


def fig2b_claim(claim_id: str, by_seed: dict, profile: str) -> Claim:
    """Chapter 3's verdict, :func:`afm.verdicts.neuron_importance.higher_layers_critical`, on
    each seed's :func:`layer_areas` ``(seeds, layers)``."""
    if claim_id not in FIG2B_CLAIMS:
        raise ValueError(f"not a claim of Fig. 2b: {claim_id!r}; expected one of {FIG2B_CLAIMS}")
    runs = [by_seed[seed] for seed in sorted(by_seed)]
    areas = [layer_areas(r) for r in runs]
    return rules_3.higher_layers_critical([a[0] for a in areas], [a[1] for a in areas],
                                          profile=profile, layers=runs[0]["layers"])


def fig2b_claims(results_by_seed: dict, profile: str) -> list[Claim]:
    """Fig. 2b's claim under each reading: the default from the figure's ``results_by_seed``
    (chapter 3's ablation results), every other from the same seeds trained under it."""
    return over_readings(FIG2B_CLAIMS, results_by_seed, profile, fig2b_under, fig2b_claim)
