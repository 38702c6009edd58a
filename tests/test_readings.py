"""The pre-registered readings: every claim the fidelity review names has them, every setting is
one the layer, the losses, the trainer and the pruning accept, and the expansion is fixed."""

from dataclasses import dataclass

import pytest
import torch

from afm import MLP, VGG9, ForgettingLayer, TrainConfig, forgetting_loss, lateral_inhibition_loss
from afm.baselines.pruning import keep_top, keep_top_per_layer
from afm.importance import weight_importance
from afm.lab.claims import EXPECTED_CLAIMS
from afm.lab.readings import (AXES, CLAIM_READINGS, THRESHOLDS, UNVARIED, apply_reading,
                              check_reading, claim_readings, claims_moved_by, is_default, label,
                              readings_markdown)
from afm.lab.runs import Run
from afm.regularisers import Forgetting
from afm.train import make_optimizer

#: The figures whose claims are about the layer's mechanism or importance (shortcut × λ at least).
MECHANISM = {"1c", "1d", "1e", "1f", "2a", "2b", "2c", "2d", "3b"}


def claims_of(figures):
    return [c for c, (fig, _) in EXPECTED_CLAIMS.items() if fig in figures]


def test_every_named_claim_has_readings():
    assert set(CLAIM_READINGS) <= set(EXPECTED_CLAIMS)
    for claim in claims_of(MECHANISM):
        if claim in UNVARIED:
            assert len(UNVARIED[claim]) > 20  # a reason, not a placeholder
            continue
        assert any({"shortcut", "lam"} <= set(d) for d in CLAIM_READINGS[claim]), claim
    for claim in claims_of({"3a", "3c"}):
        assert any("optimizer" in d for d in CLAIM_READINGS[claim]), claim
    for claim in claims_of({"3c"}):
        assert any("batch_norm" in d for d in CLAIM_READINGS[claim]), claim
    for claim in claims_of({"3b"}):
        assert any({"eq2_outside", "eq2_threshold"} <= set(d) for d in CLAIM_READINGS[claim])
    assert set(UNVARIED) <= set(EXPECTED_CLAIMS) and not set(UNVARIED) & set(CLAIM_READINGS)


def test_axes_are_well_formed():
    keys = [k for axis in AXES.values() for k in axis.keys]
    assert len(keys) == len(set(keys)), "two axes set the same setting"
    for name, axis in AXES.items():
        assert axis.name == name and axis.paper and axis.why_open and axis.equation
        assert len(axis.alternatives) >= 2
        assert len({a.label for a in axis.alternatives}) == len(axis.alternatives)
        assert len({a.settings for a in axis.alternatives}) == len(axis.alternatives)
        assert all(tuple(k for k, _ in a.settings) == axis.keys for a in axis.alternatives)
        assert claims_moved_by(name), f"axis {name} bears on no claim"
    assert all(a in AXES for designs in CLAIM_READINGS.values() for d in designs for a in d)


def test_shortcut_settings_are_eq5_and_eq3():
    h = torch.rand(3, 4) + 0.1
    for alternative in AXES["shortcut"].alternatives:
        layer = ForgettingLayer(4, **alternative.as_dict())
        expected = 1.5 * h if layer.shortcut else 0.5 * h  # σ = 0.5 before learning
        torch.testing.assert_close(layer(h), expected)
    assert [a.as_dict()["shortcut"] for a in AXES["shortcut"].alternatives] == [True, False]


def test_lateral_lam_beta_rho_settings_feed_the_losses():
    h, s = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, 0.25]])
    readings = [a.as_dict()["lateral"] for a in AXES["lateral"].alternatives]
    values = {r: float(lateral_inhibition_loss([h], [s], reading=r)) for r in readings}
    # asymmetric: 1·2·(0.5·0.25 + 0.75·0.5) = 1.0; symmetric: 2·1·2·(1 - 0.125) = 3.5
    assert values == pytest.approx({"asymmetric": 1.0, "symmetric": 3.5})
    for rho in AXES["rho"].alternatives:
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), ForgettingLayer(4, **rho.as_dict()))
        _ = model(torch.randn(5, 3))
        for lam in AXES["lam"].alternatives:
            setting = lam.as_dict()
            if setting["lam_rule"] == "validation":
                assert setting["lam"] is None and setting["beta"] is None
                continue
            assert setting["lam_rule"] == "fixed" and setting["lam"] > 0 and setting["beta"] > 0
            for lateral in AXES["lateral"].alternatives:
                Forgetting(setting["lam"], setting["beta"], lateral.as_dict()["lateral"])
                loss = forgetting_loss(model, setting["lam"], setting["beta"], lateral.as_dict()["lateral"])
                assert torch.isfinite(loss)


def test_optimizer_settings_make_the_optimizer_they_name():
    model = torch.nn.Linear(2, 2)
    for alternative in AXES["optimizer"].alternatives:
        setting = alternative.as_dict()
        optimizer = make_optimizer(model, TrainConfig(**setting))
        assert isinstance(optimizer, torch.optim.SGD)
        assert optimizer.defaults["momentum"] == setting["momentum"]
        assert optimizer.defaults["lr"] == setting["lr"]
    assert {a.as_dict()["momentum"] for a in AXES["optimizer"].alternatives} == {0.0, 0.9}


