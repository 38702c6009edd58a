"""Verdicts of chapter 3, neuron importance: Fig. 2a (ablation orders), 2b (layers), 2c (top
channels of a CNN) and 2d (the distribution of importance)."""

from __future__ import annotations

import numpy as np

from afm.analysis.stats import UNIFORM_BIMODALITY, bimodality_coefficient, end_shares, polarisation
from afm.lab.claims import Claim
from afm.lab.runs import spread
from afm.verdicts import ALPHA, make_claim, per_seed, statements

CHAPTER, CLAIMS = statements("neuron_importance")  # id -> (figure, section anchor, what the paper states)
#: Fig. 2a: "degradation below 10 %", read as at most 10 accuracy points lost at 80 % removed.
MAX_DROP_80 = 0.10
#: Fig. 2a: "collapses" at 5 % removed: at most twice chance accuracy (10 classes) is left.
COLLAPSED = 0.20
#: Fig. 2d: "near an end": within this of 0 or of the layer's maximum (importance / layer max).
END_MARGIN = 0.1
#: Fig. 2d: bimodal needs at least this share near *each* end ...
MIN_END_SHARE = 0.05
#: ... and more than this share near the two ends together.
MIN_ENDS_SHARE = 0.5


def ablation_measures(summaries: list[dict]) -> dict:
    """Per-seed arrays from ``neuron_importance.ablation_summary`` of each seed: accuracy
    intact (``base``), lost at 80 % removed (``drop80``), left at 5 % inverse (``inv5``),
    random at 80 % and 5 %, the same with an equal share per layer (``st_*``), and ``auc``
    ``{order: (seeds,)}``."""
    get = lambda *keys: np.array([_dig(x, keys) for x in summaries])  # noqa: E731
    return {"base": get("base"), "drop80": get("drop_at_80"), "inv5": get("inverse_at_5"),
            "rand80": get("random_at_80"), "rand5": get("random_at_5"),
            "st_drop80": get("stratified", "drop_at_80"), "st_inv5": get("stratified", "inverse_at_5"),
            "auc": {o: get("auc", o) for o in ("positive", "random", "inverse")}}


def _dig(d: dict, keys: tuple):
    for k in keys:
        d = d[k]
    return d


def positive_order_80(drop80, *, profile: str | None = None, details: dict | None = None) -> Claim:
    """Fig. 2a, positive order: per seed, the accuracy lost after ablating the 80 % of neurons
    with the lowest Ω (one ranking over all layers), as a fraction.

    Rule: per seed, the loss is below :data:`MAX_DROP_80` (10 points).
    """
    drop = np.asarray(drop80, float)
    verdict = per_seed(drop < MAX_DROP_80)
    return make_claim(CLAIMS, CHAPTER, "fig2a-positive-order-80",
                      "test accuracy lost (fraction) after ablating the 80 % of neurons with the "
                      "lowest Ω (one ranking over all layers)", drop, verdict, profile=profile,
                      details={"drop_at_80": drop, **(details or {})}, numbers={"verdict_80": verdict})


def inverse_order_5(inv5, *, profile: str | None = None, details: dict | None = None) -> Claim:
    """Fig. 2a, inverse order: per seed, the test accuracy left after ablating the 5 % of
    neurons with the highest Ω.

    Rule: per seed, at most :data:`COLLAPSED` (twice chance) is left.
    """
    left = np.asarray(inv5, float)
    verdict = per_seed(left <= COLLAPSED)
    return make_claim(CLAIMS, CHAPTER, "fig2a-inverse-order-5",
                      "test accuracy after ablating the 5 % of neurons with the highest Ω "
                      "(collapse: <= 0.20, twice chance)", left, verdict, profile=profile,
                      details={"inverse_at_5": left, **(details or {})}, numbers={"verdict_5": verdict})


def random_between(auc: dict, *, profile: str | None = None) -> Claim:
    """Fig. 2a, random control: per-seed areas under the accuracy curves ``{"positive",
    "random", "inverse": (seeds,)}``.

    Rule: per seed, AUC(positive) > AUC(random) > AUC(inverse).
    """
    pos, rnd, inv = (np.asarray(auc[k], float) for k in ("positive", "random", "inverse"))
    verdict = per_seed((pos > rnd) & (rnd > inv))
    return make_claim(CLAIMS, CHAPTER, "fig2a-random-between",
                      "area under the accuracy curve: positive - inverse (random between them in "
                      "details)", pos - inv, verdict, profile=profile, details=auc,
                      numbers={"verdict_between": verdict,
                               **{f"auc_{k}": spread(v)[0] for k, v in auc.items()}})


