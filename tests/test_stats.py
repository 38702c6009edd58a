"""Bimodality (Sarle's coefficient) and end shares, for Fig. 2d."""

import numpy as np
import pytest
import torch
from scipy import stats as sps

from afm.analysis.stats import (UNIFORM_BIMODALITY, bimodality_coefficient, end_shares, excess_kurtosis,
                       polarisation, skewness)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moments_match_scipy(seed):
    x = np.random.default_rng(seed).gamma(2.0, size=57)
    assert skewness(x) == pytest.approx(sps.skew(x, bias=False), rel=1e-10)
    assert excess_kurtosis(x) == pytest.approx(sps.kurtosis(x, fisher=True, bias=False), rel=1e-10)


def test_coefficient_from_its_formula_by_hand():
    x = np.array([0.0, 0.1, 0.2, 0.9, 1.0, 1.0, 0.05])
    n = x.size
    g, k = sps.skew(x, bias=False), sps.kurtosis(x, bias=False)
    expected = (g ** 2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    assert bimodality_coefficient(x) == pytest.approx(expected, rel=1e-12)
    assert bimodality_coefficient(torch.tensor(x)) == pytest.approx(expected, rel=1e-12)


def test_known_distributions():
    rng = np.random.default_rng(0)
    n = 200_000
    assert bimodality_coefficient(rng.uniform(size=n)) == pytest.approx(UNIFORM_BIMODALITY, abs=0.01)
    assert bimodality_coefficient(rng.normal(size=n)) == pytest.approx(1 / 3, abs=0.01)
    two_points = np.r_[np.zeros(n // 2), np.ones(n // 2)]
    assert bimodality_coefficient(two_points) == pytest.approx(1.0, abs=1e-3)
    # two well separated bumps are bimodal, one bump is not
    bumps = np.r_[rng.normal(0.05, 0.02, n // 2), rng.normal(0.95, 0.02, n // 2)]
    assert bimodality_coefficient(bumps) > 0.9 > UNIFORM_BIMODALITY
    assert bimodality_coefficient(rng.normal(0.5, 0.1, n)) < UNIFORM_BIMODALITY
    # invariant to shift and positive scale
    x = rng.beta(0.3, 0.5, 500)
    assert bimodality_coefficient(3 * x + 7) == pytest.approx(bimodality_coefficient(x), rel=1e-9)


def test_end_shares():
    assert end_shares([0.0, 0.05, 0.5, 0.95]) == (0.5, 0.25)
    assert end_shares(np.linspace(0, 1, 101), margin=0.1) == pytest.approx((11 / 101, 11 / 101))
    assert end_shares([2.0, 3.0, 3.9], margin=0.5, low=2.0, high=4.0) == pytest.approx((1 / 3, 1 / 3))


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 4"):
        bimodality_coefficient([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="zero variance"):
        bimodality_coefficient([0.5] * 10)
    with pytest.raises(ValueError, match="NaN"):
        skewness([1.0, float("nan"), 2.0])
    with pytest.raises(ValueError, match="1-D"):
        bimodality_coefficient(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="margin"):
        end_shares([0.1, 0.2], margin=0.7)
    with pytest.raises(ValueError, match="high > low"):
        end_shares([0.1], low=1.0, high=0.0)


def test_polarisation():
    assert polarisation([0.5] * 4) == 0.0
    assert polarisation([0.0, 1.0, 1.0]) == 1.0
    assert polarisation(np.linspace(0, 1, 100001)) == pytest.approx(0.5, abs=1e-4)  # uniform
    assert polarisation(torch.tensor([0.0, 1.0, 0.5, 0.25])) == pytest.approx(0.625)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        polarisation([0.5, 1.2])
