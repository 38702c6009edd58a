"""The report's picture: every claim's verdict under each pre-registered reading (a heatmap)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

#: The colour of each verdict, best first (the report's table uses the same).
VERDICT_COLOURS = {"reproduced": "#2e7d32", "partly": "#ef6c00", "not reproduced": "#c62828",
                   "missing": "#9e9e9e"}


def fig_claims_readings(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Claims (rows) × readings (columns): each cell coloured by its verdict, its value written in.

    Args:
        table: one row per claim and reading, with ``id``, ``reading`` (a label), ``value`` and
            ``verdict`` (e.g. :func:`afm.experiments.report.readings_table`). Rows and columns
            keep the order in which claims and readings first appear; a reading a claim was not
            measured under is left blank.
        title: drawn above the grid.

    Returns:
        The figure: one coloured, annotated cell per row of ``table``.
    """
    claims = list(dict.fromkeys(table["id"]))
    readings = list(dict.fromkeys(table["reading"]))
    codes = {v: i for i, v in enumerate(VERDICT_COLOURS)}
    grid = table.assign(code=table["verdict"].map(codes))
    code = grid.pivot(index="id", columns="reading", values="code").reindex(index=claims, columns=readings)
    value = grid.pivot(index="id", columns="reading", values="value").reindex(index=claims, columns=readings)
    text = value.map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    # the reading labels stand at 45° above the grid: room for the longest, however few the claims
    top = 0.7 + 0.055 * max(len(str(r)) for r in readings)
    fig, ax = plt.subplots(figsize=(2.5 + 0.75 * len(readings), top + 0.32 * len(claims)),
                           constrained_layout=True)
    sns.heatmap(code.astype(float), mask=code.isna(), annot=text.to_numpy(), fmt="",
                cmap=ListedColormap(list(VERDICT_COLOURS.values())), vmin=-0.5,
                vmax=len(VERDICT_COLOURS) - 0.5, cbar=False, linewidths=1, linecolor="white",
                annot_kws={"fontsize": 7, "color": "white"}, ax=ax)
    ax.set_xlabel("reading (declared before the results)")
    ax.set_ylabel("")
    ax.set_xticks(np.arange(len(readings)) + 0.5, readings, rotation=45, ha="left",
                  rotation_mode="anchor", fontsize=8)
    ax.set_yticks(np.arange(len(claims)) + 0.5, claims, rotation=0, fontsize=8)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_facecolor("white")
    ax.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=10)
    return fig
