"""The chapters show the science and hide plumbing: their hidden code stays within a budget.

Hidden code is every non-blank line of a code cell tagged ``hide-input``, ``hide-cell``,
``remove-cell`` or ``remove-input``, counting the cell's options (``:mystnb: ...`` or the lines
of a ``---`` YAML block) but not its ``tags`` line or the ``---`` fences.
"""

from __future__ import annotations

import re
from pathlib import Path

BOOK = Path(__file__).resolve().parents[1] / "book"
HIDING = ("hide-input", "hide-cell", "remove-cell", "remove-input")
#: Book-wide budget of hidden lines (issue: "the chapters' hidden code totals at most 600 lines").
BUDGET = 600


def hidden_lines(text: str) -> int:
    """Non-blank lines of the hidden code cells of a MyST notebook's text."""
    total, cell = 0, None
    for line in text.splitlines():
        if cell is None:
            if line.startswith("```{code-cell}"):
                cell, hide = [], False
            continue
        if line.startswith("```"):
            total += len(cell) if hide else 0
            cell = None
        elif re.match(r"^:?tags:", line):
            hide = hide or any(tag in line for tag in HIDING)
        elif line.strip() and line.strip() != "---":
            cell.append(line)
    return total


def test_hidden_lines_counts_hand_made_cells():
    text = ("```{code-cell} ipython3\n:tags: [hide-input]\n\nimport numpy\n\nx = 1\n```\n"
            "```{code-cell} ipython3\nshown = 1\n```\n"
            "```{code-cell} ipython3\n---\nmystnb: {figure: {name: f}}\ntags: [remove-cell]\n---\na\nb\n```\n"
            "```{code-cell} ipython3\n:tags: [full-width]\nc\n```\n")
    assert hidden_lines(text) == 2 + 3  # two code lines; one option line and two code lines


def test_book_hidden_code_is_within_budget():
    per_chapter = {p.name: hidden_lines(p.read_text()) for p in sorted(BOOK.glob("*.md"))}
    assert sum(per_chapter.values()) <= BUDGET, (
        f"{sum(per_chapter.values())} hidden lines > {BUDGET}: move plumbing into afm "
        f"({per_chapter})")


def test_own_model_cost_table_hand_computed():
    from afm.verdicts.own_model import cost_table

    rows, numbers = cost_table({"cnn": {"plain_params": 1000, "plugged_params": 1250,
                                        "plain_s": 0.002, "plugged_s": 0.003, "ratio": 1.5}})
    assert rows[0]["extra parameters (W_f, b)"] == "250 (+25 %)"
    assert numbers == {"ratio_cnn": 1.5, "extra_cnn": 25.0}


def test_own_model_cause_numbers_name_the_broken_networks():
    from afm.verdicts.own_model import cause_table

    def case(paper, detached):
        return {"gain": {v: {"features": 1.0, "logits": 2.0} for v in ("plain", "paper", "unit")},
                "test_acc": {"plain": 0.9, "paper": paper, "detached": detached, "unit": 0.89},
                "lr": 0.1, "dead": None}

    _, n = cause_table({"resnet": case(0.5, 0.6), "cnn": case(0.88, 0.9)})
    assert n["broken"] == "resnet" and n["unit_finding"] == "every network"
    assert n["detach_finding"].startswith("none of the networks it breaks recovers")
    assert n["effect_resnet"] == "hurts (-40.0 points)" and n["effect_cnn"].startswith("makes no difference")
