"""The checks of the browser test can fail: small pages, each with one known defect.

A clean page must pass; every defect (broken link or anchor, missing or corrupt image,
error output, raw TeX, TeX error, a resource from outside the site, a JavaScript error)
must be reported on its page and only there. The pages go through the same path as the
book: served on 127.0.0.1, opened in headless Chromium, judged by ``page_problems``.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import htmlcheck

ROOT = Path(__file__).resolve().parents[2]
MATHJAX = ROOT / "_build" / "static" / "mathjax"          # installed by `make mathjax`
DOT_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
# As Sphinx and myst-nb write it: MathJax only inside .math, in sections marked mathjax_ignore.
MATHJAX_HEAD = """<script>window.MathJax = {"options": {"processHtmlClass":
  "tex2jax_process|mathjax_process|math|output_area"}}</script>
<script defer="defer" src="_static/mathjax/tex-mml-chtml.js"></script>"""


def html(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>t</title>{head}</head><body>{body}</body></html>"


CLEAN = html("""<section id="top" class="tex2jax_ignore mathjax_ignore"><h1>A clean page</h1>
  <p><a href="other.html#sec">a section</a>, <a href="#top">the top</a>, <a href="sub/">a folder</a>,
  <a href="other.html">a page</a>, <a href="https://example.org/">the web</a>, <a href="#">nothing</a>,
  <a href="_sources/other.ipynb">a notebook</a>.</p>
  <img src="dot.png" alt="a dot">
  <div class="cell_output docutils container"><div class="output stream highlight-myst-ansi notranslate">
    <div class="highlight"><pre>training done: loss 0.1, Error rate 2 %</pre></div></div></div>
  <p>Prices in $ and in € are plain text; so is a lone \\ backslash, and $5 or $10.</p>
  <pre>code may show \\(raw\\) TeX and $$x$$</pre>
  <div class="cell_output docutils container"><figure class="align-default" id="fig-dot">
    <img src="dot.png" alt="A single black dot in the middle of a white square">
    <figcaption><p>Fig. 0, a dot.</p></figcaption></figure></div></section>""")

# page: (html, what its problem line must contain)
DEFECTS = {
    "broken_link.html": (html('<a href="missing.html">gone</a>'), "broken link 'missing.html'"),
    "broken_anchor.html": (html('<a href="other.html#nowhere">x</a>'), "no anchor #nowhere in other.html"),
    "broken_self_anchor.html": (html('<p id="here"><a href="#there">x</a></p>'),
                                "no anchor #there in broken_self_anchor.html"),
    "file_link.html": (html('<a href="file:///etc/hostname">x</a>'), "links to a file on the builder's disk"),
    "missing_image.html": (html('<img src="_images/missing.png" alt="">'), "image does not load"),
    "corrupt_image.html": (html('<img src="corrupt.png" alt="">'), "image does not load"),
    "traceback.html": (html("""<div class="cell_output docutils container">
        <div class="output traceback highlight-ipythontb notranslate"><div class="highlight"><pre>
        ValueError  Traceback (most recent call last)\nValueError: boom</pre></div></div></div>"""),
        "error output"),
    "stderr.html": (html("""<div class="cell_output docutils container"><div class="output stderr
        highlight-myst-ansi notranslate"><div class="highlight"><pre>RuntimeError: no data</pre></div></div></div>"""),
        "error on stderr"),
    "printed_traceback.html": (html("""<div class="cell_output docutils container"><div class="output stream
        highlight-myst-ansi notranslate"><div class="highlight"><pre>Traceback (most recent call last):
          File "x.py", line 1</pre></div></div></div>"""), "traceback in an output"),
    "system_message.html": (html('<div class="system-message"><p>Unknown directive type "figur".</p></div>'),
                            "Sphinx/docutils error"),
    "raw_inline.html": (html(r"<p>the layer computes \(h' = h \odot \sigma\).</p>"), "raw TeX in the text"),
    "raw_display.html": (html(r"<p>$$\sum_i r_i$$</p>"), "raw TeX in the text"),
    "raw_dollar.html": (html(r"<p>each switch $\sigma_i$ is a number.</p>"), "raw TeX in the text"),
    "math_no_mathjax.html": (html(r'<span class="math notranslate nohighlight">\(x\)</span>'),
                             "the page has math but does not load MathJax"),
    "external.html": (html("<p>x</p>", '<script src="http://127.0.0.2:9/tex-mml-chtml.js"></script>'),
                      "from outside the book"),
    "js_error.html": (html("<script>notAFunction();</script>"), "browser console"),
    "redirect_missing.html": (html("", '<meta http-equiv="refresh" content="0; url=nowhere.html">'),
                              "the server has no /nowhere.html"),
    "figure_no_alt.html": (html('<figure id="fig-a"><img src="dot.png"></figure>'), "no alt text"),
    "figure_hash_alt.html": (html('<div class="cell_output"><figure id="fig-b"><img src="dot.png" '
                                  'alt="0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3.png"></figure></div>'),
                             "its alt text is a file name"),
    "figure_name_alt.html": (html('<figure id="fig-c"><img src="dot.png" alt="dot"></figure>'),
                             "its alt text is a file name"),
    "figure_no_anchor.html": (html('<div class="cell_output"><img src="dot.png" '
                                   'alt="A single black dot in the middle of a white square"></div>'),
                              "figure without an anchor to link to"),
}
MATH_OK = html(r"""<section class="tex2jax_ignore mathjax_ignore"><p>inline
  <span class="math notranslate nohighlight">\(h' = h \odot \sigma\)</span>, display:</p>
  <div class="math notranslate nohighlight">\[\sigma = \delta\left(\rho \cdot h W_f\right), \qquad
  \delta(z) = \frac{1}{1 + e^{-z}}\]</div>
  <div class="math notranslate nohighlight">\[\begin{aligned} a &amp;= b \\ c &amp;= \mathbb{R}^N \end{aligned}\]</div>
  </section>""", MATHJAX_HEAD)