def higher_layers_critical(auc_targeted, auc_natural, *, profile: str | None = None,
                           layers: list | None = None) -> Claim:
    """Fig. 2b from per-seed areas under the curves of ablating one layer ``(seeds, layers)``,
    most important first (targeted) and least important first (natural).

    Rule: per seed, the targeted area falls strictly from each hidden layer to the next
    (targeted forgetting of a higher layer destroys more of the task).
    """
    inv, pos = np.asarray(auc_targeted, float), np.asarray(auc_natural, float)
    verdict = per_seed(np.all(np.diff(inv, axis=1) < 0, axis=1))
    gap = pos - inv
    numbers = {"verdict_2b": verdict,
               "gap_grows": "grows" if np.all(np.diff(gap.mean(0)) > 0) else "does not grow"}
    for i in range(inv.shape[1]):
        numbers |= {f"auc_inv_{i}": inv[:, i].mean(), f"auc_pos_{i}": pos[:, i].mean(),
                    f"gap_{i}": gap[:, i].mean()}
    return make_claim(CLAIMS, CHAPTER, "fig2b-higher-layers-critical",
                      "area under the targeted-forgetting curve, first hidden layer minus last "
                      "(positive: the last layer is more critical); per layer in details",
                      inv[:, 0] - inv[:, -1], verdict, profile=profile, numbers=numbers,
                      details={"auc_targeted": inv, "auc_natural": pos, "layers": layers})


def top_channels_collapse(drops: dict, *, profile: str | None = None,
                          details: dict | None = None) -> Claim:
    """Fig. 2c from the accuracy lost after removing the top-k channels,
    ``{k: {"forgetting": (seeds,), "plain": (seeds,)}}`` (forgetting ranked by Ω, plain by mean
    activation).

    Rule: per seed, the forgetting CNN loses more than the plain CNN for every k.
    """
    ks = sorted(drops)
    holds = np.all([np.asarray(drops[k]["forgetting"]) > np.asarray(drops[k]["plain"]) for k in ks], axis=0)
    verdict = per_seed(holds)
    numbers = {"verdict_2c": verdict}
    for k in ks:
        for net in ("forgetting", "plain"):
            numbers[f"drop_{net}_{k}"], numbers[f"drop_{net}_{k}_std"] = spread(100 * np.asarray(drops[k][net]))
    K = ks[-1]
    return make_claim(CLAIMS, CHAPTER, "fig2c-top-channels-collapse",
                      f"test accuracy lost after removing the top-{K} channels: forgetting (by Ω) "
                      "minus plain (by mean activation); top-1 in details",
                      np.asarray(drops[K]["forgetting"]) - np.asarray(drops[K]["plain"]), verdict,
                      profile=profile, numbers=numbers,
                      details={**{f"drop_top{k}": drops[k] for k in ks}, **(details or {})})


def common_scale(values) -> np.ndarray:
    """One layer's importance divided by the layer's maximum: the plain network's measure is
    already on this scale (mean activation / layer max), Ω is put on it too, so "near the
    ends" means the same for both (0 and the layer's extreme value)."""
    x = np.asarray(values, float)
    return x / x.max() if x.max() > 0 else x


def is_bimodal(values) -> bool:
    """Sarle's b above the uniform's 5/9, at least :data:`MIN_END_SHARE` near each end and more
    than :data:`MIN_ENDS_SHARE` near the two together, on :func:`common_scale`."""
    x = common_scale(values)
    low, high = end_shares(x, margin=END_MARGIN)
    return bool(bimodality_coefficient(x) > UNIFORM_BIMODALITY and min(low, high) >= MIN_END_SHARE
                and low + high > MIN_ENDS_SHARE)


