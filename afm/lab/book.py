"""Helpers for the chapters: the run banner, the closing timing line, and the table of contents."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import torch

from afm.device import default_device
from afm.lab.profiles import current_profile

ROOT = Path(__file__).resolve().parents[2]


class Chapter:
    """Start a chapter's clock; ``chapter.finish()`` prints what it measured, the time it took
    and its profile."""

    def __init__(self, title: str) -> None:
        from afm.lab.claims import RECORDED

        self.title = title
        self.profile = current_profile()
        self.start = time.perf_counter()
        self._first_claim = len(RECORDED)

    def banner(self) -> str:
        return (f"{self.title}: profile '{self.profile}', device {default_device()}, "
                f"torch {torch.__version__}, Python {platform.python_version()}")

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def measured(self) -> str:
        """The claims this chapter recorded, one line each: figure, claim, value ± spread over
        seeds, verdict. Printed by :meth:`finish`, so a reader sees the numbers in JupyterLab,
        where the glued numbers of the text do not render."""
        from afm.lab.claims import RECORDED

        claims = RECORDED[self._first_claim:]
        if not claims:
            return ""
        lines = [f"What this chapter measured ('{self.profile}' profile; mean ± std over seeds):"]
        for c in claims:
            seeds = f"{c.n_seeds} seed" + ("s" if c.n_seeds != 1 else "")
            lines.append(f"  Fig. {c.figure} {c.id}: {c.value:.4g} ± {c.spread:.2g} ({seeds}), {c.verdict}")
            lines.append(f"      {_clip(c.measured, 74)}")
        return "\n".join(lines)

    def finish(self, key: str | None = None) -> str:
        """Print :meth:`measured` and the run time; with ``key``, also glue the run time and the
        profile as ``{key}_runtime`` and ``{key}_run_profile`` (the chapter's opening box)."""
        table = self.measured()
        if table:
            print(table + "\n")
        line = (f"This chapter ran in {self.elapsed():.1f} s in the '{self.profile}' profile "
                f"(results cached on disk are loaded, not recomputed).")
        print(line)
        if key is not None:
            glue(f"{key}_runtime", f"{self.elapsed():.0f} s")
            glue(f"{key}_run_profile", self.profile)
        return line


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def toc_chapters(toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """The chapter files listed in ``_toc.yml`` (root and every part), in order, as ``.md`` paths."""
    import yaml

    spec = yaml.safe_load(toc.read_text())
    files = [spec["root"]]

    def walk(node):
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                if "file" in child:
                    files.append(child["file"])
                walk(child)

    walk(spec)
    return [toc.parent / f"{f}.md" if not f.endswith(".md") else toc.parent / f for f in files]


def notebook_chapters(toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """The chapters of ``_toc.yml`` that are notebooks (they carry a jupytext header)."""
    return [p for p in toc_chapters(toc) if p.read_text().lstrip().startswith("---")
            and "jupytext:" in p.read_text().split("---")[1]]


def strip_docstring(source: str) -> str:
    """``source`` (a function or class definition) without the docstrings of the definitions in it.

    Example:
        >>> print(strip_docstring("def f(x):\\n    'Twice x.'\\n    return 2 * x\\n"))
        def f(x):
            return 2 * x
        <BLANKLINE>
    """
    import ast
    import textwrap

    src = textwrap.dedent(source)
    lines = src.splitlines(keepends=True)
    drop = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                drop.update(range(first.lineno - 1, first.end_lineno))
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def show_source(obj, docstring: bool = False) -> "IPython.display.Code":
    """The source of an ``afm`` function or class, highlighted: chapters show the code that runs.

    Without its docstring by default (the chapter's prose says what it does); ``docstring=True``
    keeps it.
    """
    import inspect

    from IPython.display import Code

    source = inspect.getsource(obj)
    return Code(source if docstring else strip_docstring(source), language="python")


def listing(values, fmt: str = "{:g}") -> str:
    """``values`` as prose: ``"0.1, 1, 10"``.

    Example:
        >>> listing([0.1, 1.0, 10.0]), listing([1000, 5000], "{:,}")
        ('0.1, 1, 10', '1,000, 5,000')
    """
    return ", ".join(fmt.format(v) for v in values)


def images(n: int | None, total: int) -> str:
    """A training-set size as prose: ``"all 54,000"`` for None (the whole set), else ``"1,000"``.

    Example:
        >>> images(None, 54000), images(1000, 54000)
        ('all 54,000', '1,000')
    """
    return f"all {total:,}" if n is None else f"{n:,}"


def glue_numbers(numbers: dict, prefix: str) -> None:
    """:func:`glue` each ``name: value`` of ``numbers`` as ``<prefix>_<name>`` (no display)."""
    for name, value in numbers.items():
        glue(f"{prefix}_{name}", value)


def glue_spreads(arrays: dict, prefix: str, scale: float = 1.0) -> None:
    """For each ``name: per-seed values`` glue ``<prefix>_<name>`` (mean × ``scale``) and
    ``<prefix>_<name>_std`` (sample std over seeds × ``scale``)."""
    from afm.lab.runs import spread

    for name, values in arrays.items():
        mean, std = spread(values)
        glue(f"{prefix}_{name}", scale * mean)
        glue(f"{prefix}_{name}_std", scale * std)


def glue_claims(claims, prefix: str) -> None:
    """Glue the ``numbers`` of every claim (a Claim or an iterable of them) as ``<prefix>_<name>``,
    the names the chapter's prose uses in ``{glue:text}`` (verdicts included)."""
    from afm.lab.claims import Claim

    for claim in [claims] if isinstance(claims, Claim) else claims:
        glue_numbers(claim.numbers, prefix)


def glue(name: str, value, display: bool = False):
    """``myst_nb.glue`` with NumPy scalars turned into Python numbers, for ``{glue:text}`` formats."""
    from myst_nb import glue as _glue

    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    return _glue(name, value, display=display)


#: The notebook metadata key that marks a notebook written by ``python -m afm.lab.book notebooks``.
MARK = "afm_generated_from"


def _written_by_us(path: Path) -> bool:
    import json

    try:
        return MARK in json.loads(path.read_text()).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return False


def write_notebooks(out: Path, chapters: list[Path] | None = None) -> list[Path]:
    """Write each notebook chapter as ``out/<name>.ipynb``; returns the files written.

    Each notebook is marked (metadata ``afm_generated_from``). Marked notebooks of
    chapters no longer in the book are removed; any other file in ``out`` is left
    alone, and a notebook of the same name that this command did not write is an error.

    Raises:
        FileExistsError: when ``out/<name>.ipynb`` exists and was not written here.
    """
    import jupytext

    chapters = notebook_chapters() if chapters is None else chapters
    out.mkdir(parents=True, exist_ok=True)
    targets = {out / f"{chapter.stem}.ipynb": chapter for chapter in chapters}
    for target in targets:
        if target.exists() and not _written_by_us(target):
            raise FileExistsError(f"{target} exists and was not written by this command: move it "
                                  f"away, or write the notebooks into another folder")
    for stale in out.glob("*.ipynb"):
        if stale not in targets and _written_by_us(stale):
            stale.unlink()
    for target, chapter in targets.items():
        nb = jupytext.read(chapter)
        nb.metadata[MARK] = f"{chapter.parent.name}/{chapter.name}"
        jupytext.write(nb, target)
    return list(targets)


def main(argv: list[str]) -> None:
    """``python -m afm.lab.book notebooks OUT``: write each notebook chapter as ``OUT/<name>.ipynb``."""
    if len(argv) != 2 or argv[0] != "notebooks":
        sys.exit("usage: python -m afm.lab.book notebooks OUTDIR")
    try:
        for path in write_notebooks(Path(argv[1])):
            print(path)
    except OSError as err:
        sys.exit(f"afm.lab.book: error: {err}")


if __name__ == "__main__":
    main(sys.argv[1:])
