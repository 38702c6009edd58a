"""The result cache: its data-only format, integrity checks, locking and housekeeping."""

import dataclasses
import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from afm.baselines.continual import SequenceResult
from afm.lab import cache as cache_mod
from afm.lab import codec
from afm.lab.paths import atomic_write, remove_orphans
from afm.lab.runs import Run
from afm.train import History, TrainConfig
from deep_equal import same

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AFM_RECOMPUTE", raising=False)
    monkeypatch.delenv("AFM_RECOMPUTE_SINCE", raising=False)
    monkeypatch.setattr(cache_mod, "_warned", set())
    monkeypatch.setattr(cache_mod, "_unsaved", {})
    monkeypatch.setattr(cache_mod, "_since", None)
    return tmp_path / "cache"


def counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value
    return compute, calls


# --------------------------------------------------------------------------- the codec

NUMPY_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64", "complex64", "complex128", ">f4", ">i8", "<U3",
                "S2"]
TORCH_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
                torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
                torch.complex128]


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_arrays_round_trip_with_their_dtype(dtype):
    arr = np.arange(6).reshape(2, 3).astype(dtype)
    for value in (arr, arr[:, ::2], arr[:0], np.asarray(arr[0, 0])):  # view, empty, 0-d
        back = codec.loads(codec.dumps(value))
        assert same(back, value), (dtype, back, value)


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
def test_tensors_round_trip_with_their_dtype(dtype):
    t = torch.arange(12).reshape(3, 4).to(dtype)
    for value in (t, t[:, 1::2], t.t(), t[0, 0], t[:0]):  # views, transposed, 0-d, empty
        assert same(codec.loads(codec.dumps(value)), value.contiguous())


def test_structures_scalars_and_afm_dataclasses_round_trip():
    spec = Run(widths=(4, 3, 2), lam=0.1, options=(("width", 0.5),), seed=2,
               train=TrainConfig(epochs=2))
    shared = torch.randn(3, 4)
    history = History(loss=[0.5, 0.25], gates={"hidden.0.forget": [torch.rand(3), torch.rand(3)]},
                      seconds=1.5)
    result = {
        "run": {"spec": spec, "state_dict": {"w": shared, "tied": shared, "b": torch.zeros(3)},
                "history": history, "val_acc": 0.9, "test_acc": 0.875},
        "sequence": SequenceResult(np.array([[0.9, np.nan], [0.7, 0.8]]), seconds=[1.0, 1.2]),
        "by_flag": {True: 1, False: 2},                    # non-string keys keep their type
        "by_spec": {spec: "a frozen dataclass as a key"},
        (1, "a"): None,
        "__afm__": "a user key that looks like a tag",
        "tuple": (1, (2.5, "x")), "list": [1, [2, 3]], "set": {1, 2}, "frozen": frozenset({3}),
        "scalars": [np.float32(1.5), np.int64(-3), np.bool_(True), np.float64(np.nan)],
        "floats": [float("nan"), float("inf"), -0.0, 0.1 + 0.2, 2 ** 70],
        "text": "λ = 0.1 — ünïcode", "size": torch.Size([2, 3]),
    }
    back = codec.loads(codec.dumps(result))
    expected = dict(result, size=(2, 3))
    assert same(back, expected)
    assert type(back["run"]["spec"]) is Run and type(back["run"]["history"]) is History
    assert back["run"]["spec"] == spec and hash(back["run"]["spec"]) == hash(spec)
    assert type(back["run"]["spec"].train) is TrainConfig
    # the stored model is a state dict: it loads into a fresh network
    net_spec = Run(widths=(4, 3, 2), seed=0)
    state = {k: v.clone() for k, v in net_spec.build().state_dict().items()}
    loaded = codec.loads(codec.dumps({"spec": net_spec, "state_dict": state}))
    model = loaded["spec"].build(loaded["state_dict"])
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


@pytest.mark.parametrize("value, where", [
    (torch.nn.Linear(2, 2), "Linear"),
    (lambda: 1, "function"),
    (np.array([object()], dtype=object), "dtype object"),
    ({"a": [1, {"b": object()}]}, "result['a'][1]['b']"),
    (Path("x"), "Path"),
])
def test_values_the_cache_does_not_store_are_refused_with_where_they_are(value, where):
    with pytest.raises(TypeError, match="cache"):
        codec.dumps(value)
    with pytest.raises(TypeError) as info:
        codec.dumps(value)
    assert where in str(info.value)


def test_a_dataclass_outside_the_allowlist_is_refused():
    from dataclasses import dataclass

    @dataclass
    class Mine:
        x: int = 1

    with pytest.raises(TypeError, match="not a type the cache stores.*ALLOWED"):
        codec.dumps({"m": Mine()})


