"""Fig. 1d, 1e and 2b's claims under every reading: each reading judged by the chapter's verdict
function on its own measurements, the headline the default's and equal to the chapter's verdict
(synthetic measurements, no training); and the networks they measure are those the other varied
figures train already (the specs, compared without training)."""

from dataclasses import replace

import numpy as np
import pytest

from afm.experiments import forgetting_layer, neuron_importance, readings as experiments, sparse_coding
from afm.experiments import readings_claims as rc
from afm.experiments import readings_mechanism as rm
from afm.lab.readings import claim_readings, is_default, label
from afm.verdicts import neuron_importance as rules_3, sparse_coding as rules_2

LAYERS = ["hidden.0.act", "hidden.1.act"]


def check_table(claim, n_seeds, verdict_of):
    """Every declared reading of the claim, in order, the shortcut both ways, each row's verdict
    as ``verdict_of(reading)`` says, and the headline is the default row."""
    assert [r["reading"] for r in claim.readings] == claim_readings(claim.id)
    assert {r["reading"]["shortcut"] for r in claim.readings} == {True, False}
    for row in claim.readings:
        assert row["verdict"] == verdict_of(row["reading"]) and row["n_seeds"] == n_seeds
    default = next(r for r in claim.readings if is_default(r["reading"]))
    assert (default["value"], default["verdict"]) == (claim.value, claim.verdict)


def net(S, act, acc):
    """One network's measurement as :func:`afm.experiments.sparse_coding.measure_run` gives it
    (the fields the verdicts read): sparsity and mean activation per layer, test accuracy."""
    return {"sparsity": dict(zip(LAYERS, S)), "test_acc": acc,
            "act_mean": {l: np.full(4, a) for l, a in zip(LAYERS, act)}}


PLAIN = net((0.5, 0.4), (1.0, 1.0), 0.90)


def holds(seed):
    """Every claim of 1d and 1e holds: the forgetting variants sparser than plain and less active,
    ERS sparser than ERS + IRS, IRS better by 1 to 1.2 points, the upper layer less sparse."""
    return {"ERS": net((0.8, 0.7), (0.5, 0.5), 0.90),
            "ERS + IRS": net((0.7, 0.6), (0.4, 0.4), 0.90 + 0.01 * (1 + 0.2 * seed))}


def fails(seed):
    """Every claim fails: ERS less sparse than plain and than ERS + IRS, more active, IRS worse,
    the upper layer of the forgetting variants sparser."""
    return {"ERS": net((0.4, 0.45), (1.5, 1.5), 0.92),
            "ERS + IRS": net((0.45, 0.5), (1.2, 1.2), 0.92 - 0.01 * (1 + 0.2 * seed))}


def sparse_result(variants):
    return {"layers": LAYERS, "variants": variants}


DEFAULT_1E = {seed: sparse_result({"plain": PLAIN, **fails(seed)}) for seed in (0, 1)}


def test_fig1d_and_1e_claims_per_reading(monkeypatch):
    asked = {}

    def under(profile, seed, reading):
        asked.setdefault(label(reading), []).append(reading)
        variants = holds(seed) if reading["shortcut"] is False else fails(seed)
        return sparse_result(variants)  # no plain network: the default's is used

    monkeypatch.setattr(rm, "fig1e_under", under)
    claims = rm.fig1d_claims(DEFAULT_1E, "smoke") + rm.fig1e_claims(DEFAULT_1E, "smoke")
    assert [c.id for c in claims] == [*rm.FIG1D_CLAIMS, *rm.FIG1E_CLAIMS]
    for claim in claims:
        check_table(claim, 2, lambda r: "reproduced" if r["shortcut"] is False else "not reproduced")
        assert claim.verdict == "not reproduced"
    # every non-default reading measured once per seed and figure, with one dict per label
    # (so 1d and 1e share each reading's cache entry)
    assert "default" not in asked
    assert all(len({str(sorted(r.items())) for r in rs}) == 1 for rs in asked.values())
    assert set(asked) == {label(r) for c in claims for r in claim_readings(c.id)} - {"default"}
    symmetric = next(c for c in claims if c.id == "fig1e-ers-sparser-than-irs")
    assert any(r["reading"].get("lateral") == "symmetric" for r in symmetric.readings)


