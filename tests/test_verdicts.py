"""The shared verdict rules (afm.verdicts), the claim helpers and the chapters' glue helpers."""

import numpy as np
import pytest

from afm.lab.book import glue_claims, show_source, strip_docstring
from afm.lab.claims import EXPECTED_CLAIMS, Claim
from afm.lab.runs import spread
from afm.verdicts import make_claim, paired, per_seed


def test_per_seed():
    assert per_seed([True, True, True]) == "reproduced"
    assert per_seed(np.array([True, False])) == "partly"
    assert per_seed([False, False]) == "not reproduced"
    with pytest.raises(ValueError, match="one truth value per seed"):
        per_seed([])


def test_paired_holds_fails():
    assert paired([1.0, 1.3, 0.8, 1.1, 0.9]) [0] == "reproduced"
    assert paired([2.0])[0] == "partly"                       # one seed: no test possible
    assert paired([0.5, -0.4, 0.1])[0] == "partly"            # positive mean, not significant
    assert paired([-1.0, -0.5, -0.2])[0] == "not reproduced"
    assert paired([0.3, 0.3, 0.3]) == ("reproduced", 0.0)    # no spread at all


def test_paired_null_error_rate():
    # no true difference: "reproduced" in about ALPHA of repetitions (one-sided test), never far above
    rng = np.random.default_rng(0)
    rate = np.mean([paired(rng.normal(0.0, 1.0, 5))[0] == "reproduced" for _ in range(2000)])
    assert 0.03 <= rate <= 0.07
    # a real difference of one standard deviation is found most of the time with 10 seeds
    assert np.mean([paired(rng.normal(1.0, 1.0, 10))[0] == "reproduced" for _ in range(300)]) > 0.9


def test_spread():
    assert spread([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))
    assert spread([4.0]) == (4.0, 0.0)
    with pytest.raises(ValueError, match="at least one value"):
        spread([])


def test_make_claim_and_glue(monkeypatch):
    claims = {"fig9z-demo": ("9z", "anchor", "A demo claim")}
    c = make_claim(claims, "09_own_model", "fig9z-demo", "a number", np.array([1.0, 2.0, 3.0]),
                   "partly", profile="smoke", details={"a": np.arange(2)}, numbers={"x": np.float64(2.5)})
    assert (c.value, c.spread, c.n_seeds, c.figure) == (2.0, 1.0, 3, "9z")
    assert c.section == "book/09_own_model.html#anchor" and c.details == {"a": [0, 1]}
    glued = {}
    monkeypatch.setattr("afm.lab.book.glue", lambda name, value, display=False: glued.update({name: value}))
    glue_claims([c], "ch9")
    assert glued == {"ch9_x": 2.5} and isinstance(glued["ch9_x"], float)


def test_expected_claims_collected_from_the_verdict_modules():
    assert len(EXPECTED_CLAIMS) == 36 and len(set(EXPECTED_CLAIMS)) == 36
    assert EXPECTED_CLAIMS["fig2d-plain-near-uniform"] == ("2d", "03_neuron_importance")
    assert list(EXPECTED_CLAIMS)[0].startswith("fig1b") and list(EXPECTED_CLAIMS)[-1].startswith("fig5c")


def test_show_source_hides_docstrings_by_default():
    shown = show_source(per_seed).data
    assert "def per_seed" in shown and "Example:" not in shown
    assert "Example:" in show_source(per_seed, docstring=True).data
    src = 'class A:\n    """Doc."""\n\n    def f(self):\n        """More\n        doc."""\n        return 1\n'
    assert strip_docstring(src) == "class A:\n\n    def f(self):\n        return 1\n"
    assert isinstance(Claim, type)