def importance_bimodal(importance: dict, *, profile: str | None = None) -> Claim:
    """Fig. 2d from importance ``{variant: [{layer: (N,)} per seed]}`` (``ERS``, ``ERS + IRS``,
    and ``plain`` for comparison).

    Rule: per seed, :func:`is_bimodal` holds in every hidden layer of both forgetting
    variants. Ends and shares are judged on one scale for Ω and the plain network's measure
    (:func:`common_scale`): fixed ends at 0 and 1 would judge Ω (in (0, 1)) and the plain
    measure (rescaled to its maximum) differently.
    """
    forgetting = ("ERS", "ERS + IRS")
    holds = [all(is_bimodal(x) for v in forgetting for x in importance[v][s].values())
             for s in range(len(importance["ERS + IRS"]))]
    verdict = per_seed(holds)
    b = [np.mean([bimodality_coefficient(x) for x in seed.values()]) for seed in importance["ERS + IRS"]]
    numbers = {"verdict_bimodal": verdict}
    for v, key in (("plain", "plain"), ("ERS", "ers"), ("ERS + IRS", "full")):
        for i, layer in enumerate(importance[v][0]):
            xs = [common_scale(seed[layer]) for seed in importance[v]]
            shares = np.array([end_shares(x, margin=END_MARGIN) for x in xs])
            numbers[f"{key}_low_{i}"], numbers[f"{key}_high_{i}"] = shares.mean(0)
            numbers[f"{key}_bimodality_{i}"] = np.mean([bimodality_coefficient(x) for x in xs])
    return make_claim(CLAIMS, CHAPTER, "fig2d-importance-bimodal",
                      "Sarle's bimodality coefficient of Ω (ERS + IRS), mean over hidden layers; "
                      "criterion also needs >= 5 % within 0.1 of each end and > 50 % at the ends "
                      "together (importance / layer max), both variants", b, verdict,
                      profile=profile, numbers=numbers, details={"bimodal_per_seed": holds})


def irs_polarises(omega_ers: list, omega_full: list, *, profile: str | None = None) -> Claim:
    """Fig. 2d: IRS "further promotes the distribution polarisation", from Ω per seed
    ``[{layer: (N,)}]`` of ERS alone and of ERS + IRS.

    Rule: per seed, the polarisation 2·E|Ω − ½| of ERS + IRS exceeds that of ERS in every
    hidden layer (both on Ω's own scale, (0, 1), so no rescaling is needed).
    """
    pol = np.array([[polarisation(full[l]) - polarisation(ers[l]) for l in full]
                    for ers, full in zip(omega_ers, omega_full)])
    verdict = per_seed(np.all(pol > 0, axis=1))
    numbers = {"verdict_polar": verdict}
    for key, omega in (("ers", omega_ers), ("full", omega_full)):
        for i, layer in enumerate(omega[0]):
            numbers[f"{key}_polarisation_{i}"] = np.mean([polarisation(seed[layer]) for seed in omega])
    return make_claim(CLAIMS, CHAPTER, "fig2d-irs-polarises",
                      "polarisation 2·E|Ω - 1/2|, ERS + IRS minus ERS, mean over hidden layers",
                      pol.mean(axis=1), verdict, profile=profile, numbers=numbers,
                      details={"difference_per_layer": pol})


def ks_uniform(values) -> tuple[float, float]:
    """The Kolmogorov-Smirnov distance of ``values`` from U(0, 1) and its exact two-sided p-value."""
    from scipy.stats import kstwo

    x = np.sort(np.asarray(values, float))
    n = x.size
    i = np.arange(1, n + 1)
    d = float(max((i / n - x).max(), (x - (i - 1) / n).max()))
    return d, float(kstwo.sf(d, n))


def uniform_p(values) -> float:
    """The p-value of the two-sided Kolmogorov-Smirnov test against U(0, 1) of one layer's
    importance relative to its maximum, leaving that maximum (1 by construction) out: the
    other values of a uniform sample divided by its maximum are again exactly uniform, so the
    test keeps its level."""
    x = np.asarray(values, float)
    return ks_uniform(np.delete(x, np.argmax(x)))[1]


def plain_near_uniform(importance: list, *, alpha: float = ALPHA,
                       profile: str | None = None) -> Claim:
    """Fig. 2d: "the near-uniform distribution of the standard model", from the plain
    network's importance per seed ``[{layer: (N,)}]`` (mean activation / layer max).

    Rule: a Kolmogorov-Smirnov test of uniformity on [0, 1] in every layer of every seed, at
    level ``alpha`` with a Bonferroni correction over the layers × seeds tested (each test at
    ``alpha / (layers · seeds)``). Reproduced when no test rejects, partly when some do, not
    reproduced when all do. So a truly uniform importance is rated reproduced with
    probability (1 − ``alpha``/m)^m >= 1 − ``alpha`` for m tests, whatever the number of
    layers and seeds (:func:`uniform_p` keeps each test exact). (The book's first
    rule, KS distance <= 0.1 in every layer and seed, rated an exactly uniform sample of 128
    neurons reproduced only ~61 % of the time over 3 seeds.)
    """
    p = np.array([[uniform_p(x) for x in seed.values()] for seed in importance])
    level = alpha / p.size
    passes = p >= level
    verdict = ("reproduced" if passes.all() else "partly" if passes.any() else "not reproduced")
    ks = np.array([[ks_uniform(x)[0] for x in seed.values()] for seed in importance])
    numbers = {"verdict_uniform": verdict, "uniform_level": level, "uniform_pmin": p.min(),
               "uniform_passed": int(passes.sum()), "uniform_tests": int(p.size)}
    for i in range(ks.shape[1]):
        numbers[f"plain_ks_uniform_{i}"] = ks[:, i].mean()
    return make_claim(CLAIMS, CHAPTER, "fig2d-plain-near-uniform",
                      "Kolmogorov-Smirnov distance of the plain network's importance (mean "
                      "activation / layer max) from U(0, 1), mean over hidden layers; near uniform: "
                      "no KS test rejects at 5 % (Bonferroni over layers × seeds)", ks.mean(axis=1),
                      verdict, profile=profile, numbers=numbers,
                      details={"ks_per_layer": ks, "p_per_layer": p, "level": level})



