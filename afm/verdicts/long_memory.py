"""Verdicts of chapter 5, long-sequence memory: Fig. 5b (EWC with forgetting layers over a
sequence of tasks) and 5c (the polarisation of parameter importance)."""

from __future__ import annotations

import numpy as np

from afm.lab.claims import Claim
from afm.lab.runs import spread
from afm.verdicts import make_claim, paired, per_seed, statements

CHAPTER, CLAIMS = statements("long_memory")  # id -> (figure, section anchor, what the paper states)
#: Fig. 5b: "almost on par with joint training": within this many points of joint's mean accuracy.
ON_PAR = 1.0


def _ewcf_claim(claim_id: str, what: str, f, e, key: str, profile, details: dict) -> Claim:
    """Fig. 5b's paired rule on the per-seed differences ewc_f − ewc; numbers glued as
    ``verdict_<key>``, ``<key>_gain``, ``<key>_gain_sd``, ``<key>_p``."""
    d = np.asarray(f, float) - np.asarray(e, float)
    verdict, p = paired(d)
    mean, sd = spread(d)
    return make_claim(CLAIMS, CHAPTER, claim_id, f"{what}, ewc_f − ewc (points); one-sided "
                      "paired t-test p in details", d, verdict, profile=profile,
                      numbers={f"verdict_{key}": verdict, f"{key}_gain": mean,
                               f"{key}_gain_sd": sd, f"{key}_p": p},
                      details={"ewc_f": f, "ewc": e, "p": p, **details})


def ewcf_first_task(first_f, first_e, *, profile: str | None = None) -> Claim:
    """Fig. 5b from per-seed test accuracies (%) on task 1 after the last task, ewc_f and ewc.

    Rule: :func:`afm.verdicts.paired` on the per-seed differences ewc_f − ewc (one-sided
    paired t-test at 5 %): a difference of a few points between two noisy sequences is
    judged against the seed-to-seed spread, not by "higher in every seed".
    """
    return _ewcf_claim("fig5b-ewcf-first-task", "test accuracy on task 1 after the last task",
                       first_f, first_e, "first", profile, {})


def ewcf_average(avg_f, avg_e, *, profile: str | None = None, details: dict | None = None) -> Claim:
    """Fig. 5b from per-seed mean test accuracies (%) over all tasks after the last, ewc_f and
    ewc.

    Rule: :func:`afm.verdicts.paired` on ewc_f − ewc, as :func:`ewcf_first_task`.
    """
    return _ewcf_claim("fig5b-ewcf-average", "mean test accuracy over the tasks after the last",
                       avg_f, avg_e, "avg", profile, details or {})


def ewcf_near_joint(avg_joint, avg_f, avg_e, *, profile: str | None = None) -> Claim:
    """Fig. 5b: "almost on par with joint training", from per-seed mean accuracies (%).

    Rule: joint − ewc_f is at most :data:`ON_PAR` point in every seed (reproduced); in some
    seed, or ewc_f is closer to joint than ewc in every seed (partly); otherwise not reproduced.
    """
    gap_f = np.asarray(avg_joint, float) - np.asarray(avg_f, float)
    gap_e = np.asarray(avg_joint, float) - np.asarray(avg_e, float)
    on_par, closer = gap_f <= ON_PAR, gap_f < gap_e
    verdict = ("reproduced" if on_par.all() else
               "partly" if on_par.any() or closer.all() else "not reproduced")
    return make_claim(CLAIMS, CHAPTER, "fig5b-ewcf-near-joint",
                      f"joint − ewc_f, mean test accuracy over the tasks (points); on par: <= {ON_PAR} "
                      "point", gap_f, verdict, profile=profile,
                      numbers={"verdict_joint": verdict, "gap_joint": spread(gap_f)[0],
                               "gap_joint_sd": spread(gap_f)[1], "gap_joint_ewc": spread(gap_e)[0],
                               "on_par": ON_PAR},
                      details={"gap_ewc_f": gap_f, "gap_ewc": gap_e, "joint": avg_joint})


def gap_widens(diffs, *, profile: str | None = None) -> Claim:
    """Fig. 5b from ``(seeds, tasks)`` differences (points) of mean accuracy, ewc_f − ewc, after
    learning task t = 1..T.

    Rule: per seed, the least-squares slope of the difference against t is positive.
    """
    d = np.asarray(diffs, float)
    t = np.arange(1, d.shape[1] + 1)
    slopes = np.array([np.polyfit(t, row, 1)[0] for row in d])
    verdict = per_seed(slopes > 0)
    return make_claim(CLAIMS, CHAPTER, "fig5b-gap-widens",
                      "least-squares slope of (mean accuracy ewc_f − ewc) against the number of "
                      "tasks (points per task)", slopes, verdict, profile=profile,
                      numbers={"verdict_gap": verdict, "slope": spread(slopes)[0],
                               "slope_sd": spread(slopes)[1],
                               "diff_2": spread(d[:, 1])[0] if d.shape[1] > 1 else float("nan"),
                               "diff_T": spread(d[:, -1])[0], "T": int(d.shape[1])},
                      details={"difference_by_task": d})


