"""Chapter 5's verdicts (afm.verdicts.long_memory): Fig. 5b and 5c."""

import numpy as np

from afm.verdicts import long_memory as v

P = dict(profile="smoke")


def test_ewcf_beats_ewc_paired():
    e = np.array([80.0, 82.0, 79.0, 81.0])
    assert v.ewcf_first_task(e + 3 + np.array([0.2, -0.1, 0.0, 0.1]), e, **P).verdict == "reproduced"
    assert v.ewcf_average(e - 1, e, **P).verdict == "not reproduced"
    assert v.ewcf_average([85.0], [80.0], **P).verdict == "partly"        # one seed: no test
    rng = np.random.default_rng(0)
    null = [v.ewcf_average(rng.normal(80, 1, 5), rng.normal(80, 1, 5), **P).verdict == "reproduced"
            for _ in range(1000)]
    assert np.mean(null) < 0.08


def test_near_joint():
    assert v.ewcf_near_joint([95, 95], [94.5, 94.2], [90, 90], **P).verdict == "reproduced"
    assert v.ewcf_near_joint([95, 95], [94.5, 92], [90, 90], **P).verdict == "partly"
    assert v.ewcf_near_joint([95], [90], [90], **P).verdict == "not reproduced"


def test_gap_widens():
    t = np.arange(1, 6)
    assert v.gap_widens([0.5 * t, 0.2 * t], **P).verdict == "reproduced"
    assert v.gap_widens([0.5 * t, -0.2 * t], **P).verdict == "partly"
    c = v.gap_widens([5 - t], **P)
    assert c.verdict == "not reproduced" and np.isclose(c.value, -1.0)


def test_polarisation():
    plain = {"near_zero": [0.1, 0.1], "middle": [0.8, 0.8], "top": [0.1, 0.1], "gini": [0.5, 0.5]}
    polar = {"near_zero": [0.5, 0.05], "middle": [0.4, 0.85], "top": [0.1, 0.1], "gini": [0.7, 0.4]}
    c = v.polarisation("mas", plain, polar, **P)
    assert c.id == "fig5c-polarisation-mas" and c.verdict == "partly"
    assert c.numbers["dzero_mas"] == (40 - 5) / 2
    assert v.polarisation("ewc", plain, plain, **P).verdict == "not reproduced"   # null: no change


def test_grid_edges_names_choices_at_either_end_and_none_inside():
    from afm.experiments.long_memory import grid_edges

    grid = {"ewc": [10.0, 100.0, 1000.0], "mas": [0.001, 0.01, 0.1]}
    inside = {"ewc": {"strength": 100.0}, "ewc_f": {"strength": 100.0}, "mas": {"strength": 0.01}}
    assert grid_edges(inside, grid) == "none"
    edges = {"ewc": {"strength": 10.0}, "mas_f": {"strength": 0.1}, "sgd": {"strength": 0.0}}
    assert grid_edges(edges, grid) == ("ewc (10, the smallest of its grid), "
                                       "mas_f (0.1, the largest of its grid)")
