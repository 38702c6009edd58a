"""The shared results files: recorded claims round-trip; the report never drops a missing claim."""

import json
from dataclasses import asdict, replace

import pytest

from afm.lab.claims import (EXPECTED_CLAIMS, Claim, claims_table, figure_claims,
                            headline_and_readings, load_claims, record_claim, verdict_from,
                            with_readings)


def make(claim_id="fig1b-shortcut-gradients", verdict="partly"):
    return Claim(id=claim_id, figure="1b", chapter="01_forgetting_layer", statement="s",
                 measured="m", value=1.5, spread=0.1, n_seeds=3, profile="smoke", verdict=verdict,
                 section="book/01_forgetting_layer.html#ch1-shortcut", details={"x": [1, 2]})


def test_round_trip_and_table(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    record_claim(make())
    assert load_claims("smoke") == [make()]
    table = claims_table("smoke").set_index("id")
    assert len(table) == len(EXPECTED_CLAIMS)
    assert table.loc["fig1b-shortcut-gradients", "verdict"] == "partly"
    assert table.loc["fig1c-lateral-inhibition", "verdict"] == "missing"
    assert claims_table("book")["verdict"].eq("missing").all()


def test_bad_claims():
    with pytest.raises(ValueError, match="verdict must be one of"):
        make(verdict="holds")
    with pytest.raises(ValueError, match="claim id"):
        make(claim_id="Fig 1b!")


def test_verdict_from():
    assert verdict_from(True, True) == "reproduced"
    assert verdict_from(False, True) == "partly"
    assert verdict_from(False, False) == "not reproduced"


def claim_2a():
    from afm.lab.readings import claim_readings

    readings = claim_readings("fig2a-random-between")[:4]  # default, λ = 0.1, λ = 1, no shortcut
    measured = [(readings[0], [0.2, 0.3, 0.1], "not reproduced"),
                (readings[1], [0.25], "partly"),
                (readings[2], [0.0, 0.0], "not reproduced"),
                (readings[3], [0.4, 0.6, 0.5], "reproduced")]
    headline, rows = headline_and_readings(measured)
    return Claim(id="fig2a-random-between", figure="2a", chapter="03_neuron_importance",
                 statement="random lies between", measured="AUC", profile="smoke",
                 **headline, readings=rows)


def test_headline_is_the_default_reading():
    claim = claim_2a()
    # hand-computed: mean and std (ddof=1) of [0.2, 0.3, 0.1]
    assert (claim.value, claim.spread, claim.n_seeds) == pytest.approx((0.2, 0.1, 3))
    assert claim.verdict == "not reproduced"
    assert [r["verdict"] for r in claim.readings] == ["not reproduced", "partly", "not reproduced",
                                                      "reproduced"]
    assert claim.readings[3]["reading"]["shortcut"] is False
    assert claim.readings[3]["value"] == pytest.approx(0.5)
    assert claim.readings[1]["spread"] == 0.0 and claim.readings[1]["n_seeds"] == 1
    with pytest.raises(ValueError, match="exactly one reading must be the book's default"):
        headline_and_readings([({"shortcut": False}, [1.0], "partly")])
    with pytest.raises(ValueError, match="exactly one reading"):
        headline_and_readings([({"shortcut": True}, [1.0], "partly"), ({}, [2.0], "partly")])
    with pytest.raises(ValueError, match="no per-seed values"):
        headline_and_readings([({"shortcut": True}, [], "partly")])


def test_readings_round_trip_and_old_records_still_read(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    claim = claim_2a()
    path = record_claim(claim)
    assert load_claims("smoke") == [claim]
    saved = json.loads(path.read_text())
    assert saved["readings"][0]["reading"] == {"shortcut": True, "lateral": "asymmetric",
                                               "lam_rule": "validation", "lam": None, "beta": None}
    # a record written before claims had readings (no "readings" key) still loads
    old = asdict(make())
    del old["readings"]
    (path.parent / "fig1b-shortcut-gradients.json").write_text(json.dumps(old))
    loaded = {c.id: c for c in load_claims("smoke")}
    assert loaded["fig1b-shortcut-gradients"] == make()
    assert loaded["fig1b-shortcut-gradients"].readings == []
    table = claims_table("smoke").set_index("id")
    assert len(table.loc["fig2a-random-between", "readings"]) == 4
    assert table.loc["fig2a-positive-order-80", "readings"] == []
    # what `afm run 2a` writes under "claims"
    summaries = figure_claims("2a", "smoke")
    assert summaries == [{"id": "fig2a-random-between", "statement": "random lies between",
                          "value": claim.value, "spread": claim.spread, "n_seeds": 3,
                          "verdict": "not reproduced", "readings": claim.readings}]
    assert figure_claims("1b", "smoke")[0]["readings"] == []


@pytest.mark.parametrize("row, match", [
    ({"reading": {}, "value": 1.0, "spread": 0.0, "n_seeds": 1}, "keys"),
    ({"reading": "shortcut", "value": 1.0, "spread": 0.0, "n_seeds": 1, "verdict": "partly"},
     "dict of settings"),
    ({"reading": {}, "value": 1.0, "spread": 0.0, "n_seeds": 1, "verdict": "holds"}, "verdict"),
    ({"reading": {}, "value": 1.0, "spread": 0.0, "n_seeds": 0, "verdict": "partly"}, "n_seeds"),
])
def test_bad_reading_rows(row, match):
    with pytest.raises(ValueError, match=match):
        replace(make(), readings=[row])


def test_with_readings_merges_per_reading_claims():
    from afm.lab.readings import claim_readings

    readings = claim_readings("fig1f-switches-close")  # default first
    base = Claim("fig1f-switches-close", "1f", "02_sparse_coding", "s", "m", 0.0, 0.0, 3,
                 "smoke", "not reproduced")
    per_reading = [(r, replace(base, value=float(i), verdict="partly" if i else "not reproduced"))
                   for i, r in enumerate(readings)]
    merged = with_readings(per_reading[::-1])  # the default need not come first
    assert (merged.value, merged.verdict) == (0.0, "not reproduced")
    assert [row["value"] for row in merged.readings] == list(range(len(readings)))[::-1]
    assert merged.readings[-1]["reading"] == readings[0]
    with pytest.raises(ValueError, match="one claim"):
        with_readings([(readings[0], base), (readings[1], make())])
    with pytest.raises(ValueError, match="exactly one reading"):
        with_readings(per_reading[1:])
