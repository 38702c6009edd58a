"""The verdicts: each claim of the paper that a chapter measures, judged by a short, tested rule.

One module per chapter, named like the chapter's experiment and plotting modules. A verdict
function takes measured numbers (plain per-seed arrays or dicts, never training runs) and
returns the :class:`~afm.lab.claims.Claim`; its thresholds are named module constants and its
docstring states the rule and why. Every rule was fixed before the results it judges were
looked at. ``numbers`` of a claim are what the chapter's prose glues
(:func:`afm.lab.book.glue_claims`). :mod:`afm.verdicts.base_networks` says whether a base
network is trained well enough to judge (claims on it are then marked provisional).

Verdict vocabulary (see :func:`per_seed` and :func:`paired`):

* a claim judged *per seed* is ``reproduced`` when it holds in every seed, ``partly`` when in
  some, ``not reproduced`` when in none;
* a claim that one quantity is higher than another, where the differences are small against
  the seed-to-seed noise, is judged on the *paired* per-seed differences with a one-sided
  test (:func:`paired`).
"""

from __future__ import annotations

import numpy as np

from afm.lab.claims import Claim, verdict_from
from afm.lab.runs import spread

#: The significance level of every test a verdict makes (one-sided where the claim has a sign).
ALPHA = 0.05


def per_seed(holds) -> str:
    """``reproduced`` if ``holds`` (one bool per seed) is true in every seed, ``partly`` if in
    some, else ``not reproduced``.

    Example:
        >>> per_seed([True, True]), per_seed([True, False]), per_seed([False])
        ('reproduced', 'partly', 'not reproduced')
    """
    holds = np.asarray(holds, dtype=bool).ravel()
    if holds.size == 0:
        raise ValueError("per_seed needs one truth value per seed, got none")
    return verdict_from(bool(holds.all()), bool(holds.any()))


def paired(differences, alpha: float = ALPHA) -> tuple[str, float]:
    """Verdict on "A is higher than B" from the per-seed paired differences ``A - B``.

    ``reproduced`` when the mean difference is positive and a one-sided paired t-test
    (H0: mean difference <= 0) rejects at ``alpha``; ``partly`` when the mean is positive but
    the test does not reject (or there is a single seed, where no test is possible);
    ``not reproduced`` when the mean is not positive. Under H0 (no true difference) the rule
    says ``reproduced`` in at most ``alpha`` of repetitions. Returns ``(verdict, p)``; ``p`` is
    NaN with one seed.

    Example:
        >>> paired([1.0, 1.2, 0.9, 1.1])[0], paired([0.2])[0], paired([-0.1, -0.3])[0]
        ('reproduced', 'partly', 'not reproduced')
    """
    from scipy import stats

    d = np.asarray(differences, dtype=float).ravel()
    if d.size == 0:
        raise ValueError("paired needs one difference per seed, got none")
    if d.size < 2 or np.all(d == d[0]):
        p = float("nan") if d.size < 2 else (0.0 if d[0] > 0 else 1.0)
    else:
        p = float(stats.ttest_1samp(d, 0.0, alternative="greater").pvalue)
    if d.mean() <= 0:
        return "not reproduced", p
    return ("reproduced" if p < alpha else "partly"), p


def plain(x):
    """``x`` with NumPy arrays and scalars turned into lists and Python numbers (for JSON)."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def statements(stem: str) -> tuple[str, dict[str, tuple[str, str, str]]]:
    """The chapter ``stem``'s claims as the paper states them, from ``claims.toml`` (one table
    of every claim the book judges): ``(chapter, {id: (figure, section anchor, statement)})``.

    Example:
        >>> chapter, claims = statements("forgetting_layer")
        >>> chapter, claims["fig1c-lateral-inhibition"][0]
        ('01_forgetting_layer', '1c')
    """
    import tomllib
    from pathlib import Path

    table = tomllib.loads((Path(__file__).with_name("claims.toml")).read_text(encoding="utf-8"))
    if stem not in table:
        raise KeyError(f"no chapter {stem!r} in claims.toml; chapters: {sorted(table)}")
    rows = dict(table[stem])
    chapter = rows.pop("chapter")
    return chapter, {cid: (r["figure"], r["section"], r["statement"]) for cid, r in rows.items()}


def make_claim(claims: dict, chapter: str, claim_id: str, measured: str, values, verdict: str,
               *, profile: str | None = None, details: dict | None = None,
               numbers: dict | None = None) -> Claim:
    """The :class:`Claim` ``claim_id`` of a verdict module whose ``CLAIMS`` maps each id to
    ``(figure, section anchor, statement)``: ``value``/``spread``/``n_seeds`` from the per-seed
    ``values``; ``profile`` defaults to ``AFM_PROFILE``."""
    from afm.lab.profiles import current_profile

    figure, anchor, statement = claims[claim_id]
    mean, std = spread(values)
    return Claim(id=claim_id, figure=figure, chapter=chapter, statement=statement,
                 measured=measured, value=mean, spread=std, n_seeds=int(np.size(values)),
                 profile=profile or current_profile(), verdict=verdict,
                 section=f"book/{chapter}.html#{anchor}", details=plain(details or {}),
                 numbers=plain(numbers or {}))


def expected_claims() -> dict[str, tuple[str, str]]:
    """Every claim the chapters measure, ``id -> (figure, chapter)``, in the book's reading
    order, collected from the verdict modules' ``CLAIMS``. The report lists each one and shows
    a claim whose record is missing as "missing"."""
    from afm.verdicts import (balance, efficient_learning, forgetting_layer, long_memory,
                              neuron_importance, sparse_coding)

    out = {}
    for module in (forgetting_layer, sparse_coding, neuron_importance, efficient_learning,
                   balance, long_memory):
        out.update({cid: (spec[0], module.CHAPTER) for cid, spec in module.CLAIMS.items()})
    return out