def test_fig1d_and_1e_default_is_the_chapters_verdict():
    """As chapter 2 calls its verdicts: ``measures`` of the results, then each rule (one seed
    holds, one fails: partly, and a 1-seed-positive accuracy difference)."""
    results = {0: sparse_result({"plain": PLAIN, **holds(0)}), 1: sparse_result({"plain": PLAIN, **fails(1)})}
    M = rules_2.measures(results)
    chapter = {"fig1d-activation-decreased": rules_2.activation_decreased(M["act"], profile="smoke"),
               "fig1e-sparsity-raised": rules_2.sparsity_raised(M["S"], profile="smoke"),
               "fig1e-ers-sparser-than-irs": rules_2.ers_sparser_than_irs(M["S"], profile="smoke"),
               "fig1e-irs-generalises": rules_2.irs_generalises(M["acc"], profile="smoke"),
               "fig1e-upper-layer-less-sparse": rules_2.upper_layer_less_sparse(M["S"], profile="smoke")}
    for claim_id, expected in chapter.items():
        assert rm.fig1e_claim(claim_id, results, "smoke") == expected
    assert chapter["fig1e-sparsity-raised"].verdict == "partly"
    with pytest.raises(ValueError, match="not a claim of Fig. 1d or 1e"):
        rm.fig1e_claim("fig2b-higher-layers-critical", results, "smoke")


def test_with_plain_takes_the_default_plain_network():
    under = sparse_result(holds(0))
    merged = rm.with_plain(under, DEFAULT_1E[0])
    assert list(merged["variants"]) == ["plain", "ERS", "ERS + IRS"]
    assert merged["variants"]["plain"] is PLAIN
    assert all(merged["variants"][v] is under["variants"][v] for v in rm.SPARSE_VARIANTS)


F = np.array([0.0, 0.05, 0.2, 0.5, 0.8, 1.0])


def ablation_result(critical_last: bool, layers=("h0", "h1", "h2")):
    """A Fig. 2a/2b result: each layer's inverse curve is ``0.85 (1 - f)^k`` with ``k`` growing
    with the layer (the higher layer more critical) or falling; natural curves flat."""
    powers = [1, 2, 3] if critical_last else [3, 2, 1]
    flat = np.full(F.shape, 0.85)
    per_layer = {l: {"positive": flat, "inverse": 0.85 * (1 - F) ** k} for l, k in zip(layers, powers)}
    curves = {"positive": flat, "inverse": 0.85 * (1 - F), "random": np.stack([0.85 * (1 - F / 2)] * 2)}
    return {"fractions": F, "layers": list(layers), "per_layer": per_layer, "curves": curves,
            "stratified": curves}


def test_fig2b_claims_per_reading(monkeypatch):
    asked = []

    def under(profile, seed, reading):
        asked.append(seed)
        return ablation_result(critical_last=reading["shortcut"] is False)

    monkeypatch.setattr(rm, "fig2b_under", under)
    (claim,) = rm.fig2b_claims({0: ablation_result(False), 1: ablation_result(False)}, "smoke")
    assert len(asked) == 2 * (len(claim_readings(claim.id)) - 1)
    check_table(claim, 2, lambda r: "reproduced" if r["shortcut"] is False else "not reproduced")
    no_shortcut = next(r for r in claim.readings if r["reading"]["shortcut"] is False)
    # area of 0.85 (1 - f)^k over [0, 1] (trapezoids on F): first layer minus last
    expected = rm.area_under(F, 0.85 * (1 - F)) - rm.area_under(F, 0.85 * (1 - F) ** 3)
    assert no_shortcut["value"] == pytest.approx(expected) and expected > 0
    assert claim.value == pytest.approx(-expected)


def test_fig2b_default_is_the_chapters_verdict():
    """As chapter 3 computes it: the per-layer areas of ``ablation_summary``, then the rule."""
    results = {0: ablation_result(True), 1: ablation_result(False)}
    summ = [neuron_importance.ablation_summary(results[s]) for s in sorted(results)]
    layers = results[0]["layers"]
    auc_inv = np.array([[x["per_layer"][l]["auc_inverse"] for l in layers] for x in summ])
    auc_pos = np.array([[x["per_layer"][l]["auc_positive"] for l in layers] for x in summ])
    chapter = rules_3.higher_layers_critical(auc_inv, auc_pos, layers=layers, profile="smoke")
    claim = rm.fig2b_claim("fig2b-higher-layers-critical", results, "smoke")
    assert claim == chapter and claim.verdict == "partly"
    with pytest.raises(ValueError, match="not a claim of Fig. 2b"):
        rm.fig2b_claim("fig2a-random-between", results, "smoke")


@pytest.mark.parametrize("figure", ["1b", "4a"])
def test_a_figure_not_varied_is_refused(figure):
    assert figure not in experiments.VARIED_FIGURES
    with pytest.raises(ValueError, match="not measured under readings"):
        experiments.claims_under_readings(figure, "smoke")


