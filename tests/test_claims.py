"""The shared results files: recorded claims round-trip; the report never drops a missing claim."""

import pytest

from afm.lab.claims import EXPECTED_CLAIMS, Claim, claims_table, load_claims, record_claim, verdict_from


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
