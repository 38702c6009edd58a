"""Sphinx extension: each chapter's downloadable ``.ipynb`` carries its outputs.

myst-nb 1.x writes the notebook it *read* into ``jupyter_execute/``, and
sphinx-book-theme copies that file into ``_sources/`` for the download button.
When a chapter is executed during the build, the notebook it read was executed
in place, so the download has the outputs. When the build takes the outputs from
the Jupyter cache instead (every rebuild of an unchanged chapter), myst-nb merges
them into a copy and writes the bare notebook: the "executed notebook" would have
no outputs. After each chapter is read, this extension merges the cached outputs
into the written notebook, so the download is the executed notebook either way.
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


def setup(app):
    app.connect("doctree-read", fill_outputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
