"""The shared results files: one JSON record per claim of the paper that a chapter measures.

Every chapter calls :func:`record_claim` for each claim it tests; the
reproduction report reads them all back with :func:`load_claims`. A record
says what the paper states, what we measured (a number with its spread over
seeds), in which profile, and the verdict.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from afm.lab.paths import cache_dir

VERDICTS = ("reproduced", "partly", "not reproduced")


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
        numbers: the named numbers the chapter's prose glues (see
            :func:`afm.lab.book.glue_claims`), verdicts included.

    Raises:
        ValueError: for an unknown verdict or a malformed ``id``.

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
    numbers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.id):
            raise ValueError(f"claim id must be lower-case letters, digits, '.', '_', '-': {self.id!r}")


#: The claims recorded in this process, in order: a chapter prints the ones it measured at its end.
RECORDED: list[Claim] = []


def claims_dir(profile: str) -> Path:
    path = cache_dir() / "claims" / profile
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(claim), f, indent=1, sort_keys=True, default=float)
    os.replace(tmp, path)
    return path


def load_claims(profile: str) -> list[Claim]:
    """Every claim recorded in ``profile``, sorted by figure then id."""
    claims = [Claim(**json.loads(p.read_text())) for p in claims_dir(profile).glob("*.json")]
    return sorted(claims, key=lambda c: (c.figure, c.id))


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
    measured (value ± spread over n seeds), the profile, the verdict, and a link to the section."""
    import pandas as pd

    from afm.lab.book import toc_chapters

    from afm.verdicts import expected_claims

    expected = expected_claims()
    recorded = {c.id: c for c in load_claims(profile)}
    in_book = {p.stem for p in toc_chapters()}
    rows = []
    for claim_id in list(expected) + sorted(set(recorded) - set(expected)):
        c = recorded.get(claim_id)
        if c is None:
            figure, chapter = expected[claim_id]
            rows.append({"id": claim_id, "figure": figure, "statement": "", "measured": "",
                         "value": float("nan"), "spread": float("nan"), "n_seeds": 0,
                         "profile": profile, "verdict": "missing",
                         "section": f"book/{chapter}.html" if chapter in in_book else ""})
        else:
            rows.append({k: getattr(c, k) for k in ("id", "figure", "statement", "measured", "value",
                                                    "spread", "n_seeds", "profile", "verdict",
                                                    "section")})
    return pd.DataFrame(rows)
