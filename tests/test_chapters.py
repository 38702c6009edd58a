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
