"""The cache attacked as a hostile user with write access to AFM_CACHE_DIR would: a live pickle
planted at the real keys of a real figure, and one flipped byte in real entries.

Fig. 1b (smoke profile) is computed for real on MNIST; then every entry it wrote is
replaced by a pickle whose unpickling creates a marker file, and recomputed; then a
digit of a stored number and a byte of stored weights are changed. Nothing may run,
no changed number may be used, and each rejected file is named in a warning.
"""

import io
import json
import os
import pickle
import re
from pathlib import Path

import pytest
import torch

from afm.env import offline
from afm.lab import cache as cache_mod
from afm.lab import codec, figures
from deep_equal import same

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def real_data() -> Path:
    path = Path(os.environ.get("AFM_DATA_DIR") or SHARED_DATA)
    if not (path / "mnist").is_dir():
        if offline():  # CI (AFM_OFFLINE=1) must run this test, never skip it silently
            pytest.fail(f"AFM_OFFLINE=1 but MNIST is not in {path}/mnist: set AFM_DATA_DIR")
        pytest.skip(f"needs MNIST in AFM_DATA_DIR ({path})")
    return path


class Marker:
    """Unpickling this creates ``path``: the proof that a pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def live_pickle(marker: Path, torch_format: bool) -> bytes:
    if torch_format:  # what the old cache wrote (torch.save: a zip holding a pickle)
        buffer = io.BytesIO()
        torch.save({"runs": Marker(marker)}, buffer)
        return buffer.getvalue()
    return pickle.dumps({"runs": Marker(marker)})


def flip_a_digit(data: bytes) -> tuple[bytes, str]:
    """``data`` with one digit of a stored float changed, and that number before the change."""
    head = codec.header(data)
    start, end = head["payload_at"], head["payload_at"] + head["structure"]
    match = re.search(rb"\d\.\d{4,}", data[start:end])
    at = start + match.start() + 2  # the first digit after the point
    digit = data[at:at + 1]
    flipped = data[:at] + (b"1" if digit != b"1" else b"2") + data[at + 1:]
    return flipped, match.group().decode()


def test_planted_pickles_never_run_and_flipped_bytes_never_change_a_number(
        real_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFM_DATA_DIR", str(real_data))
    monkeypatch.setenv("AFM_PROGRESS", "0")
    monkeypatch.setenv("AFM_JOBS", "1")
    monkeypatch.delenv("AFM_RECOMPUTE", raising=False)
    monkeypatch.setattr(cache_mod, "_warned", set())
    clean = figures.results("1b", "smoke")
    entries = sorted((tmp_path / "cache" / "results").rglob("*.afm"))
    figure_entry = cache_mod.result_path("figure", figures._seed_config(figures.get("1b"),
                                                                          "smoke", 0))
    assert figure_entry in entries and len(entries) >= 3  # the figure and its training runs

    # 1. a live pickle at every real key (old torch.save format and plain pickle)
    marker = tmp_path / "the-planted-pickle-ran"
    for i, entry in enumerate(entries):
        entry.write_bytes(live_pickle(marker, torch_format=i % 2 == 0))
    assert figures.missing_seeds("1b", "smoke") == [0]  # `afm list` does not call them cached
    with pytest.warns(cache_mod.CacheWarning) as told:
        attacked = figures.results("1b", "smoke")
    assert not marker.exists(), "a planted pickle ran"
    assert same(attacked, clean), "a number differs from the clean run's"
    messages = "\n".join(str(w.message) for w in told)
    for entry in entries:  # the user is told about every rejected file, by name
        assert f"rejected the cache entry {entry}" in messages
    assert "not in afm's cache format (it looks like a pickle" in messages

    # 2. one flipped digit in a stored number of the figure, one flipped byte in stored weights
    data = figure_entry.read_bytes()
    flipped, number = flip_a_digit(data)
    figure_entry.write_bytes(flipped)
    head = codec.header(data)
    structure = flipped[head["payload_at"]:head["payload_at"] + head["structure"]]
    assert json.loads(structure) != json.loads(
        data[head["payload_at"]:head["payload_at"] + head["structure"]]), \
        f"flipping a digit of {number} changed no number: the test would prove nothing"
    run_entry = next(e for e in entries if e.parent.name == "run")  # a training run
    weights = bytearray(run_entry.read_bytes())
    weights[-3] ^= 0x01  # inside the last stored float of the state dict
    run_entry.write_bytes(bytes(weights))
    with pytest.warns(cache_mod.CacheWarning) as told:
        after = figures.results("1b", "smoke")
    assert same(after, clean), "a flipped byte changed a published number"
    messages = "\n".join(str(w.message) for w in told)
    assert f"{figure_entry}: it fails its SHA-256 check" in messages
    assert f"{run_entry}: it fails its SHA-256 check" in messages
    assert not marker.exists()

    # the planted payload was live all along: unpickled, it creates the marker
    pickle.loads(live_pickle(marker, torch_format=False))
    assert marker.exists()
