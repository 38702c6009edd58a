"""The API reference's promise: every public name documented on ``book/api.md`` has a
docstring with a runnable example, and every example in ``afm`` runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
from pathlib import Path

import pytest

import afm

ROOT = Path(__file__).resolve().parents[1]
API_NAMES = re.findall(r"\.\. auto(?:function|class|exception):: (\S+)",
                       (ROOT / "book" / "api.md").read_text())
MODULES = sorted(m.name for m in pkgutil.walk_packages(afm.__path__, "afm.")
                 if m.name != "afm.__main__")


# Their examples need the MNIST files, so they are literal blocks ("Example::"), not doctests;
# tests/test_data.py runs these functions on the real files.
NEEDS_DATA = {"afm.data.load_dataset", "afm.data.permuted_mnist", "afm.lab.runs.fit",
              "afm.lab.runs.fit_all", "afm.lab.runs.outcome", "afm.lab.runs.outcomes"}


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_the_api_page_lists_names():
    assert len(API_NAMES) > 50 and "afm.ForgettingLayer" in API_NAMES


@pytest.mark.parametrize("name", API_NAMES)
def test_every_public_name_has_a_docstring_with_an_example(name):
    doc = _resolve(name).__doc__ or ""
    assert doc.strip(), f"{name} has no docstring"
    if name in NEEDS_DATA:
        assert "Example::" in doc, f"{name}'s docstring has no example"
    else:
        assert ">>>" in doc, f"{name}'s docstring has no runnable example (an 'Example:' with >>>)"


@pytest.mark.parametrize("module", ["afm", *MODULES])
def test_docstring_examples_run(module, monkeypatch, tmp_path):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))   # examples never touch a real cache
    monkeypatch.setenv("AFM_PROGRESS", "0")
    saved = dict(os.environ)
    try:
        result = doctest.testmod(importlib.import_module(module),
                                 optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {module} failed"
