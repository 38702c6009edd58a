"""The report's claims × readings table, its counts and its heatmap, on a synthetic claims table."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from afm.experiments.report import (reading_numbers, reading_order, readings_table,  # noqa: E402
                                   unmeasured_readings, verdict_counts)
from afm.lab.claims import headline_and_readings  # noqa: E402
from afm.lab.readings import claim_readings  # noqa: E402
from afm.plotting.report import VERDICT_COLOURS, fig_claims_readings  # noqa: E402


def synthetic_claims() -> pd.DataFrame:
    """Four claims: one with four readings (holds only without the shortcut), one with two
    (holds at default), one measured under the default only, one missing."""
    r2a = claim_readings("fig2a-positive-order-80")  # default, λ=0.1, λ=1, no shortcut, ...
    _, rows_2a = headline_and_readings([(r2a[3], [0.0, 0.0], "reproduced"),
                                        (r2a[0], [75.0, 74.0], "not reproduced"),
                                        (r2a[1], [40.0], "partly"),
                                        (r2a[2], [70.0, 71.0], "not reproduced")])
    r3a = claim_readings("fig3a-gain-over-sgd")  # default, plain SGD
    _, rows_3a = headline_and_readings([(r3a[0], [1.4], "reproduced"),
                                        (r3a[1], [7.8], "reproduced")])
    base = {"statement": "", "measured": "", "spread": 0.0, "profile": "smoke", "section": ""}
    return pd.DataFrame([
        {**base, "id": "fig2a-positive-order-80", "figure": "2a", "value": 74.5, "n_seeds": 2,
         "verdict": "not reproduced", "readings": rows_2a},
        {**base, "id": "fig3a-gain-over-sgd", "figure": "3a", "value": 1.4, "n_seeds": 1,
         "verdict": "reproduced", "readings": rows_3a},
        {**base, "id": "fig1e-irs-generalises", "figure": "1e", "value": 0.1, "n_seeds": 3,
         "verdict": "partly", "readings": []},
        {**base, "id": "fig1c-lateral-inhibition", "figure": "1c", "value": float("nan"),
         "n_seeds": 0, "verdict": "missing", "readings": []},
    ])


def test_readings_table_orders_readings_and_fills_the_default():
    table = readings_table(synthetic_claims())
    assert len(table) == 4 + 2 + 1 + 1
    assert table[table["id"] == "fig2a-positive-order-80"]["reading"].tolist() == [
        "default", "λ = 0.1", "λ = 1", "no shortcut"]  # declared order, not the order measured
    assert table[table["id"] == "fig3a-gain-over-sgd"]["reading"].tolist() == ["default", "plain SGD"]
    only = table[table["id"] == "fig1e-irs-generalises"].iloc[0]
    assert (only["reading"], only["verdict"], only["value"]) == ("default", "partly", 0.1)
    assert table[table["id"] == "fig1c-lateral-inhibition"]["verdict"].tolist() == ["missing"]
    assert reading_order()[0] == "default" and len(set(reading_order())) == len(reading_order())


def test_verdict_counts_by_hand():
    counts = verdict_counts(readings_table(synthetic_claims()))
    # default: 2a not reproduced, 3a reproduced, 1e partly, 1c missing
    assert counts["default reading"].to_dict() == {"reproduced": 1, "partly": 1,
                                                   "not reproduced": 1, "missing": 1}
    # best: 2a reproduced (no shortcut), 3a reproduced, 1e partly, 1c missing
    assert counts["best reading"].to_dict() == {"reproduced": 2, "partly": 1,
                                                "not reproduced": 0, "missing": 1}
    with pytest.raises(ValueError, match="unknown verdicts"):
        verdict_counts(pd.DataFrame({"id": ["a"], "reading": ["default"], "verdict": ["holds"]}))


def test_claims_with_declared_readings_measured_under_the_default_only_are_named():
    """1e declares the shortcut × λ readings but was measured under the default only; so was
    the missing 1c; 2a and 3a were measured under theirs."""
    table = readings_table(synthetic_claims())
    assert unmeasured_readings(table) == ["fig1e-irs-generalises", "fig1c-lateral-inhibition"]
    numbers = reading_numbers(table)
    assert (numbers["n_unmeasured"], numbers["n_varied"]) == (2, 2)
    assert numbers["unmeasured"] == "fig1e-irs-generalises, fig1c-lateral-inhibition"
    assert reading_numbers(table[table["id"] == "fig2a-positive-order-80"])["unmeasured"] == "none"


def test_heatmap_has_one_cell_per_claim_and_reading():
    table = readings_table(synthetic_claims())
    fig = fig_claims_readings(table, title="synthetic")
    ax = fig.axes[0]
    mesh = ax.collections[0]
    codes = np.ma.masked_invalid(mesh.get_array()).reshape(4, 5)  # 4 claims × 5 readings
    assert int(codes.count()) == len(table) == 8
    palette = list(VERDICT_COLOURS)
    assert [palette[int(c)] for c in codes[0].compressed()] == [
        "not reproduced", "partly", "not reproduced", "reproduced"]
    assert codes.mask[2].tolist() == [False, True, True, True, True]  # default only
    assert palette[int(codes[3, 0])] == "missing"
    texts = sorted(t.get_text() for t in ax.texts if t.get_text())
    assert texts == sorted(["74.5", "40", "70.5", "0", "1.4", "7.8", "0.1"])  # NaN: no text
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "default", "λ = 0.1", "λ = 1", "no shortcut", "plain SGD"]
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "fig2a-positive-order-80"
    plt.close(fig)


def test_heatmap_of_defaults_only_does_not_break():
    claims = synthetic_claims().assign(readings=[[], [], [], []])
    table = readings_table(claims)
    fig = fig_claims_readings(table)
    assert np.ma.masked_invalid(fig.axes[0].collections[0].get_array()).count() == 4
    plt.close(fig)


def test_an_undeclared_reading_is_shown_but_not_counted():
    claims = synthetic_claims()
    rows = claims.loc[1, "readings"] + [{"reading": {"shortcut": True, "rho": 2.0}, "value": 9.0,
                                          "spread": 0.0, "n_seeds": 1, "verdict": "reproduced"}]
    claims.at[1, "readings"] = rows
    claims.at[2, "readings"] = [{"reading": {"rho": 2.0}, "value": 1.0, "spread": 0.0,
                                 "n_seeds": 1, "verdict": "reproduced"}]
    table = readings_table(claims)
    assert "not declared: rho=2.0" in set(table["reading"])
    assert "not declared: shortcut=True, rho=2.0" in set(table["reading"])
    counts = verdict_counts(table)
    # 1e's only measured reading is undeclared: its best declared reading is its headline, partly
    assert counts["best reading"].to_dict() == {"reproduced": 2, "partly": 1,
                                                "not reproduced": 0, "missing": 1}
    plt.close(fig_claims_readings(table))
