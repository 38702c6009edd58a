"""The built book in a real browser: every page opened in headless Chromium.

Run by ``make browser PROFILE=...`` (and by ``make test``, after ``make html``), against
``_build/<profile>/_build/html``; run by hand with
``AFM_BOOK_HTML=_build/smoke/_build/html python -m pytest tests/browser``. Without
``AFM_BOOK_HTML`` it checks ``_build/<AFM_PROFILE, or smoke>/_build/html``. The book is
served on 127.0.0.1 (a free port); each page must load every image, show no error in a
cell output, have no broken internal link or anchor, render every equation with the
MathJax that the book serves itself, load nothing from outside the book, and log no
JavaScript error (``htmlcheck.page_problems``). ``AFM_BROWSER_SCREENSHOTS=DIR`` also saves
a PNG of every page there.

Skipped when the book has not been built; fails, saying how to install them, when
Chromium or its driver is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

import htmlcheck
from afm.lab.book import notebook_chapters, toc_chapters

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("AFM_BOOK_HTML")
            or ROOT / "_build" / (os.environ.get("AFM_PROFILE") or "smoke") / "_build" / "html")
if not HTML.is_absolute():
    HTML = ROOT / HTML
PAGES = htmlcheck.site_pages(HTML) if HTML.is_dir() else []

pytestmark = pytest.mark.skipif(
    not HTML.is_dir(),
    reason=f"no built book at {HTML}: build it first (make html PROFILE=smoke), "
           f"then run make browser PROFILE=smoke")


def page_of(chapter: Path) -> str:
    """The HTML page of a chapter file, relative to the book's root: book/intro.html."""
    return chapter.relative_to(ROOT).with_suffix(".html").as_posix()


@pytest.fixture(scope="module")
def site() -> htmlcheck.Site:
    """Every page of the book, opened once in headless Chromium."""
    shots = os.environ.get("AFM_BROWSER_SCREENSHOTS")
    try:
        with htmlcheck.serve(HTML) as server, htmlcheck.chromium() as driver:
            return htmlcheck.crawl(driver, server, PAGES, screenshots=Path(shots) if shots else None)
    except htmlcheck.BrowserMissing as err:
        pytest.fail(str(err), pytrace=False)


def test_every_chapter_of_the_toc_was_built():
    missing = [page_of(c) for c in toc_chapters() if page_of(c) not in PAGES]
    assert not missing, f"pages of _toc.yml not in {HTML} (a stale build?): {missing}"


@pytest.mark.parametrize("path", PAGES)
def test_page(site, path):
    problems = htmlcheck.page_problems(site.pages[path], site)
    assert not problems, f"{path}: {len(problems)} problem(s)\n  " + "\n  ".join(problems)


def test_math_is_typeset_by_the_books_own_mathjax(site):
    """The chapters have equations, and MathJax (served from _static/) typeset them all."""
    with_math = {p: page for p, page in site.pages.items() if page.math}
    assert with_math, "no page has an equation: is MathJax math still produced by the build?"
    for path, page in with_math.items():
        assert page.mathjax == "done", f"{path}: {page.mathjax}"
        mathjax = [r for r in page.resources if "mathjax" in r.lower()]
        assert mathjax and all(r.startswith(site.url + "_static/mathjax/") for r in mathjax), (
            f"{path} does not load MathJax from the book's _static/mathjax/: {mathjax}")


def test_chapters_offer_launch_buttons_and_the_executed_notebook(site):
    """Each notebook chapter links to Binder/JupyterHub/Colab and to its executed .ipynb."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    launch = config.get("launch_buttons", {})
    providers = [launch[k].rstrip("/") for k in ("binderhub_url", "jupyterhub_url", "colab_url")
                 if launch.get(k)]
    repo = config["repository"]["url"].rstrip("/").split("github.com/")[-1]
    for chapter in notebook_chapters():
        path = page_of(chapter)
        if path not in site.pages:
            continue                 # not built: test_every_chapter_of_the_toc_was_built says so
        hrefs = [link["href"] for link in site.pages[path].links]
        for provider in providers:
            assert any(h.startswith(provider) and repo in h for h in hrefs), (
                f"{path}: no launch link to {provider} for {repo}")
        ipynb = f"_sources/{Path(path).with_suffix('.ipynb').as_posix()}"
        assert site.url + ipynb in hrefs, f"{path}: no download link to {ipynb}"
        colab = [h for h in hrefs if launch.get("colab_url") and h.startswith(launch["colab_url"])]
        assert all(h.endswith(f"/{ipynb}") for h in colab), (
            f"{path}: Colab must open the executed notebook {ipynb}, not {colab}")
        cells = json.loads((HTML / ipynb).read_text())["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert outputs, f"{ipynb} has no outputs: it is not the executed notebook"
        assert not [o for o in outputs if o.get("output_type") == "error"], f"{ipynb} has an error output"


def test_every_regenerated_figure_has_its_anchor(site):
    """Each figure a chapter names (cell metadata ``mystnb.figure.name``) is an anchor of its
    page, e.g. book/03_neuron_importance.html#fig-2a, that a reader can link to."""
    import jupytext

    for chapter in notebook_chapters():
        path = page_of(chapter)
        if path not in site.pages:
            continue
        names = [c.metadata["mystnb"]["figure"]["name"] for c in jupytext.read(chapter).cells
                 if c.metadata.get("mystnb", {}).get("figure", {}).get("name")]
        missing = [n for n in names if n not in site.pages[path].ids]
        assert not missing, f"{path}: no anchor for the figures {missing}"
        assert len(site.pages[path].figures) >= len(names)


def test_execution_status_page_lists_every_chapter(site):
    path = "book/execution.html"
    assert path in site.pages, f"{path} was not built"
    text = site.pages[path].text
    docnames = [chapter.relative_to(ROOT).with_suffix("").as_posix() for chapter in notebook_chapters()
                if page_of(chapter) in site.pages]
    missing = [d for d in docnames if d not in text]
    assert not missing, f"{path}: the execution table lacks {missing}"
    assert "❌" not in text, f"{path}: a notebook failed to execute"


def test_no_reference_label_is_written_twice():
    """No page says "Eq. Eq. (2)" (prose "Eq." before an {eq} reference that is labelled already)."""
    doubled = {path: htmlcheck.doubled_labels(htmlcheck.page_text(HTML / path)) for path in PAGES}
    doubled = {path: found for path, found in doubled.items() if found}
    assert not doubled, f"reference labels written twice: {doubled}"
