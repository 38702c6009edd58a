"""The reproduction report: every claim's verdict under each pre-registered reading, and the counts.

:func:`readings_table` turns the recorded claims (:func:`afm.lab.claims.claims_table`) into one
row per claim and reading (:mod:`afm.lab.readings`); a claim measured under the default reading
only has one row, a claim not yet measured one ``missing`` row. :func:`verdict_counts` counts
the verdicts under the default reading and the best verdict over all readings ("holds in at
least one pre-registered reading").
"""

from __future__ import annotations

import pandas as pd

from afm.lab.claims import EXPECTED_CLAIMS, VERDICTS
from afm.lab.readings import claim_readings, label

#: Every verdict a cell of the report can show, best first.
CELL_VERDICTS = (*VERDICTS, "missing")
COLUMNS = ("id", "figure", "reading", "settings", "value", "spread", "n_seeds", "verdict")


def reading_order() -> list[str]:
    """The labels of every declared reading, ``"default"`` first, in the order the claims
    (:data:`afm.lab.claims.EXPECTED_CLAIMS`) declare them."""
    labels = {"default": None}
    for claim_id in EXPECTED_CLAIMS:
        labels.update(dict.fromkeys(label(r) for r in claim_readings(claim_id)))
    return list(labels)


#: The label prefix of a recorded reading that :mod:`afm.lab.readings` does not declare (e.g. a
#: record older than the declaration): shown, never counted as a pre-registered reading.
UNDECLARED = "not declared: "


def _label(reading: dict) -> str:
    try:
        return label(reading)
    except ValueError:
        return UNDECLARED + ", ".join(f"{k}={v}" for k, v in reading.items())


