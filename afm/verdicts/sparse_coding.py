"""Verdicts of chapter 2, sparse coding: Fig. 1d (activation), 1e (sparsity, generalisation)
and 1f (the switches)."""

from __future__ import annotations

import numpy as np

from afm.lab.claims import Claim
from afm.lab.runs import spread
from afm.verdicts import make_claim, paired, per_seed, statements

CHAPTER, CLAIMS = statements("sparse_coding")  # id -> (figure, section anchor, what the paper states)
VARIANTS = ("plain", "ERS", "ERS + IRS")
#: the glue names of the variants in the chapter's prose
KEY = {"plain": "plain", "ERS": "ers", "ERS + IRS": "full"}
#: Fig. 1f: the switches "start half open" when their mean starts within this of 0.5 ...
HALF_OPEN = 0.05
#: ... and "most of them close" when more than this share ends below ``CLOSED``.
MAJORITY = 0.5


def measures(results: dict) -> dict:
    """Chapter 2's per-seed numbers from ``{seed: sparse_coding results}``: ``S`` and ``act``
    ``{variant: (seeds, layers)}`` (Eq. 1 sparsity; mean activation), ``acc``
    ``{variant: (seeds,)}``, and ``layers``."""
    res = [results[s] for s in sorted(results)]
    layers = res[0]["layers"]
    return {"layers": layers,
            "S": {v: np.array([[r["variants"][v]["sparsity"][l] for l in layers] for r in res])
                  for v in VARIANTS},
            "act": {v: np.array([[r["variants"][v]["act_mean"][l].mean() for l in layers] for r in res])
                    for v in VARIANTS},
            "acc": {v: np.array([r["variants"][v]["test_acc"] for r in res]) for v in VARIANTS}}


def _layer_numbers(name: str, a: np.ndarray) -> dict:
    """``name_<i>`` (mean over seeds) and ``name_<i>_std`` for each layer column of ``a``."""
    out = {}
    for i in range(a.shape[1]):
        out[f"{name}_{i}"], out[f"{name}_{i}_std"] = spread(a[:, i])
    return out


def activation_decreased(act: dict, *, profile: str | None = None) -> Claim:
    """Fig. 1d from mean activations ``{variant: (seeds, layers)}``.

    Rule: per seed, the complete layer's (ERS + IRS) mean activation is below the plain
    network's in every hidden layer ("substantially" is not a number the paper gives).
    """
    full, base = np.asarray(act["ERS + IRS"]), np.asarray(act["plain"])
    verdict = per_seed((full < base).all(axis=1))
    ratio = full / base
    numbers = {"verdict_1d": verdict, **_layer_numbers("act_ratio", ratio),
               **{k: v for k, v in _layer_numbers("act_plain", base).items() if not k.endswith("std")},
               **{k: v for k, v in _layer_numbers("act_full", full).items() if not k.endswith("std")},
               **{k: v for k, v in _layer_numbers("act_ers", np.asarray(act["ERS"])).items()
                  if not k.endswith("std")}}
    return make_claim(CLAIMS, CHAPTER, "fig1d-activation-decreased",
                      "mean activation (ERS + IRS) / mean activation (plain) over neurons and test "
                      "images, averaged over the hidden layers; per layer in details",
                      ratio.mean(axis=1), verdict, profile=profile, numbers=numbers,
                      details={"ratio_per_layer": ratio.T})


def sparsity_raised(S: dict, *, profile: str | None = None) -> Claim:
    """Fig. 1e from Eq. (1) sparsities ``{variant: (seeds, layers)}``.

    Rule: per seed, both forgetting variants (ERS, ERS + IRS) are sparser than the plain
    network in every hidden layer.
    """
    base = np.asarray(S["plain"])
    holds = np.all([(np.asarray(S[v]) > base).all(axis=1) for v in ("ERS", "ERS + IRS")], axis=0)
    verdict = per_seed(holds)
    gain = (np.asarray(S["ERS + IRS"]) - base).mean(axis=1)
    numbers = {"verdict_raised": verdict, "gain": spread(gain)[0], "gain_std": spread(gain)[1]}
    for v in VARIANTS:
        numbers.update(_layer_numbers(f"S_{KEY[v]}", np.asarray(S[v])))
    return make_claim(CLAIMS, CHAPTER, "fig1e-sparsity-raised",
                      "S(ERS + IRS) - S(plain), mean over the hidden layers (Eq. 1, test set); all "
                      "variants and layers in details", gain, verdict, profile=profile,
                      numbers=numbers, details={"sparsity": S})


def ers_sparser_than_irs(S: dict, *, profile: str | None = None) -> Claim:
    """Fig. 1e: "introducing a lateral inhibition mechanism may reduce sparsity".

    Rule: per seed, ERS alone is sparser than ERS + IRS in every hidden layer.
    """
    ers, full = np.asarray(S["ERS"]), np.asarray(S["ERS + IRS"])
    verdict = per_seed((ers > full).all(axis=1))
    diff = (ers - full).mean(axis=1)
    return make_claim(CLAIMS, CHAPTER, "fig1e-ers-sparser-than-irs",
                      "S(ERS) - S(ERS + IRS), mean over the hidden layers", diff, verdict,
                      profile=profile, numbers={"verdict_ers": verdict, "diff_ers": spread(diff)[0],
                                                "diff_ers_std": spread(diff)[1]})