def test_every_allowed_type_is_a_dataclass_stored_under_its_name():
    for name in codec.ALLOWED:
        cls = codec._allowed_class(name)
        assert dataclasses.is_dataclass(cls) and codec._type_name(cls) == name == cls.__name__


def forged_entry(structure: dict, blob: bytes = b"", tensor_codec: str = "safetensors") -> bytes:
    """An entry as an attacker who knows the format would write it: right magic and checksum."""
    text = json.dumps(structure).encode()
    head = {"sha256": hashlib.sha256(text + blob).hexdigest(), "structure": len(text),
            "tensors": len(blob), "tensor_codec": tensor_codec}
    return codec.MAGIC + json.dumps(head).encode() + b"\n" + text + blob


class Marker:
    """Unpickling this creates ``path``: proof that a pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_forged_entries_with_a_valid_checksum_still_run_nothing(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"x": Marker(marker)})
    pickle.loads(payload)  # the payload is live: unpickled, it creates the marker
    assert marker.exists()
    marker.unlink()
    import io
    buffer = io.BytesIO()
    torch.save({"t0": Marker(marker)}, buffer)
    forged = [
        forged_entry({"__afm__": "dataclass", "type": "os:system", "fields": {}}),
        forged_entry({"__afm__": "dataclass", "type": "afm_evil_xyz:Thing", "fields": {}}),
        forged_entry({"__afm__": "dataclass", "type": "afm.lab.runs:Run", "fields": {}}),
        forged_entry({"__afm__": "dataclass", "type": ["Run"], "fields": {}}),
        forged_entry({"__afm__": "dataclass", "type": "Run",
                      "fields": {"command": "rm -rf"}}),
        forged_entry({"__afm__": "tensor", "ref": "t0"}, buffer.getvalue(), "torch"),
        forged_entry({"__afm__": "tensor", "ref": "t0"}, payload, "torch"),
        forged_entry({"__afm__": "tensor", "ref": "t0"}, payload, "safetensors"),
        forged_entry({"__afm__": "tensor", "ref": "t0"}, payload, "pickle"),
        forged_entry({"__afm__": "eval", "code": "1"}),
        forged_entry({"__afm__": "tensor", "ref": "missing"}),
    ]
    for data in forged:
        with pytest.raises(codec.EntryError):
            codec.loads(data)
    assert not marker.exists()
    assert "afm_evil_xyz" not in sys.modules


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:-1], "long"),                                          # truncated
    (lambda d: d + b"\0", "long"),                                       # appended to
    (lambda d: d[:-5] + bytes([d[-5] ^ 1]) + d[-4:], "SHA-256"),        # a flipped bit
    (lambda d: b"", "format"),                                           # empty
    (lambda d: codec.MAGIC + b"{not json\n" + d[60:], "header"),         # garbled header
    (lambda d: pickle.dumps({"square": 9}), "pickle"),                   # a pickle
])
def test_damaged_entries_are_rejected_by_the_codec(damage, message):
    data = codec.dumps({"square": 9, "w": torch.arange(4.0)})
    with pytest.raises(codec.EntryError, match=message):
        codec.loads(damage(data))


def test_without_safetensors_tensors_are_read_with_weights_only(monkeypatch):
    value = {"w": torch.randn(2, 3, dtype=torch.float64), "a": np.arange(3, dtype=np.int16)}
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # as if not installed
    data = codec.dumps(value)
    assert codec.header(data)["tensor_codec"] == "torch"
    assert same(codec.loads(data), value)


# --------------------------------------------------------------------------- the cache

def test_a_computed_result_is_returned_as_stored(tmp_cache):
    compute, calls = counting({"w": torch.arange(3, dtype=torch.int16), "t": (1, 2)})
    first = cache_mod.cached("unit", {"a": 1}, compute)
    second = cache_mod.cached("unit", {"a": 1}, compute)
    assert calls == [1] and same(first, second) and first["t"] == (1, 2)
    path = cache_mod.result_path("unit", {"a": 1})
    assert path.suffix == ".afm" and path.read_bytes().startswith(codec.MAGIC)


def test_a_flipped_byte_is_recomputed_with_one_warning_naming_the_file(tmp_cache):
    cache_mod.cached("unit", {"f": 1}, lambda: {"acc": 0.3894})
    path = cache_mod.result_path("unit", {"f": 1})
    path.write_bytes(path.read_bytes().replace(b"0.3894", b"0.3889"))
    assert not cache_mod.is_cached("unit", {"f": 1})
    compute, calls = counting({"acc": 0.3894})
    with pytest.warns(cache_mod.CacheWarning, match=f"{path.name}.*SHA-256"):
        assert cache_mod.cached("unit", {"f": 1}, compute) == {"acc": 0.3894}
    assert calls == [1] and cache_mod.is_cached("unit", {"f": 1})


def test_a_file_that_cannot_be_read_is_reported_not_deleted(tmp_cache, monkeypatch):
    cache_mod.cached("unit", {"p": 1}, lambda: 1)
    path = cache_mod.result_path("unit", {"p": 1})
    original = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    compute, calls = counting(2)
    with pytest.raises(PermissionError, match=f"cannot read the cache entry {path}"):
        cache_mod.cached("unit", {"p": 1}, compute)
    assert path.exists() and calls == []


def test_an_entry_that_is_a_folder_raises_an_oserror_naming_it(tmp_cache):
    path = cache_mod.result_path("unit", {"d": 1})
    path.mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match=str(path)):
        cache_mod.cached("unit", {"d": 1}, lambda: 1)
    assert path.is_dir()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="uses /proc as an unwritable folder")
def test_a_read_only_cache_returns_results_and_warns_once(monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", "/proc/afm-cache-test")  # cannot be created, even by root
    monkeypatch.setattr(cache_mod, "_warned", set())
    monkeypatch.setattr(cache_mod, "_unsaved", {})
    compute, calls = counting({"x": torch.ones(2)})
    with pytest.warns(cache_mod.CacheWarning, match="could not save.*AFM_CACHE_DIR"):
        first = cache_mod.cached("unit", {"r": 1}, compute)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not on every call
        second = cache_mod.cached("unit", {"r": 1}, compute)
    assert calls == [1] and same(first, second) and cache_mod.is_cached("unit", {"r": 1})
    assert not Path("/proc/afm-cache-test").exists()


def test_recompute_runs_each_key_once_per_run(tmp_cache, monkeypatch):
    cache_mod.cached("unit", {"k": 1}, lambda: "old")
    monkeypatch.setenv("AFM_RECOMPUTE", "yes")
    compute, calls = counting("new")
    assert not cache_mod.is_cached("unit", {"k": 1})  # written before this run: stale
    assert [cache_mod.cached("unit", {"k": 1}, compute) for _ in range(4)] == ["new"] * 4
    assert calls == [1] and cache_mod.is_cached("unit", {"k": 1})
    # another process of the same run (a sweep worker gets AFM_RECOMPUTE_SINCE) loads it,
    # and a new run recomputes it
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from afm.lab.cache import cached
        print(cached("unit", {"k": 1}, lambda: "computed again"))""")],
        capture_output=True, text=True, check=True, env={
            **os.environ, "PYTHONPATH": str(ROOT),
            "AFM_RECOMPUTE_SINCE": repr(cache_mod.recompute_since())})
    assert out.stdout.strip() == "new"
    out = subprocess.run(out.args, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "computed again"


def test_concurrent_runs_of_one_key_compute_it_once(tmp_cache, tmp_path):
    log = tmp_path / "log"
    script = textwrap.dedent(f"""
        import time
        from afm.lab.cache import cached
        def compute():
            with open({str(log)!r}, "a") as f:
                f.write("computed\\n")
            time.sleep(2)
            return {{"value": 42}}
        print(cached("unit", {{"lock": 1}}, compute)["value"])""")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert outs == ["42", "42"]
    assert log.read_text() == "computed\n"  # the second process waited, then loaded


def test_orphan_temporaries_are_removed_and_fresh_ones_kept(tmp_cache):
    folder = cache_mod.result_path("unit", {"o": 1}).parent
    folder.mkdir(parents=True)
    old, fresh = folder / ".x.afm.1234.tmp", folder / ".y.afm.5678.tmp"
    old.write_bytes(b"half"), fresh.write_bytes(b"half")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    cache_mod.cached("unit", {"o": 1}, lambda: 1)
    assert not old.exists() and fresh.exists()
    assert remove_orphans(folder, older_than=-1) == [fresh]


def test_is_cached_counts_only_valid_entries(tmp_cache):
    path = cache_mod.result_path("unit", {"v": 1})
    path.parent.mkdir(parents=True)
    path.write_bytes(b"anything")
    assert not cache_mod.is_cached("unit", {"v": 1})
    cache_mod.cached("unit", {"v": 2}, lambda: 1)
    assert cache_mod.is_cached("unit", {"v": 2})


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_get_the_modes_the_umask_allows(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "entry", b"x")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode


def test_atomic_write_leaves_nothing_behind_on_error(tmp_path):
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "x.json", 123)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU to write a CUDA tensor")
def test_a_result_computed_on_the_gpu_loads_on_the_cpu(tmp_cache):
    value = {"w": torch.arange(4.0, device="cuda")}
    data = codec.dumps(value)
    assert codec.loads(data)["w"].device == torch.device("cpu")  # as any machine reads it
    assert torch.equal(cache_mod.cached("unit", {"gpu": 1}, lambda: value)["w"],
                       torch.arange(4.0))
