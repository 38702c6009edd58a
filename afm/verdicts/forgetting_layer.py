"""Verdicts of chapter 1, the forgetting layer: Fig. 1b (the shortcut) and Fig. 1c (lateral
inhibition)."""

from __future__ import annotations

import numpy as np

from afm.lab.claims import Claim, verdict_from
from afm.lab.runs import spread
from afm.verdicts import make_claim, per_seed, statements

CHAPTER, CLAIMS = statements("forgetting_layer")  # id -> (figure, section anchor, what the paper states)

#: A neuron whose mean activation E[h] is at most this never fires: it is left out of Fig. 1c's
#: per-activity measures (it inhibits and receives nothing).
SILENT = 1e-8


def shortcut_gradients(ratio_start, ratio_end, *, profile: str | None = None) -> Claim:
    """Fig. 1b: median |dL/dh| with the shortcut over without it, one ratio per seed, at
    initialisation (``ratio_start``) and at the end of training (``ratio_end``).

    Rule: the ratio is above 1 in every seed at the start *and* at the end (reproduced), in
    one of the two phases (partly), in neither (not reproduced). Why both: the paper's
    Fig. 1b shows both phases of training.
    """
    start, end = np.asarray(ratio_start, float), np.asarray(ratio_end, float)
    holds_start, holds_end = bool((start > 1).all()), bool((end > 1).all())
    verdict = verdict_from(holds_start and holds_end, holds_start or holds_end)
    numbers = {"verdict_1b": verdict, "ratio_start": spread(start)[0], "ratio_start_std": spread(start)[1],
               "ratio_mean": spread(end)[0], "ratio_std": spread(end)[1]}
    return make_claim(CLAIMS, CHAPTER, "fig1b-shortcut-gradients",
                      "median |dL/dh| at the end of training, shortcut / no shortcut (first hidden "
                      "layer); at initialisation in details", end, verdict, profile=profile,
                      details={"ratio_start": start, "ratio_end": end}, numbers=numbers)


def per_activity_inhibition(m, mean_h) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From ``M_ij = E[h_i h_j (1-σ_i) σ_j]`` (N, N) and ``E[h]`` (N,): the inhibition each
    firing neuron exerts, ``Σ_i M_ij / E[h_j]``, and receives, ``Σ_j M_ij / E[h_i]``, both per
    unit of its own activity, and the mask of firing neurons."""
    m, mean_h = np.asarray(m, float), np.asarray(mean_h, float)
    m = m - np.diag(np.diag(m))
    active = mean_h > SILENT
    return m.sum(0)[active] / mean_h[active], m.sum(1)[active] / mean_h[active], active


def lateral_inhibition(omega, m, mean_h, *, profile: str | None = None) -> Claim:
    """Fig. 1c from per-seed lists of Ω (N,), ``M`` (N, N) and ``E[h]`` (N,) of one layer.

    Rule: in every seed, Spearman(Ω, inhibition exerted per unit of activity) > 0 *and*
    Spearman(Ω, inhibition received per unit of activity) < 0 (reproduced; some seeds:
    partly). Both sides are divided by the neuron's own mean activity: undivided, "exerted"
    mostly measures how active a neuron is, and dividing only one side (as this book once
    did) judges the two halves of the claim on different scales. Divided consistently, the
    test is close to a consequence of Eq. (8) by construction (the term in which j inhibits i
    carries σ_j and 1 - σ_i): it checks that learned switches differ enough between neurons
    for the built-in asymmetry to show. The undivided correlation is kept in ``numbers``.
    """
    from scipy.stats import spearmanr

    rho_ex, rho_re, rho_raw = [], [], []
    for o, mm, h in zip(omega, m, mean_h):
        exerted, received, active = per_activity_inhibition(mm, h)
        o = np.asarray(o, float)
        rho_ex.append(spearmanr(o[active], exerted).statistic)
        rho_re.append(spearmanr(o[active], received).statistic)
        rho_raw.append(spearmanr(o, np.asarray(mm, float).sum(0) - np.diag(mm)).statistic)
    rho_ex, rho_re = np.array(rho_ex), np.array(rho_re)
    verdict = per_seed((rho_ex > 0) & (rho_re < 0))
    omega_all = np.concatenate([np.asarray(o, float) for o in omega])
    numbers = {"verdict_1c": verdict, "rho_ex": spread(rho_ex)[0], "rho_ex_std": spread(rho_ex)[1],
               "rho_re": spread(rho_re)[0], "rho_re_std": spread(rho_re)[1],
               "rho_ex_raw": spread(rho_raw)[0], "omega_min": omega_all.min(),
               "omega_max": omega_all.max()}
    return make_claim(CLAIMS, CHAPTER, "fig1c-lateral-inhibition",
                      "Spearman(Ω, inhibition exerted / E[h]); Spearman(Ω, inhibition received / "
                      "E[h]) and the undivided exerted correlation in details", rho_ex, verdict,
                      profile=profile, numbers=numbers,
                      details={"spearman_received": rho_re, "spearman_exerted_undivided": rho_raw})