def fake_choice(monkeypatch):
    """Choose from a grid without training: always the last candidate (a deterministic rule, as
    validation is for given networks), in every module that chooses."""
    def choose(runs, jobs=None, scheduler=None):
        runs = list(runs)
        return runs[-1], [{"val_acc": 0.0, "test_acc": 0.0}] * len(runs)

    for module in (rc, forgetting_layer, neuron_importance):
        monkeypatch.setattr(module, "choose", choose)


def networks(figure, profile):
    """The validation grids and networks :func:`afm.experiments.readings.prefit` trains."""
    claim_ids, grid, runs = experiments._runs_of(figure)
    others = [r for r in rc.readings_of(claim_ids) if not is_default(r)]
    seeds = sparse_coding.seeds(profile) if figure[0] == "1" else neuron_importance.seeds(profile)
    return ({run for r in others for run in grid(profile, r)}
            | {run for r in others for seed in seeds for run in runs(profile, seed, r)})


def test_1d_1e_2b_train_no_network_the_other_varied_figures_do_not(monkeypatch):
    fake_choice(monkeypatch)
    before = set().union(*(networks(f, "book") for f in ("1c", "1f", "2a", "2d")))
    for figure in ("1d", "1e", "2b"):
        assert networks(figure, "book") and networks(figure, "book") <= before


def test_under_the_default_reading_the_networks_are_the_chapters(monkeypatch):
    fake_choice(monkeypatch)
    default = claim_readings("fig1e-sparsity-raised")[0]
    mnist = sparse_coding.choice("book")
    for seed in sparse_coding.seeds("book"):
        specs = rc.fig2d_specs("book", seed, default)
        assert specs == {v: sparse_coding.variant_spec("book", v, seed, mnist["lam"], mnist["beta"])
                         for v in rm.SPARSE_VARIANTS}
    fashion = neuron_importance.choose_fashion("book")
    for seed in neuron_importance.seeds("book"):
        assert experiments.fig2a_spec("book", seed, claim_readings("fig2b-higher-layers-critical")[0]) == \
            neuron_importance.fashion_spec("book", fashion["lam"], fashion["beta"], seed)


def test_afm_run_writes_each_claim_with_its_readings(monkeypatch):
    """What ``afm run 1d | 1e | 2b`` writes under ``claims`` (:func:`afm.lab.figures.claims_of`):
    every claim of the figure, each with a per-reading table of at least two readings,
    the shortcut both ways."""
    from afm.lab import figures

    monkeypatch.setattr(rm, "fig1e_under", lambda p, seed, r: sparse_result(
        holds(seed) if r["shortcut"] is False else fails(seed)))
    monkeypatch.setattr(rm, "fig2b_under", lambda p, seed, r: ablation_result(r["shortcut"] is False))
    for figure, results, ids in (("1d", DEFAULT_1E, rm.FIG1D_CLAIMS), ("1e", DEFAULT_1E, rm.FIG1E_CLAIMS),
                                 ("2b", {0: ablation_result(False)}, rm.FIG2B_CLAIMS)):
        written = figures.claims_of(figure, "smoke", results)
        assert [c["id"] for c in written] == list(ids)
        for c in written:
            assert set(c) == {"id", "statement", "value", "spread", "n_seeds", "verdict", "readings"}
            assert len(c["readings"]) >= 2 and {r["reading"]["shortcut"] for r in c["readings"]} == {True, False}
            assert c["verdict"] == "not reproduced"
            assert {r["verdict"] for r in c["readings"] if r["reading"]["shortcut"] is False} == {"reproduced"}


def test_a_one_claim_map_has_room_for_its_reading_labels(tmp_path):
    """Fig. 1d's and 2b's maps have one claim: the grid must still be drawn (matplotlib warns,
    and lays nothing out, when the rotated labels leave the axes no height)."""
    import warnings

    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    from afm.plotting.report import fig_claims_readings

    readings = claim_readings("fig2b-higher-layers-critical")
    table = pd.DataFrame([{"id": "fig2b-higher-layers-critical", "reading": label(r), "value": 0.1,
                           "verdict": "partly"} for r in readings])
    fig = fig_claims_readings(table, title="Fig. 2b: each claim under each of its readings")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(tmp_path / "map.png")
    (ax,) = [a for a in fig.axes if a.get_yticklabels()]
    assert ax.get_window_extent().height > 0.2 * fig.dpi  # the row is drawn, not collapsed
