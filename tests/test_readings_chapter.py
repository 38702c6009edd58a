"""The chapter "The claims under their readings": its per-reading tables are stored apart from the
chapters' headlines (neither overwrites the other, in any order), and its sentences say exactly
where a claim holds."""

from dataclasses import replace

import pytest

from afm.experiments.readings import (VARIED_FIGURES, claims_under_readings, holds_anywhere, reading_counts,
                                      table_of, where_it_holds)
from afm.lab.claims import (Claim, claims_table, load_claims, load_readings, record_claim,
                            record_readings)
from afm.lab.figures import CLAIMS

SHORTCUT = {"shortcut": True, "lam_rule": "validation", "lam": None, "beta": None}
NO_SHORTCUT = {**SHORTCUT, "shortcut": False}
LAM_1 = {**SHORTCUT, "lam_rule": "fixed", "lam": 1.0, "beta": 1e-4}


def row(reading, value, verdict, spread=0.0, n=3):
    return {"reading": reading, "value": value, "spread": spread, "n_seeds": n, "verdict": verdict}


def claim(readings=(), verdict="not reproduced", value=75.0, **kw):
    return Claim("fig2a-positive-order-80", "2a", "03_neuron_importance", "s", "m", value, 1.0, 3,
                 "smoke", verdict, readings=list(readings), **kw)


def test_the_varied_figures_are_those_afm_run_judges_under_readings():
    assert set(VARIED_FIGURES) == set(CLAIMS)


def test_where_it_holds_names_each_passing_reading_with_its_value_and_counts_the_rest():
    c = claim([row(SHORTCUT, 75.5, "not reproduced", 1.25), row(NO_SHORTCUT, 0.0, "reproduced"),
               row(LAM_1, 40.0, "partly", 2.0)])
    assert where_it_holds(c) == ("not reproduced under the default reading (75.5 ± 1.2); "
                                 "reproduced under no shortcut (0 ± 0); "
                                 "partly reproduced under λ = 1 (40 ± 2); "
                                 "fails under no other reading")
    assert holds_anywhere(c) == "reproduced"


def test_where_it_holds_when_it_fails_everywhere():
    c = claim([row(SHORTCUT, 75.5, "not reproduced"), row(NO_SHORTCUT, 60.0, "not reproduced"),
               row(LAM_1, 70.0, "not reproduced")])
    assert where_it_holds(c).endswith("fails under 2 other readings")
    assert "reproduced under" not in where_it_holds(c).split(";", 1)[1]
    assert holds_anywhere(c) == "not reproduced"


def test_where_it_holds_needs_a_per_reading_table_with_one_default():
    with pytest.raises(ValueError, match="default reading only"):
        where_it_holds(claim())
    with pytest.raises(ValueError, match="one default"):
        where_it_holds(claim([row(NO_SHORTCUT, 0.0, "reproduced")]))


def test_readings_are_stored_apart_and_joined_whatever_the_order(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    table = [row(SHORTCUT, 75.0, "not reproduced"), row(NO_SHORTCUT, 0.0, "reproduced")]
    record_readings([claim(table)])            # the readings chapter first ...
    record_claim(claim(details={"x": 1}))      # ... then the figure's chapter, without readings
    assert load_claims("smoke") == [claim(details={"x": 1})]
    assert load_readings("smoke") == {"fig2a-positive-order-80": table}
    joined = claims_table("smoke").set_index("id").loc["fig2a-positive-order-80"]
    assert joined["verdict"] == "not reproduced" and joined["readings"] == table


def test_a_records_own_readings_take_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    own = [row(SHORTCUT, 75.0, "not reproduced"), row(LAM_1, 50.0, "partly")]
    record_readings([claim([row(SHORTCUT, 1.0, "reproduced"), row(NO_SHORTCUT, 0.0, "reproduced")])])
    record_claim(claim(own))
    assert claims_table("smoke").set_index("id").loc["fig2a-positive-order-80", "readings"] == own


def test_record_readings_refuses_a_claim_without_a_table(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="no per-reading table"):
        record_readings([claim()])


def test_table_of_has_one_row_per_claim_and_reading_default_first():
    a = claim([row(NO_SHORTCUT, 0.0, "reproduced"), row(SHORTCUT, 75.0, "not reproduced")])
    b = replace(a, id="fig2a-random-between", readings=[row(SHORTCUT, 0.2, "partly")])
    t = table_of([a, b])
    assert list(zip(t["id"], t["reading"], t["verdict"])) == [
        ("fig2a-positive-order-80", "default", "not reproduced"),
        ("fig2a-positive-order-80", "no shortcut", "reproduced"),
        ("fig2a-random-between", "default", "partly")]


def test_claims_under_readings_refuses_a_figure_without_readings():
    with pytest.raises(ValueError, match="not measured under readings"):
        claims_under_readings("1b", "smoke")


def test_reading_counts_count_default_and_best_verdicts():
    a = claim([row(SHORTCUT, 75.0, "not reproduced"), row(NO_SHORTCUT, 0.0, "reproduced")])
    b = replace(a, id="fig2a-random-between",
                readings=[row(SHORTCUT, 0.2, "partly"), row(NO_SHORTCUT, 0.1, "partly")])
    c = replace(a, id="fig2a-inverse-order-5",
                readings=[row(SHORTCUT, 0.5, "not reproduced"), row(NO_SHORTCUT, 0.5, "not reproduced")])
    n = reading_counts([a, b, c])
    assert (n["n_claims"], n["default_reproduced"], n["default_partly"], n["default_not_reproduced"]) == (3, 0, 1, 2)
    assert (n["best_reproduced"], n["best_partly"], n["best_not_reproduced"]) == (1, 1, 1)


def test_sentences_are_keyed_for_glue_and_say_where_each_claim_holds():
    from afm.experiments.readings import sentences

    a = claim([row(SHORTCUT, 75.0, "not reproduced"), row(NO_SHORTCUT, 0.0, "reproduced")])
    assert sentences([a]) == {"fig2a_positive_order_80": where_it_holds(a)}



@pytest.mark.parametrize("figure", ["2a", "2b", "3b"])
def test_after_premeasure_the_claims_only_read_the_cache(monkeypatch, tmp_path, figure):
    """The measurements taken in parallel before the claims (``premeasure``) are exactly those the
    claims read: once they are taken, the claims are judged with every measurement disabled
    (a miss would measure again, one at a time). Real smoke runs, in a fresh cache."""
    from afm.experiments import readings as experiments, readings_efficiency as rf, readings_mechanism as rm
    from afm.lab import figures

    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    results = figures.results(figure, "smoke", progress=False)
    experiments.prefit(figure, "smoke", list(results))
    assert experiments.premeasure(figure, "smoke", list(results)) > 0

    def measured_again(*args, **kwargs):
        raise AssertionError("measured again: premeasure missed it")

    for module, name in {"2a": [(experiments, "_fig2a_under")], "2b": [(rm, "ablation_curve")],
                         "3b": [(rf, "weight_importance"), (rf.el, "obd_iterative")]}[figure]:
        monkeypatch.setattr(module, name, measured_again)
    claims = figures.CLAIMS[figure](results, "smoke")
    assert claims and all(len(c.readings) > 1 for c in claims)
