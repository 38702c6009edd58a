"""Chapter 2's pieces that do not need a full training run: variants, the switch recorder
(Fig. 1f), the switch summary, and the drawings from synthetic results."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from afm import MLP, TrainConfig, train  # noqa: E402
from afm.experiments import sparse_coding as sc  # noqa: E402
from afm.regularisers import Forgetting  # noqa: E402


def test_variants_differ_only_in_the_forgetting_losses():
    plain, ers, full = (sc.variant_spec("smoke", v, 1, lam=0.5, beta=1e-3) for v in sc.VARIANTS)
    assert not plain.forgetting and plain.lam == plain.beta == 0
    assert ers.forgetting and ers.lam == 0.5 and ers.beta == 0
    assert full.forgetting and full.lam == 0.5 and full.beta == 1e-3
    assert {s.seed for s in (plain, ers, full)} == {1}
    assert ers.train == full.train == plain.train
    with pytest.raises(ValueError, match="unknown variant"):
        sc.variant_spec("smoke", "IRS", 0, 1.0, 1e-4)
    assert sc.excitatory_name("hidden.1.forget") == "hidden.1.act"
    with pytest.raises(ValueError, match="X.forget"):
        sc.excitatory_name("hidden.1.act")


def test_gate_trace_records_without_changing_training():
    torch.manual_seed(0)
    x, y = torch.randn(96, 6), torch.randint(0, 3, (96,))
    config = TrainConfig(epochs=2, batch_size=16, lr=0.05, seed=0)

    def fit(extra):
        torch.manual_seed(1)
        model = MLP([6, 5, 4, 3])
        hist = train(model, (x, y), config, [Forgetting(1.0, 1e-3)], callbacks=extra,
                     progress=False, device=torch.device("cpu"))
        return model, hist

    trace = sc.GateTrace(every=4)
    m1, h1 = fit([trace])
    m2, h2 = fit([])
    assert h1.batch_loss == h2.batch_loss  # the recorder adds exactly nothing
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    out = trace.result()
    assert out["steps"].tolist() == [0, 4, 8]  # 12 steps, every 4th
    assert list(out["gates"]) == ["hidden.0.act", "hidden.1.act"]
    assert out["gates"]["hidden.0.act"].shape == (3, 5)
    np.testing.assert_allclose(out["gates"]["hidden.0.act"][0], 0.5)  # half open before learning
    with pytest.raises(ValueError, match="positive int"):
        sc.GateTrace(0)
    with pytest.raises(ValueError, match="no ForgettingLayer"):
        sc.GateTrace(1).on_step(MLP([6, 5, 3], forgetting=False), 0, 0.0)


def test_switch_summary():
    gates = {"a": np.array([[0.5, 0.5], [0.05, 0.9]]), "b": np.array([[0.5, 0.5, 0.5], [0.0, 0.01, 0.2]])}
    s = sc.switch_summary(gates, closed=0.1)
    assert s["start_mean"] == 0.5
    assert s["closed_share"] == pytest.approx(3 / 5)
    assert s["end_mean"] == pytest.approx((0.05 + 0.9 + 0.0 + 0.01 + 0.2) / 5)
    assert s["per_layer"]["a"]["closed_share"] == 0.5
    assert s["per_layer"]["b"]["closed_share"] == pytest.approx(2 / 3)


def _synthetic(seed, layers=("hidden.0.act", "hidden.1.act"), sizes=(6, 8)):
    rng = np.random.default_rng(seed)
    variants = {}
    for v in sc.VARIANTS:
        variants[v] = {"test_acc": 0.9 + 0.01 * rng.random(), "val_acc": 0.9,
                       "sparsity": {l: rng.random() for l in layers},
                       "act_mean": {l: rng.random(n) for l, n in zip(layers, sizes)},
                       "act_std": {l: rng.random(n) for l, n in zip(layers, sizes)},
                       "frequency": {l: rng.random(n) for l, n in zip(layers, sizes)},
                       "gates": {} if v == "plain" else {l: rng.random((3, n)) for l, n in zip(layers, sizes)}}
    sweep = [{"lam": lam, "variant": v, "sparsity": {l: rng.random() for l in layers},
              "test_acc": 0.9, "val_acc": 0.9, "switches": sc.switch_summary(variants["ERS"]["gates"])}
             for lam in (0.1, 1.0) for v in ("ERS", "ERS + IRS")]
    return {"lam": 0.1, "beta": 1e-4, "seed": seed, "layers": list(layers), "variants": variants,
            "sweep": sweep}


def test_figures_from_synthetic_results():
    from afm.plotting import sparse_coding as ps

    results = {0: _synthetic(0), 1: _synthetic(1)}
    fig = ps.fig_1d_activations(results)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(),
                               np.sort(results[0]["variants"]["plain"]["act_mean"]["hidden.0.act"])[::-1])
    fig = ps.fig_1e_sparsity(results)
    assert len(fig.axes) == 3
    heights = [p.get_height() for p in fig.axes[0].patches]
    expected = np.mean([results[s]["variants"]["plain"]["sparsity"]["hidden.0.act"] for s in results])
    assert heights[0] == pytest.approx(expected)
    traces = {0: {"ERS, λ=0.1": {"steps": np.arange(0, 30, 10), "steps_per_epoch": 10, "epochs": 3,
                                 "gates": results[0]["variants"]["ERS"]["gates"]}}}
    fig = ps.fig_1f_switches(traces)
    assert len([a for a in fig.axes if a.images]) == 2
    with pytest.raises(ValueError, match="no results"):
        ps.fig_1d_activations({})
