"""Check a built HTML book in a real browser: headless Chromium, driven by Selenium.

``serve(root)`` serves a folder on 127.0.0.1 (a free port, in a thread); ``chromium()``
starts headless Chromium with a fresh profile; ``crawl(driver, server, paths)`` opens each
page, waits for its images and for MathJax to finish typesetting, and records what the
page shows (a ``Page``); ``page_problems(page, site)`` lists what is wrong with it:

* an image that does not load (``naturalWidth`` 0);
* a cell output that shows an error: a traceback, an error output, an error on stderr;
* an internal link to a missing file, or to a missing ``#anchor`` of a page;
* an equation left unrendered: raw ``\\(``, ``\\[``, ``$$`` or ``$\\alpha$`` text, a math
  element without a MathJax container, a TeX error (``mjx-merror``), an undefined macro,
  MathJax not loaded or failed;
* anything loaded from outside the book (a CDN): the book must work offline;
* a file the page asked the server for and did not get (404), a JavaScript error;
* a figure (an image of a cell output, or in a ``<figure>``) without alt text that says what
  it shows (none, or a file name such as Sphinx's hash names), or without an anchor a reader
  can link to (an ``id`` on its ``<figure>``, e.g. ``#fig-2a``).

The tests in this folder run these on the book (``test_book_html.py``) and on small pages
with known defects (``test_htmlcheck.py``), which proves that each check can fail.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

CHROMIUM = Path(os.environ.get("AFM_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("AFM_CHROMEDRIVER", "/usr/bin/chromedriver"))
INSTALL = ("The browser test needs Chromium, its driver and Selenium: "
           "apt-get install -y chromium chromium-driver (Debian; set AFM_CHROMIUM and "
           "AFM_CHROMEDRIVER for other paths), and pip install -e '.[test]' for selenium.")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars",
]
# Seconds a page may take to typeset its math and load its images (on a busy 2-core CPU);
# MathJax's script runs before the page's load event, so it gets only MATHJAX_LOAD to appear.
PAGE_TIMEOUT = 60
MATHJAX_LOAD = 3
# Requests that a browser makes by itself, not a page's resources.
IGNORED_404 = ("/favicon.ico",)
# Console errors of the toolchain, not of the book, each with why it is harmless. Sphinx 7.4
# registers an inline script that an extension adds after Builder.init() twice (once as
# _JavaScript(None), once as _JavaScript('') in prepare_writing), so every Jupyter Book 1.x
# page declares sphinx-thebe's `const THEBE_JS_URL` twice; the second declaration throws,
# the first has already set the same value, and thebe (live code) is off in this book.
# pydata-sphinx-theme 0.17 (under sphinx-book-theme) reads the light/dark mode from
# localStorage, "" on a reader's first visit, logs it as invalid and falls back to "auto".
KNOWN_CONSOLE_ERRORS = {
    "Identifier 'THEBE_JS_URL' has already been declared":
        "Sphinx 7.4 writes sphinx-thebe's inline script twice; harmless, thebe is off",
    "Got invalid theme mode: . Resetting to auto.":
        "the theme's first-visit default; it falls back to the automatic mode",
}


class BrowserMissing(RuntimeError):
    """Chromium, chromedriver or selenium is not installed."""


@dataclass
class Server:
    """A folder served on 127.0.0.1: its base ``url`` and the paths it answered 404."""

    root: Path
    url: str
    missing: list[str] = field(default_factory=list)


@contextlib.contextmanager
def serve(root: Path) -> Iterator[Server]:
    """Serve ``root`` over HTTP on 127.0.0.1 (a free port) from a thread, while in the block."""
    root = Path(root).resolve()
    missing: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # quiet
            pass

        def send_error(self, code, message=None, explain=None):
            if code == 404:
                missing.append(urlsplit(self.path).path)
            super().send_error(code, message, explain)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield Server(root=root, url=f"http://127.0.0.1:{httpd.server_address[1]}/", missing=missing)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1024):
    """Headless Chromium (Selenium), with a fresh profile that is deleted afterwards.

    Raises ``BrowserMissing`` with how to install it when Chromium, its driver or
    selenium is not there.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise BrowserMissing(f"selenium is not installed ({err}). {INSTALL}") from None
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not exe.is_file():
            raise BrowserMissing(f"{exe} not found. {INSTALL}")
    profile = tempfile.mkdtemp(prefix="afm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = None
    try:
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        driver.set_script_timeout(PAGE_TIMEOUT + MATHJAX_LOAD + 10)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Page:
    """What one page shows once loaded, typeset and with its images in."""

    path: str                      # relative to the site's root, e.g. "book/intro.html"
    url: str                       # where the browser ended (after a redirect)
    title: str
    text: str                      # the visible text of the page
    ids: set[str]                  # every id (and <a name>) in the page: anchors
    links: list[dict]              # {"href": absolute URL, "raw": as written, "text": ...}
    images: list[dict]             # {"src": URL, "width": naturalWidth}
    resources: list[str]           # every URL the page loads (scripts, styles, images, ...)
    mathjax: str                   # "none" (no math on the page), "done", or what went wrong
    math: int                      # math elements on the page
    unrendered: list[str]          # math left as raw TeX
    tex_errors: list[str]          # MathJax errors (mjx-merror) and undefined macros
    error_outputs: list[str]       # cell outputs that show an error
    console: list[str] = field(default_factory=list)   # browser console errors
    missing: list[str] = field(default_factory=list)   # 404s while the page loaded
    figures: list[dict] = field(default_factory=list)  # {"src", "alt", "anchor"} of each figure image
    failure: str = ""                                  # why the page could not be checked


# Runs in the page (Selenium's execute_async_script): waits for MathJax and the images,
# then returns what the page shows. arguments[0], [1]: PAGE_TIMEOUT, MATHJAX_LOAD in ms.
PAGE_SCRIPT = r"""
const done = arguments[arguments.length - 1];
const [TIMEOUT, LOAD] = [arguments[0], arguments[1]];
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const t0 = Date.now();
  const clip = (s, n = 100) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n);
  while ((document.readyState !== 'complete' || !document.body) && Date.now() - t0 < TIMEOUT) await sleep(50);
  const CODE = 'pre, code, kbd, samp, textarea, script, style, noscript, .highlight';
  const mathEls = [...document.querySelectorAll('.math')].filter(e => !e.closest(CODE));
  const mjScript = [...document.scripts].some(s => /mathjax|tex-(mml-)?(chtml|svg)/i.test(s.src || ''));
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;

  // MathJax: wait for it to load, then for its first typesetting to finish.
  let mathjax = 'none';
  if (mjScript || mathEls.length) {
    // A deferred script runs before the load event, so this waits only if MathJax is broken.
    while (mjScript && !ready() && Date.now() - t0 < LOAD) await sleep(100);
    if (!ready()) {
      mathjax = mjScript ? 'MathJax did not load (its script is missing or failed to load)'
                         : 'the page has math but does not load MathJax';
    } else {
      const late = sleep(TIMEOUT).then(() => 'MathJax did not finish typesetting in ' + TIMEOUT / 1000 + ' s');
      try { mathjax = await Promise.race([MathJax.startup.promise.then(() => 'done'), late]); }
      catch (e) { mathjax = 'MathJax failed: ' + e; }
    }
  }

  // Images: load lazy ones too, wait for every one to load or fail.
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r, {once: true});
    i.addEventListener('error', r, {once: true});
    setTimeout(r, Math.max(1000, TIMEOUT + LOAD - (Date.now() - t0)));
  })));
  const images = imgs.filter(i => i.getAttribute('src'))
    .map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth}));

  // Equations left as TeX.
  const unrendered = [];
  mathEls.forEach(e => {
    if (!e.querySelector('mjx-container')) unrendered.push('math not typeset: "' + clip(e.textContent) + '"');
  });
  const RAW = [/\\\(|\\\)|\\\[|\\\]/, /\$\$/, /\\begin\{[A-Za-z*]+\}/,
               /(^|[^\\$\w])\$(?=\S)[^$]*?\\[A-Za-z]+[^$]*?\$/];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest(CODE + ', mjx-container, .math')) continue;
    const t = n.nodeValue;
    for (const re of RAW) {
      const m = re.exec(t);
      if (m) { unrendered.push('raw TeX in the text: "' + clip(t.slice(Math.max(0, m.index - 40), m.index + 60)) + '"'); break; }
    }
  }
  const texErrors = [...document.querySelectorAll('mjx-merror')]
    .map(e => 'TeX error: ' + clip(e.getAttribute('data-mjx-error') || e.textContent));
  if (mathjax === 'done' && MathJax.startup.document) {
    try {
      for (const item of MathJax.startup.document.math) {
        if (!item.root) continue;
        item.root.walkTree(node => {
          if (node.isKind('mtext') && node.attributes.get('mathcolor') === 'red')
            texErrors.push('undefined TeX macro in "' + clip(item.math) + '"');
          else if (node.isKind('merror'))
            texErrors.push('TeX error in "' + clip(item.math) + '": ' + clip(String(node.attributes.get('data-mjx-error') || '')));
        });
      }
    } catch (e) { texErrors.push('could not inspect the typeset math: ' + e); }
  }

  // Cell outputs that show an error.
  const errorOutputs = [];
  document.querySelectorAll('.output.traceback, .output.error').forEach(e =>
    errorOutputs.push('error output: "' + clip(e.textContent, 200) + '"'));
  document.querySelectorAll('.output.stderr').forEach(e => {
    if (/Error|Exception|Traceback/.test(e.textContent)) errorOutputs.push('error on stderr: "' + clip(e.textContent, 200) + '"');
  });
  document.querySelectorAll('.cell_output').forEach(e => {
    if (!e.querySelector('.output.traceback, .output.error, .output.stderr')
        && /Traceback \(most recent call last\)/.test(e.textContent))
      errorOutputs.push('traceback in an output: "' + clip(e.textContent, 200) + '"');
  });
  document.querySelectorAll('.system-message, .problematic').forEach(e =>
    errorOutputs.push('Sphinx/docutils error shown on the page: "' + clip(e.textContent, 200) + '"'));

  // Figures: the images of cell outputs and of <figure>s, their alt text and anchor.
  const figures = [...document.querySelectorAll('.cell_output img, figure img')].map(i => {
    const f = i.closest('figure[id]');
    return {src: i.currentSrc || i.src, alt: i.getAttribute('alt') || '', anchor: f ? f.id : ''};
  });

  // Links, anchors, and what the page loads.
  const links = [...document.querySelectorAll('a[href]')]
    .map(a => ({href: a.href, raw: a.getAttribute('href'), text: clip(a.textContent, 60)}));
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id)
    .concat([...document.querySelectorAll('a[name]')].map(a => a.name));
  const resources = [];
  document.querySelectorAll('script[src], img[src], iframe[src], source[src], video[src], audio[src], embed[src]')
    .forEach(e => resources.push(e.src));
  document.querySelectorAll('link[href]').forEach(e => {
    if (/(^|\s)(stylesheet|preload|modulepreload|icon|manifest)(\s|$)/i.test(e.rel)) resources.push(e.href);
  });
  document.querySelectorAll('object[data]').forEach(e => resources.push(e.data));
  performance.getEntriesByType('resource').forEach(e => resources.push(e.name));

  done({url: location.href, title: document.title, text: document.body.innerText, ids, links, images,
        resources: [...new Set(resources)], mathjax, math: mathEls.length, unrendered, texErrors, errorOutputs,
        figures});
})().catch(e => done({fatal: String(e && e.stack || e)}));
"""


def site_pages(root: Path) -> list[str]:
    """Every HTML page of a built book, relative to its root.

    Not ``_static/`` (templates of the theme), ``_sources/``, nor hidden folders.
    """
    root = Path(root)
    pages = (p.relative_to(root) for p in root.rglob("*.html"))
    return sorted(p.as_posix() for p in pages
                  if p.parts[0] not in ("_static", "_sources")
                  and not any(part.startswith(".") for part in p.parts))


def visit(driver, server: Server, path: str, screenshot: Path | None = None) -> Page:
    """Open one page of the served site and record what it shows (see ``Page``)."""
    driver.get_log("browser")                     # drop what earlier pages logged
    n_missing = len(server.missing)
    driver.get(server.url + path)
    follow_refresh(driver)
    try:
        data = driver.execute_async_script(PAGE_SCRIPT, PAGE_TIMEOUT * 1000, MATHJAX_LOAD * 1000)
    except Exception as err:                      # noqa: BLE001 -- a page that breaks the check fails
        data = {"fatal": f"{type(err).__name__}: {err}"}
    if "fatal" in data:
        return Page(path=path, url=driver.current_url, title="", text="", ids=set(), links=[], images=[],
                    resources=[], mathjax="none", math=0, unrendered=[], tex_errors=[], error_outputs=[],
                    failure=f"the page could not be checked: {data['fatal']}")
    console = [e.get("message", "") for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    console = [m for m in console if not any(s in m for s in (*IGNORED_404, *KNOWN_CONSOLE_ERRORS))]
    if screenshot is not None:
        save_screenshot(driver, screenshot)
    return Page(path=path, url=data["url"], title=data["title"], text=data["text"],
                ids=set(data["ids"]), links=data["links"], images=data["images"],
                resources=data["resources"], mathjax=data["mathjax"], math=data["math"],
                unrendered=data["unrendered"], tex_errors=data["texErrors"],
                error_outputs=data["errorOutputs"], console=console,
                missing=[m for m in server.missing[n_missing:] if m not in IGNORED_404],
                figures=data["figures"])


def follow_refresh(driver, timeout: float = 10) -> None:
    """On a redirect page (``<meta http-equiv="refresh">``, e.g. the book's index.html),
    wait until the browser has loaded the page it points to."""
    start, first = time.monotonic(), driver.current_url
    try:
        if not driver.execute_script("return !!document.querySelector('meta[http-equiv=\"refresh\" i]')"):
            return
    except Exception:                              # noqa: BLE001 -- already navigating away
        pass
    while time.monotonic() - start < timeout:
        try:
            if driver.current_url != first and driver.execute_script(
                    "return document.readyState === 'complete' && !!document.body"):
                return
        except Exception:                          # noqa: BLE001 -- between two documents
            pass
        time.sleep(0.1)


def save_screenshot(driver, png: Path, max_height: int = 16000) -> None:
    """A PNG of the whole page (not just the window): the viewport stretched to the page."""
    width, height = driver.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollHeight]")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": min(height, max_height), "deviceScaleFactor": 1, "mobile": False})
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(base64.b64decode(shot["data"]))


