"""The chapters show the science and hide only plumbing: the code in hidden cells (tagged
hide-input, hide-cell, remove-cell or remove-input) stays within a book-wide budget, so
bookkeeping moves into tested ``afm`` helpers instead of growing in the chapters."""

import re
from pathlib import Path

BOOK = Path(__file__).resolve().parents[1] / "book"
HIDDEN_TAGS = ("hide-input", "hide-cell", "remove-cell", "remove-input")
BUDGET = 600


def hidden_lines(text: str) -> int:
    """Non-blank code lines inside hidden code cells of one MyST notebook."""
    total = 0
    for header, body in re.findall(r"^```\{code-cell\}([^\n]*)\n(.*?)^```$", text, re.S | re.M):
        lines = body.splitlines()
        meta = header + " ".join(line for line in lines if line.startswith(":"))
        if any(tag in meta for tag in HIDDEN_TAGS):
            total += sum(1 for line in lines if line.strip() and not line.startswith(":"))
    return total


def test_hidden_lines_counts_only_hidden_cells():
    text = ("```{code-cell} ipython3\n:tags: [hide-input]\n\nx = 1\n\ny = 2\n```\n\n"
            "```{code-cell} ipython3\nshow(x)\n```\n")
    assert hidden_lines(text) == 2


def test_hidden_code_stays_within_budget():
    per_chapter = {p.name: hidden_lines(p.read_text()) for p in sorted(BOOK.glob("*.md"))}
    assert sum(per_chapter.values()) <= BUDGET, per_chapter