def readings_table(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per claim and reading: ``id``, ``figure``, ``reading`` (its label), ``settings``,
    ``value``, ``spread``, ``n_seeds`` and ``verdict``.

    Args:
        claims: :func:`afm.lab.claims.claims_table` (one row per claim, with ``readings``).

    Returns:
        Claims in the order given; within a claim, readings in the order of
        :func:`reading_order` (the default first). Where a claim has no per-reading table,
        its headline is the ``default`` row.

    Example:
        >>> claims = pd.DataFrame([{"id": "fig2a-random-between", "figure": "2a", "value": 0.2,
        ...     "spread": 0.1, "n_seeds": 3, "verdict": "partly", "readings": []}])
        >>> readings_table(claims)[["id", "reading", "verdict"]].to_dict("records")
        [{'id': 'fig2a-random-between', 'reading': 'default', 'verdict': 'partly'}]
    """
    order = {name: i for i, name in enumerate(reading_order())}
    rows = []
    for claim in claims.itertuples(index=False):
        own = [{"reading": _label(r["reading"]), "settings": dict(r["reading"]),
                **{k: r[k] for k in ("value", "spread", "n_seeds", "verdict")}}
               for r in (claim.readings if isinstance(claim.readings, list) else [])]
        if not any(r["reading"] == "default" for r in own):
            own.insert(0, {"reading": "default", "settings": {}, "value": claim.value,
                           "spread": claim.spread, "n_seeds": claim.n_seeds,
                           "verdict": claim.verdict})
        own.sort(key=lambda r: order.get(r["reading"], len(order)))
        rows += [{"id": claim.id, "figure": claim.figure, **r} for r in own]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def verdict_counts(table: pd.DataFrame) -> pd.DataFrame:
    """How many claims get each verdict under the default reading, and at best over all readings.

    Args:
        table: :func:`readings_table`.

    Returns:
        Index: the verdicts (``reproduced``, ``partly``, ``not reproduced``, ``missing``);
        columns ``default reading`` and ``best reading`` (the best verdict a claim gets in any
        pre-registered reading: its ``reproduced`` row counts the claims that hold in at least one;
        a reading the declaration does not know is shown by :func:`readings_table`, not counted).

    Example:
        >>> t = pd.DataFrame({"id": ["a", "a", "b"], "reading": ["default", "no shortcut", "default"],
        ...                   "verdict": ["not reproduced", "reproduced", "partly"]})
        >>> verdict_counts(t).loc["reproduced"].to_dict()
        {'default reading': 0, 'best reading': 1}
    """
    rank = {v: i for i, v in enumerate(CELL_VERDICTS)}
    unknown = set(table["verdict"]) - set(rank)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}: expected some of {CELL_VERDICTS}")
    default = table[table["reading"] == "default"].drop_duplicates("id")["verdict"]
    declared = table[~table["reading"].str.startswith(UNDECLARED)]
    best = declared.assign(rank=declared["verdict"].map(rank)).groupby("id", sort=False)["rank"].min()
    counts = pd.DataFrame({"default reading": default.value_counts(),
                           "best reading": best.map(dict(enumerate(CELL_VERDICTS))).value_counts()})
    return counts.reindex(list(CELL_VERDICTS)).fillna(0).astype(int)


def unmeasured_readings(readings: pd.DataFrame) -> list[str]:
    """The claims of :func:`readings_table` with readings declared for them
    (:func:`afm.lab.readings.claim_readings`) that were measured under the default reading only.

    Example:
        >>> table = pd.DataFrame([{"id": "fig3c-convergence", "reading": "default"},
        ...                       {"id": "fig2d-plain-near-uniform", "reading": "default"}])
        >>> unmeasured_readings(table)   # no reading is declared for the second
        ['fig3c-convergence']
    """
    rows = readings.groupby("id", sort=False).size()
    return [claim_id for claim_id, n in rows.items() if n == 1 and len(claim_readings(claim_id)) > 1]


def reading_numbers(readings: pd.DataFrame) -> dict:
    """What the report glues about :func:`readings_table`: ``default_<verdict>`` and
    ``best_<verdict>`` (:func:`verdict_counts`, spaces as ``_``), ``n_varied`` (claims measured
    under more than one reading), ``n_readings`` (distinct readings), and ``n_unmeasured`` and
    ``unmeasured`` (:func:`unmeasured_readings`: how many claims, and which, have declared
    readings not measured)."""
    numbers = {}
    for verdict, row in verdict_counts(readings).iterrows():
        key = verdict.replace(" ", "_")
        numbers[f"default_{key}"] = int(row["default reading"])
        numbers[f"best_{key}"] = int(row["best reading"])
    unmeasured = unmeasured_readings(readings)
    return {**numbers, "n_varied": int((readings.groupby("id").size() > 1).sum()),
            "n_readings": int(readings["reading"].nunique()), "n_unmeasured": len(unmeasured),
            "unmeasured": ", ".join(unmeasured) or "none"}


def claim_numbers(table: pd.DataFrame, profile: str) -> dict:
    """What the report glues about the claims table: one count per verdict (spaces as ``_``),
    ``total`` and ``profile``."""
    counts = table["verdict"].value_counts()
    return {**{v.replace(" ", "_"): int(counts.get(v, 0)) for v in (*VERDICTS, "missing")},
            "total": len(table), "profile": profile}


#: The colour of each verdict in the report's table.
COLOURS = {"reproduced": "#2e7d32", "partly": "#ef6c00", "not reproduced": "#c62828",
           "missing": "#616161"}


def _row_html(r) -> str:
    import html

    link = r.section.removeprefix("book/")
    measured = "" if r.verdict == "missing" else (
        f"{r.value:.4g} ± {r.spread:.2g} <small>(n = {r.n_seeds}; {html.escape(r.measured)})</small>")
    return (f"<tr><td>{html.escape(r.figure)}</td><td>{html.escape(r.statement) or html.escape(r.id)}</td>"
            f"<td>{measured}</td><td>{html.escape(r.profile)}</td>"
            f"<td style='color:{COLOURS[r.verdict]};font-weight:bold'>{r.verdict}</td>"
            + (f"<td><a href='{html.escape(link)}'>section</a></td></tr>" if link else "<td></td></tr>"))


def claims_html(table: pd.DataFrame) -> str:
    """The claims table (:func:`afm.lab.claims.claims_table`) as an HTML table, one row per
    claim, the verdict coloured and linked to the section that measures it."""
    return ("<table class='table'><thead><tr><th>Fig.</th><th>the paper says</th>"
            "<th>we measured (mean ± std over seeds)</th><th>profile</th><th>verdict</th><th></th></tr></thead>"
            "<tbody>" + "".join(_row_html(r) for r in table.itertuples()) + "</tbody></table>")


def by_verdict(table: pd.DataFrame) -> str:
    """The claims listed under each verdict, as plain text (verdicts without claims left out)."""
    lines = []
    for verdict in ("reproduced", "partly", "not reproduced", "missing"):
        chosen = table[table["verdict"] == verdict]
        if len(chosen):
            lines.append(f"{verdict} ({len(chosen)}):")
            lines += [f"  Fig. {r.figure}: {r.statement or r.id}" for r in chosen.itertuples()]
    return "\n".join(lines)