@dataclass
class Site:
    """A crawled site: its root folder, base URL and every visited ``Page`` by path."""

    root: Path
    url: str
    pages: dict[str, Page]


def crawl(driver, server: Server, paths: list[str], screenshots: Path | None = None) -> Site:
    """Visit every page in ``paths``; with ``screenshots``, save a PNG of each there too."""
    pages = {}
    for path in paths:
        png = Path(screenshots) / (path.replace("/", "__") + ".png") if screenshots else None
        pages[path] = visit(driver, server, path, png)
    return Site(root=server.root, url=server.url, pages=pages)


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])


def static_ids(html_file: Path) -> set[str]:
    """The anchors (ids, ``<a name>``) of an HTML file that was not visited."""
    parser = _Ids()
    parser.feed(Path(html_file).read_text(errors="replace"))
    return parser.ids


def link_target(href: str, base: str) -> tuple[str, str] | None:
    """``(path, fragment)`` of a link inside the site at ``base``, None for a link outside it.

    ``path`` is relative to the site's root, with ``index.html`` for a folder; a ``file:``
    link gives ``("file:", href)``: a built book must not link to the builder's disk.
    """
    parts, site = urlsplit(href), urlsplit(base)
    if parts.scheme == "file":
        return "file:", href
    if parts.scheme not in ("http", "https") or parts.netloc != site.netloc:
        return None
    path = unquote(parts.path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path, unquote(parts.fragment)


def link_problem(href: str, site: Site) -> str | None:
    """What is wrong with a link of the site (a missing file or anchor), None if nothing."""
    target = link_target(href, site.url)
    if target is None:
        return None
    path, fragment = target
    if path == "file:":
        return "links to a file on the builder's disk"
    file = site.root / path
    if file.is_dir():
        file, path = file / "index.html", f"{path}/index.html"
    if not file.is_file():
        return f"no file {path}"
    if fragment and file.suffix == ".html":
        ids = site.pages[path].ids if path in site.pages else static_ids(file)
        if fragment not in ids:
            return f"no anchor #{fragment} in {path}"
    return None


def outside(url: str, base: str) -> bool:
    """Whether a resource URL is loaded from outside the site (data: and blob: are inside)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript", ""):
        return False
    return parts.scheme != "http" or parts.netloc != urlsplit(base).netloc


FILE_NAME = re.compile(r"(^[0-9a-f]{16,}$)|(\.(png|jpe?g|svg|gif|webp|pdf)$)", re.I)


def alt_problem(alt: str, src: str) -> str | None:
    """Why ``alt`` does not say what a figure shows (empty, short, or a file name), or None."""
    alt = alt.strip()
    name = urlsplit(src).path.rsplit("/", 1)[-1]
    if not alt:
        return "no alt text"
    if FILE_NAME.search(alt) or alt == name or alt == Path(name).stem:
        return f"its alt text is a file name ({alt!r})"
    if len(alt) < 15:
        return f"its alt text is too short to say what it shows ({alt!r})"
    return None


def page_problems(page: Page, site: Site) -> list[str]:
    """Everything wrong with one visited page, one line each (empty: the page is fine)."""
    problems = [page.failure] if page.failure else []
    for img in page.images:
        if not img["width"]:
            problems.append(f"image does not load: {img['src']}")
    problems += page.error_outputs
    seen = set()
    for link in page.links:
        if link["href"] in seen:
            continue
        seen.add(link["href"])
        why = link_problem(link["href"], site)
        if why:
            problems.append(f"broken link {link['raw']!r} ({link['text']!r}): {why}")
    if page.mathjax not in ("none", "done"):
        problems.append(f"equations not rendered: {page.mathjax}")
    problems += [f"equation left unrendered: {u}" for u in page.unrendered]
    problems += page.tex_errors
    for url in page.resources:
        if outside(url, site.url):
            problems.append(f"loads {url} from outside the book (no internet in CI, nor for a reader offline)")
    problems += [f"the server has no {m} (requested by the page)" for m in page.missing]
    problems += [f"browser console: {c}" for c in page.console]
    for fig in page.figures:
        why = alt_problem(fig["alt"], fig["src"])
        if why:
            problems.append(f"figure without alt text that says what it shows, {why}: {fig['src']}")
        if not fig["anchor"]:
            problems.append(f"figure without an anchor to link to (no id on its <figure>): {fig['src']}")
    return problems


DOUBLED_LABEL = re.compile(r"\b(Eqs?|Figs?|Tables?|Sections?|Chapters?)\.? \1\b\.?")


def page_text(html_file: Path) -> str:
    """The visible text of a built page (scripts, styles and tags removed, spaces collapsed)."""
    import html as html_lib

    text = html_file.read_text(encoding="utf-8", errors="replace")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", text)))


def doubled_labels(text: str) -> list[str]:
    """Reference labels written twice, e.g. "Eq. Eq. (2)": prose that says "Eq." before a
    reference that Sphinx already labels (``math_eqref_format: "Eq. ({number})"``)."""
    return [text[max(0, m.start() - 30):m.end() + 10] for m in DOUBLED_LABEL.finditer(text)]
