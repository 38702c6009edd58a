"""Sphinx extension: each chapter's executed ``.ipynb``, for the download and for Colab.

**Download.**
myst-nb 1.x writes the notebook it *read* into ``jupyter_execute/``, and
sphinx-book-theme copies that file into ``_sources/`` for the download button.
When a chapter is executed during the build, the notebook it read was executed
in place, so the download has the outputs. When the build takes the outputs from
the Jupyter cache instead (every rebuild of an unchanged chapter), myst-nb merges
them into a copy and writes the bare notebook: the "executed notebook" would have
no outputs. After each chapter is read, this extension merges the cached outputs
into the written notebook, so the download is the executed notebook either way.

**Colab.** The chapters are MyST Markdown, which Binder and JupyterHub open as
notebooks (jupytext) but Colab cannot. sphinx-book-theme points Colab at the
``.md`` in the repository; this extension points it at the executed notebook
that the published book serves, ``_sources/<page>.ipynb`` on the branch the
HTML is published to (``afm_colab_branch``, default ``gh-pages``, as
``ghp-import -n -p -f _build/book/_build/html`` writes it).
"""

from __future__ import annotations

from pathlib import Path

import nbformat


def _has_outputs(nb) -> bool:
    return any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")


def fill_outputs(app, doctree) -> None:
    """Replace ``jupyter_execute/<doc>.ipynb`` by its executed version from the Jupyter cache."""
    if app.config.nb_execution_mode != "cache":
        return
    path = Path(app.outdir).parent / "jupyter_execute" / f"{app.env.docname}.ipynb"
    if not path.is_file():
        return  # not a notebook page
    nb = nbformat.read(path, as_version=4)
    if _has_outputs(nb):
        return  # executed during this build: myst-nb wrote the outputs itself
    from jupyter_cache import get_cache

    try:
        _, merged = get_cache(app.config.nb_execution_cache_path).merge_match_into_notebook(nb)
    except KeyError:
        return  # not in the cache (e.g. execution failed): leave the file as myst-nb wrote it
    nbformat.write(merged, path)


def colab_url(colab: str, repository: str, branch: str, pagename: str) -> str:
    """Colab's address of the executed notebook of ``pagename`` in the published book."""
    org_repo = repository.rstrip("/").split("github.com/")[-1]
    return f"{colab.rstrip('/')}/github/{org_repo}/blob/{branch}/_sources/{pagename}.ipynb"


def point_colab_at_the_notebook(app, pagename, templatename, context, doctree) -> None:
    """Rewrite the Colab launch link of a notebook page (see the module docstring)."""
    if not context.get("ipynb_source"):
        return  # not a notebook page
    options = app.config.html_theme_options
    colab = options.get("launch_buttons", {}).get("colab_url", "")
    repository = options.get("repository_url", "")
    if not (colab and "github.com/" in repository):
        return
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            if button.get("text") == "Colab":
                button["url"] = colab_url(colab, repository, app.config.afm_colab_branch, pagename)


def setup(app):
    app.add_config_value("afm_colab_branch", "gh-pages", "html")
    app.connect("doctree-read", fill_outputs)
    # after sphinx-book-theme has made the launch buttons (its priority: 501)
    app.connect("html-page-context", point_colab_at_the_notebook, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