def test_eq2_settings_feed_the_pruning():
    omega = {"hidden.0.forget": torch.tensor([1.0, 0.0, 0.5])}
    for alternative in AXES["eq2_outside"].alternatives:
        outside = alternative.as_dict()["eq2_outside"]
        theta = weight_importance(MLP([4, 3, 2]), omega, outside=outside)
        # the input pixels have Ω = outside: θ = 1 - (1 - Ω_i)(1 - outside)
        expected = 1 - (1 - omega["hidden.0.forget"]) * (1 - outside)
        torch.testing.assert_close(theta["hidden.0.main.weight"][:, 0], expected)
    assert THRESHOLDS == {"global": keep_top, "per_layer": keep_top_per_layer}
    scores = {"a": torch.tensor([0.1, 0.2]), "b": torch.tensor([0.8, 0.9])}
    kept = {a.as_dict()["eq2_threshold"]: THRESHOLDS[a.as_dict()["eq2_threshold"]](scores, 0.5)
            for a in AXES["eq2_threshold"].alternatives}
    assert kept["global"]["a"].sum() == 0 and kept["per_layer"]["a"].sum() == 1


def test_batch_norm_setting_builds_the_vgg_it_names():
    for alternative in AXES["batch_norm"].alternatives:
        net = VGG9(width=1 / 16, **alternative.as_dict())
        has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
        assert has_bn == alternative.as_dict()["batch_norm"]
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_expansion_is_fixed_and_varies_the_shortcut():
    expected_2a = [
        {"shortcut": s, "lateral": lat, "lam_rule": rule, "lam": lam, "beta": beta}
        for s, lat, rule, lam, beta in [
            (True, "asymmetric", "validation", None, None), (True, "asymmetric", "fixed", 0.1, 1e-4),
            (True, "asymmetric", "fixed", 1.0, 1e-4), (False, "asymmetric", "validation", None, None),
            (False, "asymmetric", "fixed", 0.1, 1e-4), (False, "asymmetric", "fixed", 1.0, 1e-4),
            (True, "symmetric", "validation", None, None)]]
    assert claim_readings("fig2a-positive-order-80") == expected_2a
    for claim in CLAIM_READINGS:
        readings = claim_readings(claim)
        assert readings == claim_readings(claim)  # deterministic
        assert len(readings) >= 2 and is_default(readings[0]) and label(readings[0]) == "default"
        assert not any(is_default(r) for r in readings[1:])
        assert all(r.keys() == readings[0].keys() for r in readings)
        assert len({label(r) for r in readings}) == len(readings)  # no repeats
        assert all(check_reading(r) == r for r in readings)
        if EXPECTED_CLAIMS[claim][0] in {"1c", "1f", "2a", "2d", "3b"}:
            assert {r["shortcut"] for r in readings} == {True, False}, claim
    assert claim_readings("fig2d-plain-near-uniform") == []
    with pytest.raises(ValueError, match="unknown claim"):
        claim_readings("fig9z-nothing")


def test_bad_readings_are_refused():
    with pytest.raises(ValueError, match="unknown reading settings"):
        check_reading({"shortcuts": False})
    with pytest.raises(ValueError, match="not a declared reading of 'lam'"):
        check_reading({"lam_rule": "fixed", "lam": 0.3, "beta": 1e-4})
    with pytest.raises(ValueError, match="unknown axis"):
        claims_moved_by("momentum")


def test_apply_reading_to_a_run_spec():
    reading = {"shortcut": False, "lateral": "symmetric", "lam_rule": "fixed", "lam": 1.0,
               "beta": 1e-4, "rho": 4.0}
    spec = apply_reading(Run(lam=0.1, beta=1e-3), reading)
    assert (spec.shortcut, spec.lateral, spec.lam, spec.beta, spec.rho) == (False, "symmetric", 1.0, 1e-4, 4.0)
    kept = apply_reading(Run(lam=0.1, beta=1e-3), claim_readings("fig2a-random-between")[3])
    assert (kept.shortcut, kept.lam, kept.beta) == (False, 0.1, 1e-3)  # λ stays the validated one

    @dataclass(frozen=True)
    class RunShaped:  # the optimiser in a nested TrainConfig, the VGG's batch norm an option
        lateral: str = "asymmetric"
        shortcut: bool = True
        options: tuple = (("width", 0.125),)
        train: TrainConfig = TrainConfig()

    run = apply_reading(RunShaped(), {"lateral": "symmetric", "optimizer": "sgd", "momentum": 0.0,
                                      "lr": 0.01, "batch_norm": False})
    assert run.lateral == "symmetric" and run.options == (("width", 0.125), ("batch_norm", False))
    assert (run.train.momentum, run.train.lr, run.train.epochs) == (0.0, 0.01, TrainConfig().epochs)

    vgg = apply_reading(Run(arch="vgg9", options=(("width", 1 / 16),)), {"batch_norm": False,
                        "optimizer": "sgd", "momentum": 0.0, "lr": 0.01})
    assert vgg.option("batch_norm") is False and vgg.train.momentum == 0.0 and vgg.train.lr == 0.01
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in vgg.build().modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in Run(arch="vgg9", options=(("width", 1 / 16),)).build().modules())

    @dataclass(frozen=True)
    class NoMomentum:
        optimizer: str = "sgd"
        lr: float = 0.05

    with pytest.raises(ValueError, match=r"no field for the reading settings \['momentum'\]"):
        apply_reading(NoMomentum(), {"optimizer": "sgd", "momentum": 0.0, "lr": 0.01})


def test_the_appendix_renders_the_declaration():
    text = readings_markdown()
    assert len(text.splitlines()) == len(AXES)
    for name, axis in AXES.items():
        line = next(li for li in text.splitlines() if li.startswith(f"* **{name}**"))
        assert axis.paper in line and axis.why_open in line
        assert f"**{axis.default.label}** (default)" in line
        assert all(a.label in line for a in axis.alternatives)
        assert all(f"`{c}`" in line for c in claims_moved_by(name))
