"""Open the chapters in JupyterLab as notebooks by default: ``python -m afm.lab.jupyterlab``.

The chapters are MyST Markdown (``book/*.md``). jupytext's JupyterLab extension opens a
``.md`` file as a notebook with *Open With → Jupytext Notebook*; this module makes that
the default viewer for Markdown files, once, for the JupyterLab of this Python
environment. It writes a namespaced settings-override file,
``<JupyterLab app dir>/settings/overrides.d/afm-book.json``, which JupyterLab reads
as defaults (a reader's own settings still win; *Open With → Editor* still shows the
text). ``make lab-setup`` and ``binder/postBuild`` run it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: jupytext's document factory for text notebooks in JupyterLab 4.
JUPYTEXT_VIEWER = "Jupytext Notebook"
#: JupyterLab's plugin whose ``defaultViewers`` maps a file type to the viewer it opens with.
DOCMANAGER = "@jupyterlab/docmanager-extension:plugin"
OVERRIDES_NAME = "afm-book.json"


def default_viewer_overrides() -> dict:
    """The settings override that opens Markdown (``.md``) and MyST files as notebooks.

    Example:
        >>> default_viewer_overrides()[DOCMANAGER]["defaultViewers"]["markdown"]
        'Jupytext Notebook'
    """
    return {DOCMANAGER: {"defaultViewers": {"markdown": JUPYTEXT_VIEWER, "myst": JUPYTEXT_VIEWER}}}


def lab_settings_dir() -> Path:
    """JupyterLab's application settings folder of this environment (``<app dir>/settings``)."""
    try:
        from jupyterlab.commands import get_app_dir
    except ImportError:
        raise SystemExit("JupyterLab is not installed: pip install -c constraints.txt -e '.[lab]' "
                         "(or make lab-setup)") from None
    return Path(get_app_dir()) / "settings"


def write_overrides(settings_dir: Path | None = None) -> Path:
    """Write :func:`default_viewer_overrides` to ``settings_dir/overrides.d/afm-book.json``.

    Args:
        settings_dir: JupyterLab's settings folder; default :func:`lab_settings_dir`.

    Returns:
        The path written (a file of its own: other overrides are left as they are).

    Example:
        >>> import tempfile
        >>> path = write_overrides(Path(tempfile.mkdtemp()))
        >>> path.parent.name, json.loads(path.read_text()) == default_viewer_overrides()
        ('overrides.d', True)
    """
    folder = Path(settings_dir if settings_dir is not None else lab_settings_dir()) / "overrides.d"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / OVERRIDES_NAME
    path.write_text(json.dumps(default_viewer_overrides(), indent=2) + "\n")
    return path


def main(argv: list[str]) -> None:
    """``python -m afm.lab.jupyterlab [SETTINGS_DIR]``: write the override, say where."""
    path = write_overrides(Path(argv[0]) if argv else None)
    print(f"JupyterLab opens Markdown files (the chapters) as notebooks by default: {path}\n"
          f"(right-click a file → Open With → Editor still shows its text)")


if __name__ == "__main__":
    main(sys.argv[1:])