def polarisation(method: str, plain: dict, forgetting: dict, *,
                 profile: str | None = None) -> Claim:
    """Fig. 5c for one importance ``method`` (``ewc``, ``mas``, ``anpyc``), from per-seed range
    shares of the trunk weights' importance ``{"near_zero", "middle", "top", "gini": (seeds,)}``
    without (``plain``) and with forgetting layers.

    Rule: per seed, forgetting layers put more weights near zero *and* fewer in the middle
    range (the two sides of "polarised").
    """
    get = lambda d, k: np.asarray(d[k], float)  # noqa: E731
    holds = (get(forgetting, "near_zero") > get(plain, "near_zero")) & \
            (get(forgetting, "middle") < get(plain, "middle"))
    verdict = per_seed(holds)
    d_zero = 100 * (get(forgetting, "near_zero") - get(plain, "near_zero"))
    d_mid = 100 * (get(forgetting, "middle") - get(plain, "middle"))
    d_top = 100 * (get(forgetting, "top") - get(plain, "top"))
    numbers = {f"verdict_pol_{method}": verdict, f"dzero_{method}": spread(d_zero)[0],
               f"dzero_sd_{method}": spread(d_zero)[1], f"dmid_{method}": spread(d_mid)[0],
               f"dmid_sd_{method}": spread(d_mid)[1], f"dtop_{method}": spread(d_top)[0],
               f"gini_{method}": get(plain, "gini").mean(), f"gini_f_{method}": get(forgetting, "gini").mean()}
    return make_claim(CLAIMS, CHAPTER, f"fig5c-polarisation-{method}",
                      "share of trunk weights with Ω < 0.1 × mean, with − without forgetting layers "
                      "(points); middle share (0.1-10 × mean) in details", d_zero, verdict,
                      profile=profile, numbers=numbers,
                      details={"plain": plain, "forgetting": forgetting})


# --- the table the chapter shows beside Fig. 5b ---------------------------------------------------

def sequence_measures(per_seed: dict) -> dict:
    """Fig. 5b's per-seed numbers, ``{measure: {method: (seeds,)}}`` in %: ``first`` (task 1
    after the last task), ``average`` (mean over the tasks after the last), ``learned`` (each
    task right after learning it), ``bwt`` (backward transfer, points); and ``T``."""
    runs = [per_seed[s] for s in sorted(per_seed)]
    last = lambda key, m: 100 * np.array([r[key][m][-1] for r in runs])  # noqa: E731
    methods = runs[0]["methods"]
    return {"T": len(runs[0]["average"][methods[0]]),
            "first": {m: last("first_task", m) for m in methods},
            "average": {m: last("average", m) for m in methods},
            "learned": {m: 100 * np.array([r["learning"][m] for r in runs]) for m in methods},
            "bwt": {m: 100 * np.array([r["backward_transfer"][m] for r in runs]) for m in methods},
            "seconds": {m: np.mean([r["seconds"][m] for r in runs]) for m in methods}}


def table_5b(measures: dict, strengths: dict) -> tuple["pandas.DataFrame", dict]:
    """Per method, mean ± std over seeds of each :func:`sequence_measures` measure, and the
    numbers the prose glues (``first_<m>``, ``first_sd_<m>``, ``avg_<m>``, ``avg_sd_<m>``,
    ``learned_<m>``, ``bwt_<m>``); ``strengths`` maps a method to its chosen strength."""
    import pandas as pd

    pm = lambda a: "{:.2f} ± {:.2f}".format(*spread(a))  # noqa: E731
    T, rows, numbers = measures["T"], [], {}
    for m in measures["first"]:
        first, avg = measures["first"][m], measures["average"][m]
        learned, bwt = measures["learned"][m], measures["bwt"][m]
        rows.append({"method": m, "strength": f"{strengths[m]:g}" if m in strengths else "",
                     f"task 1 after {T} tasks (%)": pm(first), f"mean over {T} tasks (%)": pm(avg),
                     "each task right after learning it (%)": pm(learned),
                     "backward transfer (points)": "—" if m == "joint" else pm(bwt),
                     "training time, this run (s)": f"{measures['seconds'][m]:.0f}"})
        numbers |= {f"learned_{m}": spread(learned)[0], f"bwt_{m}": spread(bwt)[0],
                    f"first_{m}": spread(first)[0], f"first_sd_{m}": spread(first)[1],
                    f"avg_{m}": spread(avg)[0], f"avg_sd_{m}": spread(avg)[1]}
    return pd.DataFrame(rows), numbers
