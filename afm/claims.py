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

from .data import cache_dir

VERDICTS = ("reproduced", "partly", "not reproduced")


@dataclass(frozen=True)
class Claim:
    """One measured claim. ``value``/``spread`` are the headline number and its std over seeds."""

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

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.id):
            raise ValueError(f"claim id must be lower-case letters, digits, '.', '_', '-': {self.id!r}")


def claims_dir(profile: str) -> Path:
    path = cache_dir() / "claims" / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_claim(claim: Claim) -> Path:
    """Write ``claim`` atomically to ``<cache>/claims/<profile>/<id>.json``; returns the path."""
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
