"""The shared results files: one JSON record per claim of the paper that a chapter measures.

Every chapter calls :func:`record_claim` for each claim it tests; the
reproduction report reads them all back with :func:`load_claims`. A record
says what the paper states, what we measured (a number with its spread over
seeds), in which profile, and the verdict: the headline, under the book's default reading
of the paper, and beside it one row per pre-registered reading
(:mod:`afm.lab.readings`) that the claim was also measured under.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from afm.lab.paths import atomic_write, cache_dir

VERDICTS = ("reproduced", "partly", "not reproduced")
#: The keys of one row of a claim's per-reading table.
READING_KEYS = ("reading", "value", "spread", "n_seeds", "verdict")


@dataclass(frozen=True)
class Claim:
    """One measured claim. ``value``/``spread`` are the headline number and its std over seeds.

    Args:
        id: a unique name: lower-case letters, digits, ``.``, ``_`` and ``-``.
        figure: the paper's figure, e.g. ``"1e"``.
        chapter: the chapter's file name without suffix, e.g. ``"02_sparse_coding"``.
        statement: what the paper states.
        measured: what we measured, in words.
        value: the headline number (mean over seeds).
        spread: its standard deviation over seeds.
        n_seeds: the number of seeds.
        profile: the profile it was measured in (``smoke``, ``book`` or ``paper``).
        verdict: ``"reproduced"``, ``"partly"`` or ``"not reproduced"``.
        section: a link to the section of the book that measures it.
        details: further JSON-serialisable numbers, e.g. per seed.
        readings: the per-reading table, one dict per reading with ``reading`` (its settings),
            ``value``, ``spread``, ``n_seeds`` and ``verdict`` (see ``headline_and_readings``);
            empty where the claim was measured under the default reading only.
        numbers: the named numbers the chapter's prose glues (see
            ``afm.lab.book.glue_claims``), verdicts included.

    Raises:
        ValueError: for an unknown verdict, a malformed ``id`` or a malformed row of ``readings``.

    Example:
        >>> from dataclasses import replace
        >>> claim = Claim("fig1e-demo", "1e", "02_sparse_coding", "ERS raises sparsity",
        ...               "sparsity of layer 1", 0.81, 0.02, 3, "smoke", "reproduced")
        >>> claim.verdict, claim.details
        ('reproduced', {})
        >>> replace(claim, verdict="maybe")
        Traceback (most recent call last):
            ...
        ValueError: verdict must be one of ('reproduced', 'partly', 'not reproduced'), got 'maybe'
    """

    id: str
    figure: str
    chapter: str
    statement: str
    measured: str
    value: float
    spread: float
    n_seeds: int
    profile: str
    verdict: str
    section: str = ""
    details: dict = field(default_factory=dict)
    readings: list = field(default_factory=list)
    numbers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.id):
            raise ValueError(f"claim id must be lower-case letters, digits, '.', '_', '-': {self.id!r}")
        for row in self.readings:
            _check_reading_row(row, self.id)


def _check_reading_row(row, claim_id: str) -> None:
    if not isinstance(row, Mapping) or set(row) != set(READING_KEYS):
        raise ValueError(f"each reading of {claim_id} must be a dict with keys {READING_KEYS}, "
                         f"got {row!r}")
    if not isinstance(row["reading"], Mapping):
        raise ValueError(f"'reading' of {claim_id} must be a dict of settings, got {row['reading']!r}")
    if row["verdict"] not in VERDICTS:
        raise ValueError(f"verdict of reading {row['reading']} of {claim_id} must be one of "
                         f"{VERDICTS}, got {row['verdict']!r}")
    if not isinstance(row["n_seeds"], int) or row["n_seeds"] < 1:
        raise ValueError(f"n_seeds of reading {row['reading']} of {claim_id} must be an int >= 1, "
                         f"got {row['n_seeds']!r}")


#: The claims recorded in this process, in order: a chapter prints the ones it measured at its end.
RECORDED: list[Claim] = []


def claims_dir(profile: str, create: bool = True) -> Path:
    """``<cache>/claims/<profile>``; ``create=False`` for code that only reads."""
    path = cache_dir(create) / "claims" / profile
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def record_claim(claim: Claim) -> Path:
    """Write ``claim`` atomically to ``<cache>/claims/<profile>/<id>.json``; returns the path.

    ``<cache>`` is ``AFM_CACHE_DIR`` (default ``~/.cache/afm``); a claim recorded again
    replaces the earlier record.

    Args:
        claim: the measured claim.

    Returns:
        The path of the JSON record.

    Example:
        >>> import os, tempfile
        >>> from unittest import mock
        >>> claim = Claim("fig1e-demo", "1e", "02_sparse_coding", "ERS raises sparsity",
        ...               "sparsity of layer 1", 0.81, 0.02, 3, "smoke", "reproduced")
        >>> with mock.patch.dict(os.environ, AFM_CACHE_DIR=tempfile.mkdtemp()):
        ...     path = record_claim(claim)
        ...     loaded = load_claims("smoke")
        >>> path.parts[-3:], loaded == [claim]
        (('claims', 'smoke', 'fig1e-demo.json'), True)
    """
    RECORDED.append(claim)
    path = claims_dir(claim.profile) / f"{claim.id}.json"
    return atomic_write(path, json.dumps(asdict(claim), indent=1, sort_keys=True, default=float))


def load_claims(profile: str) -> list[Claim]:
    """Every claim recorded in ``profile``, sorted by figure then id."""
    claims = [Claim(**json.loads(p.read_text()))
              for p in claims_dir(profile, create=False).glob("*.json")]
    return sorted(claims, key=lambda c: (c.figure, c.id))


def record_readings(claims: Sequence[Claim]) -> list[Path]:
    """Write the per-reading table of each claim to ``<cache>/claims/<profile>/readings/<id>.json``.

    The chapter that measures a claim records its headline (:func:`record_claim`); the chapter
    that measures it under every reading (the chapter "The claims under their readings")
    records the table here, apart, so that neither overwrites the other whatever order the
    chapters run in. :func:`claims_table` joins them.

    Raises:
        ValueError: for a claim without a per-reading table.
    """
    paths = []
    for claim in claims:
        if not claim.readings:
            raise ValueError(f"{claim.id} has no per-reading table to record: record its headline "
                             f"with record_claim")
        path = claims_dir(claim.profile) / "readings" / f"{claim.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        paths.append(atomic_write(path, json.dumps(asdict(claim), indent=1, sort_keys=True,
                                                   default=float)))
    return paths


def load_readings(profile: str) -> dict[str, list[dict]]:
    """``{claim id: per-reading table}`` of every table :func:`record_readings` wrote in ``profile``."""
    folder = claims_dir(profile, create=False) / "readings"
    claims = [Claim(**json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]
    return {c.id: c.readings for c in claims}


def reading_row(reading: Mapping, values: Sequence[float], verdict: str) -> dict:
    """One row of a claim's per-reading table: the mean of the per-seed ``values``, their std
    (``ddof=1``; 0 for one seed), the number of seeds and the verdict under ``reading``.

    Example:
        >>> reading_row({"shortcut": False}, [0.0, 0.2], "partly")
        {'reading': {'shortcut': False}, 'value': 0.1, 'spread': 0.1414..., 'n_seeds': 2, 'verdict': 'partly'}
    """
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"reading {dict(reading)} has no per-seed values")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    return {"reading": dict(reading), "value": float(arr.mean()),
            "spread": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "n_seeds": int(arr.size), "verdict": verdict}


def headline_and_readings(measured: Sequence[tuple[Mapping, Sequence[float], str]]
                          ) -> tuple[dict, list[dict]]:
    """The headline under the book's default reading, and the per-reading table, for a :class:`Claim`.

    Args:
        measured: ``(reading, per-seed values, verdict)`` for each reading the claim was measured
            under (e.g. in the order of :func:`afm.lab.readings.claim_readings`); exactly one of
            them must be the default reading (:func:`afm.lab.readings.is_default`).

    Returns:
        ``(headline, readings)``: ``headline`` has ``value``, ``spread``, ``n_seeds`` and ``verdict``
        of the default reading, to pass as ``Claim(..., **headline, readings=readings)``;
        ``readings`` has one :func:`reading_row` per reading, in the given order.

    Raises:
        ValueError: if no reading, or more than one, is the default.

    Example:
        >>> headline, rows = headline_and_readings([
        ...     ({"shortcut": True}, [75.0, 70.0], "not reproduced"),
        ...     ({"shortcut": False}, [0.0, 0.0], "reproduced")])
        >>> headline["verdict"], headline["value"], [r["verdict"] for r in rows]
        ('not reproduced', 72.5, ['not reproduced', 'reproduced'])
    """
    from afm.lab.readings import is_default

    rows = [reading_row(r, v, verdict) for r, v, verdict in measured]
    defaults = [row for row in rows if is_default(row["reading"])]
    if len(defaults) != 1:
        raise ValueError(f"exactly one reading must be the book's default, got {len(defaults)} "
                         f"among {[row['reading'] for row in rows]}")
    headline = {k: defaults[0][k] for k in ("value", "spread", "n_seeds", "verdict")}
    return headline, rows


def with_readings(by_reading: Sequence[tuple[Mapping, Claim]]) -> Claim:
    """One claim measured under several readings → the default reading's claim, with the
    per-reading table (each reading's ``value``, ``spread``, ``n_seeds`` and ``verdict``).

    Args:
        by_reading: ``(reading, claim)`` pairs of the same claim id, e.g. a verdict function
            called once per reading of :func:`afm.lab.readings.claim_readings`; exactly one
            reading is the default.

    Example:
        >>> claim = Claim("fig2a-demo", "2a", "03_neuron_importance", "s", "m", 0.75, 0.0, 1,
        ...               "smoke", "not reproduced")
        >>> merged = with_readings([({"shortcut": True}, claim),
        ...                         ({"shortcut": False}, replace(claim, value=0.0, verdict="reproduced"))])
        >>> merged.verdict, [(r["reading"], r["verdict"]) for r in merged.readings]
        ('not reproduced', [({'shortcut': True}, 'not reproduced'), ({'shortcut': False}, 'reproduced')])
    """
    from afm.lab.readings import is_default

    ids = {c.id for _, c in by_reading}
    if len(ids) != 1:
        raise ValueError(f"with_readings needs readings of one claim, got ids {sorted(ids)}")
    defaults = [c for r, c in by_reading if is_default(r)]
    if len(defaults) != 1:
        raise ValueError(f"exactly one reading must be the book's default, got {len(defaults)} "
                         f"among {[dict(r) for r, _ in by_reading]}")
    rows = [{"reading": dict(r), "value": c.value, "spread": c.spread, "n_seeds": c.n_seeds,
             "verdict": c.verdict} for r, c in by_reading]
    return replace(defaults[0], readings=rows)


def claim_summary(claim: Claim) -> dict:
    """The object a results file holds for ``claim``: ``id``, ``statement``, ``value``,
    ``spread``, ``n_seeds``, ``verdict`` (under the default reading) and ``readings``."""
    return {"id": claim.id, "statement": claim.statement, "value": claim.value,
            "spread": claim.spread, "n_seeds": claim.n_seeds, "verdict": claim.verdict,
            "readings": claim.readings}


def figure_claims(figure_id: str, profile: str) -> list[dict]:
    """:func:`claim_summary` of every claim of ``figure_id`` recorded in ``profile``.

    Example:
        >>> import os, tempfile
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, AFM_CACHE_DIR=tempfile.mkdtemp()):
        ...     figure_claims("2a", "smoke")  # nothing recorded yet
        []
    """
    return [claim_summary(c) for c in load_claims(profile) if c.figure == figure_id]


def verdict_from(holds_all: bool, holds_some: bool) -> str:
    """``reproduced`` if the claim holds in every seed, ``partly`` if in some, else not."""
    return "reproduced" if holds_all else ("partly" if holds_some else "not reproduced")


def record_claims(claims) -> list[Path]:
    """:func:`record_claim` for each claim of ``claims`` (a Claim or an iterable of them)."""
    return [record_claim(c) for c in ([claims] if isinstance(claims, Claim) else claims)]


def __getattr__(name: str):
    # EXPECTED_CLAIMS is collected from the verdict modules (afm.verdicts), which import this
    # module: built on first use, so neither import needs the other at import time.
    if name == "EXPECTED_CLAIMS":
        from afm.verdicts import expected_claims

        return expected_claims()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def claims_table(profile: str) -> "pandas.DataFrame":
    """One row per expected claim (plus any other recorded one): what the paper says, what we
    measured (value ± spread over n seeds), the profile, the verdict, a link to the section, and
    the per-reading table (``readings``: the record's own, else the one :func:`record_readings`
    wrote; empty where only the default reading was measured)."""
    import pandas as pd

    from afm.lab.book import toc_chapters

    from afm.verdicts import expected_claims

    expected = expected_claims()
    recorded = {c.id: c for c in load_claims(profile)}
    tables = load_readings(profile)
    in_book = {p.stem for p in toc_chapters()}
    rows = []
    for claim_id in list(expected) + sorted(set(recorded) - set(expected)):
        c = recorded.get(claim_id)
        if c is None:
            figure, chapter = expected[claim_id]
            rows.append({"id": claim_id, "figure": figure, "statement": "", "measured": "",
                         "value": float("nan"), "spread": float("nan"), "n_seeds": 0,
                         "profile": profile, "verdict": "missing",
                         "section": f"book/{chapter}.html" if chapter in in_book else "",
                         "readings": []})
        else:
            rows.append({**{k: getattr(c, k) for k in ("id", "figure", "statement", "measured",
                                                       "value", "spread", "n_seeds", "profile",
                                                       "verdict", "section")},
                         "readings": c.readings or tables.get(claim_id, [])})
    return pd.DataFrame(rows)
