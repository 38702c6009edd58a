"""What readers, students and teachers rely on: licences, JupyterLab pairing, the install
cell, the opening box and exercises of each chapter, figures with anchors and alt text, and
one file of exact versions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jupytext
import pytest
import yaml

from afm.lab import jupyterlab
from afm.lab.book import Chapter, notebook_chapters, toc_chapters
from afm.lab.claims import RECORDED, Claim

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = notebook_chapters()
MECHANISM = [c for c in CHAPTERS if re.match(r"0[1-6]_", c.name)]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def test_there_are_six_mechanism_chapters():
    assert [c.name[:2] for c in MECHANISM] == ["01", "02", "03", "06", "04", "05"]


def test_licences_and_citation():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "CC BY 4.0" in (ROOT / "LICENSE-CONTENT.md").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] and cff["title"] and cff["authors"]
    paper = cff["references"][0]
    assert paper["title"] == "Learning by active forgetting for neural networks"
    assert any(i["value"] == "arXiv:2111.10831" for i in paper["identifiers"])
    readme = (ROOT / "README.md").read_text()
    assert "LICENSE-CONTENT.md" in readme and "CITATION.cff" in readme
    assert "CC BY 4.0" in CONFIG["html"]["extra_footer"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_jupyterlab_pairs_each_chapter_with_a_notebook_in_notebooks(chapter):
    """jupytext.toml applies (no chapter header overrides it): saving in JupyterLab writes
    _notebooks/<chapter>.ipynb, never an .ipynb beside the .md."""
    out = subprocess.run([sys.executable, "-m", "jupytext", "--paired-paths", str(chapter.relative_to(ROOT))],
                         capture_output=True, text=True, cwd=ROOT).stdout.split()
    assert f"_notebooks/{chapter.stem}.ipynb" in out, out


def test_jupyterlab_default_viewer_override(tmp_path):
    """The override makes JupyterLab open Markdown as jupytext notebooks; JupyterLab's own
    reader of overrides.d (when installed) sees it."""
    path = jupyterlab.write_overrides(tmp_path)
    viewers = json.loads(path.read_text())[jupyterlab.DOCMANAGER]["defaultViewers"]
    assert viewers == {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    settings_utils = pytest.importorskip("jupyterlab_server.settings_utils")
    overrides, error = settings_utils._get_overrides(str(tmp_path))
    assert not error and overrides[jupyterlab.DOCMANAGER]["defaultViewers"] == viewers


def _cells(chapter):
    return jupytext.read(chapter).cells


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_installs_afm_from_the_repository_setting(chapter):
    cell = next(c for c in _cells(chapter) if c.cell_type == "code")
    assert "remove-cell" in cell.metadata.get("tags", [])
    repo = CONFIG["repository"]
    assert re.search(r"try:\n\s+import afm\nexcept ImportError:\n\s+%pip install", cell.source)
    assert f'"afm[book] @ git+{repo["url"]}@{repo["branch"]}"' in cell.source, (
        "the install cell must use _config.yml's repository url and branch")


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.stem != "appendix_equations"],
                         ids=lambda p: p.stem)
def test_chapter_opens_with_objectives_prerequisites_and_run_time(chapter):
    text = chapter.read_text()
    box = text.split("```{admonition} In this chapter", 1)[1].split("\n```\n", 1)[0]
    assert "**You will**" in box and "**Before you start:**" in box and "**Run time.**" in box
    key = re.search(r'chapter\.finish\("(\w+)"\)', text).group(1)
    assert f"{{glue:text}}`{key}_runtime`" in box, "the run time is glued from the chapter's timer"
    assert "{doc}`glossary`" in box


@pytest.mark.parametrize("chapter", MECHANISM, ids=lambda p: p.stem)
def test_mechanism_chapter_has_exercises_with_folded_solutions(chapter):
    part = chapter.read_text().split("\n## Exercises\n", 1)
    assert len(part) == 2, "no Exercises section"
    exercises = re.findall(r"```\{admonition\} Exercise \d+:", part[1])
    solutions = re.findall(r"````\{admonition\} Solution\n:class: dropdown\n", part[1])
    assert len(exercises) >= 2 and len(solutions) == len(exercises)
    assert "```python" in part[1], "at least one exercise changes code and reruns"


def test_glossary_is_in_the_toc_and_every_term_used_is_defined():
    glossary = ROOT / "book" / "glossary.md"
    assert glossary in toc_chapters()
    body = glossary.read_text().split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms = {line.strip().lower() for line in body.splitlines() if line and not line[0].isspace()}
    used = {m.lower() for p in toc_chapters() for m in re.findall(r"\{term\}`([^`<]+)`", p.read_text())}
    assert used and used <= terms, f"undefined terms: {used - terms}"


def test_every_figure_cell_has_a_name_a_caption_and_alt_text():
    names = []
    for chapter in toc_chapters():
        if chapter not in CHAPTERS and chapter.name != "appendix_equations.md":
            continue
        for cell in _cells(chapter):
            if cell.cell_type == "code" and "plt.show()" in cell.source:
                meta = cell.metadata.get("mystnb", {})
                figure, image = meta.get("figure", {}), meta.get("image", {})
                assert figure.get("name") and figure.get("caption"), (chapter.name, cell.source[:80])
                assert len(image.get("alt", "")) > 30, (chapter.name, figure.get("name"))
                names.append(figure["name"])
    assert len(names) == len(set(names)) >= 19, names


def test_chapter_prints_the_claims_it_measured(capsys):
    chapter = Chapter("test")
    RECORDED.append(Claim("fig9z-demo", "9z", "x", "a statement", "what was measured", 0.8125,
                          0.05, 3, "smoke", "partly"))
    try:
        chapter.finish()
    finally:
        RECORDED.pop()
    out = capsys.readouterr().out
    assert "fig9z-demo" in out and "0.8125 ± 0.05" in out and "(3 seeds)" in out and "partly" in out
    assert "what was measured" in out and "This chapter ran in" in out
    assert Chapter("nothing").measured() == ""


def _pins():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return dict(l.split("==") for l in lines if l and not l.startswith("#"))


def test_constraints_pin_every_dependency_and_are_used_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values()
                                              for r in extra]
    names = {re.split(r"[<>=\[ ;]", r)[0].lower() for r in requirements}
    assert not [r for r in project["dependencies"] if "==" in r], "pyproject.toml gives ranges"
    assert names <= set(pins) | {"dask"} and "dask" in pins and "distributed" in pins
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    for path in (".ci/run", "Makefile", "environment.yml", "binder/postBuild"):
        assert "-c constraints.txt" in (ROOT / path).read_text() or (
            "constraints.txt" in (ROOT / path).read_text()), path
    assert "download.pytorch.org/whl/cpu" in (ROOT / "binder/postBuild").read_text()
    assert "AFM_PROFILE" in (ROOT / "binder/start").read_text()


def test_dask_is_an_extra_and_its_absence_is_a_clear_error(monkeypatch):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [r for r in project["dependencies"] if r.startswith("dask")]
    assert any(r.startswith("dask[distributed]") for r in project["optional-dependencies"]["cluster"])
    from afm.lab import sweep

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ImportError, match=r"\[cluster\]"):
        sweep.run_many(abs, [(1,)], scheduler="tcp://127.0.0.1:8786", progress=False)
