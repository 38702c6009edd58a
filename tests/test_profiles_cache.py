"""Profiles (AFM_PROFILE) and the result cache keyed on configuration and source."""


import pytest
import torch

from afm.lab import cache as cache_mod
from afm.lab.profiles import by_profile, check_profile, current_profile


def test_profile_switch(monkeypatch):
    monkeypatch.delenv("AFM_PROFILE", raising=False)
    assert current_profile() == "book"
    for name in ("smoke", "book", "paper"):
        monkeypatch.setenv("AFM_PROFILE", name)
        assert current_profile() == name
    assert by_profile("paper", smoke=1, book=2, paper=3) == 3
    monkeypatch.setenv("AFM_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast': valid profiles are smoke, book, paper"):
        current_profile()
    with pytest.raises(ValueError, match="valid profiles"):
        check_profile("Book")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AFM_RECOMPUTE", raising=False)
    return tmp_path


def test_cache_computes_once(tmp_cache):
    calls = []

    def compute():
        calls.append(1)
        return {"value": torch.arange(3)}

    first = cache_mod.cached("unit", {"a": 1}, compute)
    second = cache_mod.cached("unit", {"a": 1}, compute)
    assert len(calls) == 1
    assert torch.equal(first["value"], second["value"])
    cache_mod.cached("unit", {"a": 2}, compute)
    assert len(calls) == 2
    assert cache_mod.is_cached("unit", {"a": 1})
    # no temporary files are left behind by the atomic write
    assert not [p for p in (tmp_cache / "results" / "unit").iterdir() if p.name.endswith(".tmp")]


def test_cache_key_depends_on_config_and_source(tmp_cache, monkeypatch):
    k1 = cache_mod.config_key("unit", {"a": 1, "b": [1, 2]})
    assert k1 == cache_mod.config_key("unit", {"b": [1, 2], "a": 1})  # order-free
    assert k1 != cache_mod.config_key("unit", {"a": 1, "b": [2, 1]})
    assert k1 != cache_mod.config_key("other", {"a": 1, "b": [1, 2]})
    monkeypatch.setattr(cache_mod, "source_hash", lambda: "edited afm source")
    assert k1 != cache_mod.config_key("unit", {"a": 1, "b": [1, 2]})


def test_source_hash_covers_the_package():
    digest = cache_mod.source_hash()
    assert len(digest) == 64
    assert (cache_mod.PACKAGE_DIR / "layer.py").exists()


def test_tree_hash_ignores_docstrings_and_comments_but_not_code(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    module = pkg / "m.py"
    module.write_text('"""Module."""\n\ndef f(x):\n    """Eq. (1)."""\n    return x + 1\n')
    code, text = cache_mod.tree_hash(pkg), cache_mod.tree_hash(pkg, code_only=False)
    module.write_text('"""Module, reworded."""\n\n\ndef f(x):  # a comment\n'
                      '    """Eq. (1): mended."""\n    return x + 1\n')
    assert cache_mod.tree_hash(pkg) == code
    assert cache_mod.tree_hash(pkg, code_only=False) != text
    module.write_text('"""Module."""\n\ndef f(x):\n    """Eq. (1)."""\n    return x + 2\n')
    assert cache_mod.tree_hash(pkg) != code
    module.write_text('def f(x):\n    return "a string that is not a docstring" or x + 1\n')
    assert cache_mod.tree_hash(pkg) != code
    (pkg / "n.py").write_text("y = 1\n")  # a new file changes the hash
    module.write_text('"""Module."""\n\ndef f(x):\n    """Eq. (1)."""\n    return x + 1\n')
    assert cache_mod.tree_hash(pkg) != code


def test_corrupt_cache_entry_is_recomputed(tmp_cache):
    cache_mod.cached("unit", {"c": 1}, lambda: 1)
    path = cache_mod.result_path("unit", {"c": 1})
    path.write_bytes(b"not a torch file")
    assert cache_mod.cached("unit", {"c": 1}, lambda: 2) == 2


def test_recompute_env(tmp_cache, monkeypatch):
    cache_mod.cached("unit", {"d": 1}, lambda: 1)
    monkeypatch.setenv("AFM_RECOMPUTE", "1")
    assert cache_mod.cached("unit", {"d": 1}, lambda: 2) == 2


def test_unserialisable_config(tmp_cache):
    with pytest.raises(TypeError, match="JSON-serialisable"):
        cache_mod.cached("unit", {"f": object()}, lambda: 1)