MATH_DEFECTS = {
    "math_merror.html": (html(r'<span class="math notranslate nohighlight">\(x^2^3\)</span>', MATHJAX_HEAD),
                         "TeX error"),                            # a double exponent
    "math_unbalanced.html": (html(r'<span class="math notranslate nohighlight">\(\frac{1}{2\)</span>', MATHJAX_HEAD),
                             "math not typeset"),                 # MathJax cannot even find it
    "math_undefined.html": (html(r'<span class="math notranslate nohighlight">\(\notamacro x\)</span>', MATHJAX_HEAD),
                            "undefined TeX macro"),
    "math_missing_mathjax.html": (html(r'<span class="math notranslate nohighlight">\(x\)</span>',
                                       '<script defer src="_static/nomathjax/tex-mml-chtml.js"></script>'),
                                  "MathJax did not load"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> htmlcheck.Site:
    root = tmp_path_factory.mktemp("site")
    (root / "clean.html").write_text(CLEAN)
    (root / "redirect.html").write_text(html("", '<meta http-equiv="refresh" content="0; url=clean.html">'))
    (root / "other.html").write_text(html('<section id="sec"><h2>A section</h2></section>'))
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text(html("<p>a folder</p>"))
    (root / "_sources").mkdir()
    (root / "_sources" / "other.ipynb").write_text("{}")
    (root / "dot.png").write_bytes(DOT_PNG)
    (root / "corrupt.png").write_bytes(b"not a png at all")
    pages = {name: text for name, (text, _) in DEFECTS.items()}
    if MATHJAX.is_dir():
        (root / "_static").mkdir()
        (root / "_static" / "mathjax").symlink_to(MATHJAX, target_is_directory=True)
        pages |= {"math_ok.html": MATH_OK} | {n: t for n, (t, _) in MATH_DEFECTS.items()}
    for name, text in pages.items():
        (root / name).write_text(text)
    try:
        with htmlcheck.serve(root) as server, htmlcheck.chromium() as driver:
            return htmlcheck.crawl(driver, server, htmlcheck.site_pages(root))
    except htmlcheck.BrowserMissing as err:
        pytest.fail(str(err), pytrace=False)


def test_site_pages_skips_static_and_sources(site):
    assert "clean.html" in site.pages and "sub/index.html" in site.pages
    assert not [p for p in site.pages if p.startswith(("_static", "_sources"))]


@pytest.mark.parametrize("path", ["clean.html", "other.html", "sub/index.html", "redirect.html"])
def test_a_clean_page_passes(site, path):
    assert htmlcheck.page_problems(site.pages[path], site) == []


def test_a_redirect_page_is_followed(site):
    """Like the book's index.html, which sends the reader to book/intro.html."""
    page = site.pages["redirect.html"]
    assert page.url.endswith("/clean.html") and "a section" in [link["text"] for link in page.links]


@pytest.mark.parametrize("path", sorted(DEFECTS))
def test_each_defect_is_caught(site, path):
    problems = htmlcheck.page_problems(site.pages[path], site)
    expected = DEFECTS[path][1]
    assert any(expected in p for p in problems), f"{path}: expected {expected!r} in {problems}"


def test_a_missing_file_is_seen_by_the_server(site):
    assert "/_images/missing.png" in site.pages["missing_image.html"].missing


needs_mathjax = pytest.mark.skipif(not MATHJAX.is_dir(), reason=f"no MathJax at {MATHJAX}: run make mathjax")


@needs_mathjax
def test_mathjax_typesets_correct_math(site):
    page = site.pages["math_ok.html"]
    assert page.mathjax == "done" and page.math == 3
    assert htmlcheck.page_problems(page, site) == []


@needs_mathjax
@pytest.mark.parametrize("path", sorted(MATH_DEFECTS))
def test_each_math_defect_is_caught(site, path):
    problems = htmlcheck.page_problems(site.pages[path], site)
    expected = MATH_DEFECTS[path][1]
    assert any(expected in p for p in problems), f"{path}: expected {expected!r} in {problems}"


def test_missing_chromium_fails_with_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(htmlcheck, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(htmlcheck.BrowserMissing, match="apt-get install -y chromium chromium-driver"):
        with htmlcheck.chromium():
            pass


@pytest.mark.parametrize("href, target", [
    ("http://127.0.0.1:8000/book/a.html#eq-1", ("book/a.html", "eq-1")),
    ("http://127.0.0.1:8000/book/", ("book/index.html", "")),
    ("http://127.0.0.1:8000/a%20b.html#x%20y", ("a b.html", "x y")),
    ("http://127.0.0.1:9000/a.html", None),                 # another server: outside
    ("https://mybinder.org/v2/gh/o/r/main", None),
    ("mailto:someone@example.org", None),
    ("file:///tmp/a.html", ("file:", "file:///tmp/a.html")),
])
def test_link_target(href, target):
    assert htmlcheck.link_target(href, "http://127.0.0.1:8000/") == target


@pytest.mark.parametrize("url, out", [
    ("http://127.0.0.1:8000/_static/mathjax/tex-mml-chtml.js", False),
    ("data:image/png;base64,AAAA", False),
    ("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js", True),
    ("http://127.0.0.1:8001/x.js", True),
])
def test_outside(url, out):
    assert htmlcheck.outside(url, "http://127.0.0.1:8000/") is out


def test_doubled_reference_labels_are_found():
    """Prose "Eq. {eq}`x`" renders as "Eq. Eq. (2)": the check finds it, and only it."""
    assert htmlcheck.doubled_labels("as Eq. Eq. (2) says, and Fig. Fig. 3b") != []
    assert len(htmlcheck.doubled_labels("as Eq. Eq. (2) says, and Fig. Fig. 3b")) == 2
    assert htmlcheck.doubled_labels("Eq. (2) and Eqs. (3)-(4), Fig. 1a, a Figure, Eq. (5)") == []


def test_page_text_drops_tags_scripts_and_styles(tmp_path):
    page = tmp_path / "p.html"
    page.write_text(html("<script>var Eq = 'Eq. Eq.'</script><p>Eq. <a href='#x'>Eq. (2)</a></p>"))
    text = htmlcheck.page_text(page)
    assert "var" not in text and htmlcheck.doubled_labels(text)


@pytest.mark.parametrize("alt, src, bad", [
    ("Line plot of test accuracy against the share of neurons ablated", "_images/3f2a.png", False),
    ("", "_images/3f2a.png", True),
    ("3f2a9b0c1d2e3f4a5b6c7d8e9f0a1b2c", "_images/3f2a9b0c1d2e3f4a5b6c7d8e9f0a1b2c.png", True),
    ("_images/3f2a.png", "_images/3f2a.png", True),
    ("a figure", "_images/3f2a.png", True),
])
def test_alt_problem(alt, src, bad):
    assert (htmlcheck.alt_problem(alt, src) is not None) is bad
