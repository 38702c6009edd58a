"""The appendix's sensitivity figure and the maps of claims × readings of the chapter "The claims
under their readings", drawn from :mod:`afm.experiments.readings` (matplotlib, seaborn)."""

from __future__ import annotations

import matplotlib.pyplot as plt


def fig_sensitivity(grid: "pandas.DataFrame", rhos: "pandas.DataFrame"):
    """Validation accuracy and sparsity (Eq. (1)) of the complete layer over the λ × β grid
    (two annotated heatmaps) and over ρ (a line plot, log scale).

    Args:
        grid: one row per (``lam``, ``beta``) with ``val_acc`` (a fraction) and ``sparsity``.
        rhos: one row per ``rho`` with ``val_acc`` and ``sparsity``.
    """
    import seaborn as sns

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    for ax, value, title, cmap in ((axes[0], "val_acc", "validation accuracy (%)", "viridis"),
                                   (axes[1], "sparsity", "sparsity, Eq. (1)", "magma")):
        table = grid.pivot(index="lam", columns="beta", values=value) * (100 if value == "val_acc" else 1)
        sns.heatmap(table, ax=ax, cmap=cmap, cbar=False, annot=True, annot_kws={"fontsize": 8},
                    fmt=".2f" if value == "val_acc" else ".3f",
                    xticklabels=[f"{b:g}" for b in table.columns], yticklabels=[f"{l:g}" for l in table.index])
        ax.set_xlabel("β (IRS)")
        ax.set_ylabel("λ (ERS)")
        ax.set_title(title, fontsize=10)
    axes[2].plot(rhos["rho"], 100 * rhos["val_acc"], marker="o", label="validation accuracy (%)")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("ρ (steepness of δ)")
    axes[2].set_ylabel("validation accuracy (%)")
    twin = axes[2].twinx()
    twin.plot(rhos["rho"], rhos["sparsity"], marker="s", color="#C44E52", label="sparsity")
    twin.set_ylabel("sparsity", color="#C44E52")
    axes[2].set_title("over ρ (λ = 1, β = 1e-4)", fontsize=10)
    fig.suptitle("Sensitivity of the complete layer (MLP 784-64-64-10, Fashion-MNIST, seed 0)",
                 x=0.02, ha="left")
    return fig


def fig_readings(table: "pandas.DataFrame", figure_id: str):
    """Fig. ``figure_id``'s claims (rows) under each of their readings (columns), coloured by the
    verdict and annotated with the measured value: the report's map
    (:func:`afm.plotting.report.fig_claims_readings`) for one figure.

    Args:
        table: :func:`afm.experiments.readings.table_of` of the figure's claims.
        figure_id: e.g. ``"2a"``, for the title.
    """
    from afm.plotting.report import fig_claims_readings

    return fig_claims_readings(table, title=f"Fig. {figure_id}: each claim under each of its readings")