def irs_generalises(acc: dict, *, profile: str | None = None) -> Claim:
    """Fig. 1e: ERS + IRS generalises better than ERS alone, from test accuracies
    ``{variant: (seeds,)}`` (fractions).

    Rule: :func:`afm.verdicts.paired` on the per-seed differences ERS + IRS − ERS (one-sided
    paired t-test at 5 %). Why paired: the differences are a fraction of a point, about the
    size of the seed-to-seed noise, so "higher in every seed" would be close to a coin flip
    with few seeds.
    """
    diff = 100 * (np.asarray(acc["ERS + IRS"]) - np.asarray(acc["ERS"]))
    verdict, p = paired(diff)
    numbers = {"verdict_acc": verdict, "diff_acc": spread(diff)[0], "diff_acc_std": spread(diff)[1],
               "diff_acc_p": p}
    for v in VARIANTS:
        numbers[f"acc_{KEY[v]}"], numbers[f"acc_{KEY[v]}_std"] = spread(100 * np.asarray(acc[v]))
    return make_claim(CLAIMS, CHAPTER, "fig1e-irs-generalises",
                      "test accuracy (ERS + IRS) - test accuracy (ERS), percentage points; one-sided "
                      "paired t-test p in details", diff, verdict, profile=profile,
                      numbers=numbers, details={"test_acc": acc, "p": p})


def upper_layer_less_sparse(S: dict, *, profile: str | None = None) -> Claim:
    """Fig. 1e: "the upper layer's sparsity is considerably lower".

    Rule: per seed, the last hidden layer is less sparse than the first in all three variants.
    """
    holds = np.all([np.asarray(S[v])[:, -1] < np.asarray(S[v])[:, 0] for v in VARIANTS], axis=0)
    verdict = per_seed(holds)
    diff = np.mean([np.asarray(S[v])[:, 0] - np.asarray(S[v])[:, -1] for v in VARIANTS], axis=0)
    return make_claim(CLAIMS, CHAPTER, "fig1e-upper-layer-less-sparse",
                      "S(layer 1) - S(layer 2), mean over the three variants", diff, verdict,
                      profile=profile, numbers={"verdict_upper": verdict, "diff_upper": spread(diff)[0],
                                                "diff_upper_std": spread(diff)[1]})


def switches_close(start_mean, closed_share, *, profile: str | None = None,
                   details: dict | None = None) -> Claim:
    """Fig. 1f from, per seed, the mean switch state at the start of training and the share of
    switches closed (σ < ``sparse_coding.CLOSED``) at its end (complete layer).

    Rule: per seed, the mean starts within :data:`HALF_OPEN` of 0.5 *and* more than
    :data:`MAJORITY` of the switches end closed.
    """
    start, closed = np.asarray(start_mean, float), np.asarray(closed_share, float)
    verdict = per_seed((np.abs(start - 0.5) < HALF_OPEN) & (closed > MAJORITY))
    numbers = {"verdict_1f": verdict, "start": spread(start)[0], "closed_full": 100 * spread(closed)[0],
               "closed_full_std": 100 * spread(closed)[1]}
    return make_claim(CLAIMS, CHAPTER, "fig1f-switches-close",
                      "share of switches with σ < 0.1 at the end of training (complete layer, both "
                      "hidden layers); start mean σ in details", closed, verdict, profile=profile,
                      numbers=numbers, details={"start_mean": start, "closed_share": closed,
                                                **(details or {})})


def sweep_where(sweep_rows: list[dict], S_plain: np.ndarray, layers: list[str]) -> dict:
    """Over the λ sweep (rows of every seed), the λ values where both forgetting variants are
    sparser than the plain network in every layer (``raised``) and where ERS alone is sparser
    than ERS + IRS (``ers_sparser``), on means over seeds; as text for the prose."""
    lams = sorted({row["lam"] for row in sweep_rows})

    def mean_S(lam, variant):
        return np.mean([[row["sparsity"][l] for l in layers] for row in sweep_rows
                        if row["lam"] == lam and row["variant"] == variant], axis=0)

    base = np.asarray(S_plain).mean(axis=0)
    raised = [lam for lam in lams if all((mean_S(lam, v) > base).all() for v in ("ERS", "ERS + IRS"))]
    ers = [lam for lam in lams if (mean_S(lam, "ERS") > mean_S(lam, "ERS + IRS")).all()]
    return {"sweep_raised": ", ".join(f"{x:g}" for x in raised) or "none",
            "sweep_ers_sparser": ", ".join(f"{x:g}" for x in ers) or "none"}