# --- the numbers and tables the chapter shows beside Fig. 2a and 2c ------------------------------

def other_lambdas_table(other: dict, summarise) -> "pandas.DataFrame":
    """Fig. 2a at every other λ of the grid (seed 0): accuracy, Ω's range, ρ(Ω, activation) and
    the ablation numbers; ``summarise`` is ``neuron_importance.ablation_summary``."""
    import pandas as pd

    rows = []
    for lam, r in other.items():
        sm = summarise(r)
        rows.append({"λ": lam, "test accuracy (%)": 100 * r["test_acc"],
                     "Ω range": f"{r['omega_range'][0]:.3f} to {r['omega_range'][1]:.3f}",
                     "ρ(Ω, activation)": np.mean(list(r["spearman_activation"].values())),
                     "points lost, 80 % positive": 100 * sm["drop_at_80"],
                     "accuracy, 5 % inverse": 100 * sm["inverse_at_5"],
                     **{f"AUC {o}": sm["auc"][o] for o in ("positive", "random", "inverse")}})
    return pd.DataFrame(rows)


def overall(r: dict, ranking: tuple[str, str], k: int) -> float:
    """Test accuracy over all classes (the mean of the per-class accuracies: the test set is
    balanced) after removing the top-``k`` channels by ``ranking``, a ``(network, measure)``
    pair such as ``("forgetting", "omega")`` (k = 0: intact)."""
    return float(np.mean(r["per_class"][ranking][k]))


def channel_measures(per_seed: dict, top_k) -> tuple[dict, dict]:
    """Fig. 2c: per-seed accuracy drops after removing the top-k channels ``{k: {"forgetting"
    (by Ω), "plain" (by mean activation): (seeds,)}}``, and the numbers the prose glues: classes
    left below 20 % at the largest k, the drops of the controls (the forgetting CNN ranked by
    activation, random channels) and the intact accuracies."""
    runs, K = [per_seed[s] for s in sorted(per_seed)], max(top_k)
    drop = lambda ranking, k: np.array([overall(r, ranking, 0) - overall(r, ranking, k) for r in runs])  # noqa: E731
    drops = {k: {"forgetting": drop(("forgetting", "omega"), k), "plain": drop(("plain", "activation"), k)}
             for k in top_k}
    failed = {net: [int(np.sum(r["per_class"][ranking][K] < 0.2)) for r in runs]
              for net, ranking in (("forgetting", ("forgetting", "omega")), ("plain", ("plain", "activation")))}
    numbers = {"failed": np.mean(failed["forgetting"]), "failed_plain": np.mean(failed["plain"]), "K": K,
               **{f"drop_ctrl_{k}": 100 * drop(("forgetting", "activation"), k).mean() for k in top_k},
               **{f"drop_rand_f_{k}": 100 * np.mean([overall(r, ("forgetting", "omega"), 0) - r["random"]["forgetting"][k].mean()
                                                      for r in runs]) for k in top_k},
               **{f"cnn_acc_{n}": 100 * np.mean([r["test_acc"][n] for r in runs]) for n in ("forgetting", "plain")}}
    return drops, numbers | {"classes_below_20pct": failed}


def table_2c(per_seed: dict, top_k, labels: dict) -> "pandas.DataFrame":
    """Test accuracy (%) over all classes per network and ranking (rows named by ``labels``):
    intact, top-k removed, k random removed; mean and std over seeds."""
    import pandas as pd

    table = pd.DataFrame([{"network, ranking": labels[ranking], "intact": 100 * overall(r, ranking, 0),
                           **{f"top-{k} removed": 100 * overall(r, ranking, k) for k in top_k},
                           **{f"{k} random removed": 100 * r["random"][ranking[0]][k].mean()
                              for k in top_k}}
                          for r in per_seed.values() for ranking in r["per_class"]])
    return table.groupby("network, ranking", sort=False).agg(["mean", "std"])
