"""Fig. 4a-4c drawings from synthetic results: the right panels, points and labels."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from afm.plotting import balance as plotting_balance  # noqa: E402
from afm.plotting.style import BALANCE_LABELS  # noqa: E402
from afm.experiments import balance  # noqa: E402


def test_fig_4a_one_point_per_run_and_a_mean_per_method():
    rng = np.random.default_rng(0)
    per_seed = {s: {m: {"test_acc": 0.8 + 0.01 * rng.random(), "sparsity": rng.random()}
                    for m in balance.METHODS} for s in range(3)}
    fig = plotting_balance.fig_4a_scatter(per_seed)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    points = [c for c in ax.collections if c.get_offsets().shape[0] == 3]
    assert len(points) == len(balance.METHODS)                 # one scatter of 3 runs per method
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"{BALANCE_LABELS[m]} (mean ± std)" for m in balance.METHODS]
    assert "DeCov (mean ± std)" in [t.get_text() for t in ax.get_legend().get_texts()]
    # each large marker sits at the method's mean over seeds, as the chapter's summary says
    summary = balance.summarise(per_seed)
    for container, m in zip(ax.containers, balance.METHODS):
        line = container.lines[0]
        assert line.get_xdata()[0] == pytest.approx(100 * summary[m]["acc"])
        assert line.get_ydata()[0] == pytest.approx(summary[m]["sparsity"])


def test_fig_4b_panel_per_layer():
    layers = ["hidden.0.main", "hidden.1.main", "head"]
    curve = np.linspace(0.9, 0.5, 3)[:, None] * np.ones((3, 2))
    run = {"fractions": [0.0, 0.5, 1.0], "std_rel": 1.0, "layers": layers,
           "curves": {m: {layer: curve for layer in layers} for m in balance.PAIR}}
    fig = plotting_balance.fig_4b_perturbation({0: run, 1: run})
    assert [ax.get_title() for ax in fig.axes] == [
        "hidden layer 1 (hidden.0)", "hidden layer 2 (hidden.1)", "output layer (head)"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), 100 * curve[:, 0])


def test_fig_4c_three_maps_with_metrics():
    rng = np.random.default_rng(1)
    spaces = ["pixels", "sgd", "lateral_inhibition"]
    tsne = {"labels": rng.integers(0, 10, 50), "maps": {k: rng.normal(size=(50, 2)) for k in spaces}}
    metrics = {"silhouette": {k: 0.1 for k in spaces}, "ratio": {k: 1.5 for k in spaces}}
    fig = plotting_balance.fig_4c_tsne(tsne, metrics)
    assert len(fig.axes) == 3
    assert "silhouette 0.100, between/within 1.500" in fig.axes[2].get_title()
