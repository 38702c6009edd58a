"""README's layout table of the package: every module and folder of ``afm/`` is in it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROWS = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `afm/")]
MODULES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "afm").rglob("*.py")
                 if p.name not in ("__init__.py", "__main__.py") or p.parent.name != "afm")


def _row_of(folder: str) -> str | None:
    return next((row for row in ROWS if row.startswith(f"| `{folder}`")), None)


def test_the_table_is_found():
    assert len(ROWS) > 20 and _row_of("afm/") is not None


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_in_the_layout_table(module):
    """Named by its path, or by its file name in its folder's row (``afm/plotting/``)."""
    folder, name = module.rsplit("/", 1)
    if name == "__init__.py":  # a package: its folder has a row
        assert _row_of(folder + "/"), f"README.md's layout table has no row for `{folder}/`"
        return
    if any(f"`{module}`" in row for row in ROWS):
        return
    row = _row_of(folder + "/")
    assert row is not None and f"`{name}`" in row, (
        f"README.md's layout table does not list {module}: add a row `| `{module}` | what it "
        f"holds |`, or name `{name}` in the row of `{folder}/`")
