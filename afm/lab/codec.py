"""The format of a result-cache entry: data only, so that reading one can never run code.

An entry is one file::

    AFM-RESULT v1\\n
    {"sha256": ..., "structure": n, "tensors": m, "tensor_codec": "safetensors", ...}\\n
    <n bytes: the structure, JSON>  <m bytes: the tensors, safetensors>

The structure holds dicts, lists, strings, numbers, booleans and ``None`` as
JSON; tuples, non-string dict keys, NumPy scalars, tensors, arrays and the
dataclasses ``afm`` stores are tagged objects (``{"__afm__": "tuple", ...}``).
Tensors and numeric arrays go to a safetensors block (dtype kept, always read
onto the CPU). A dataclass is rebuilt only if its name is in :data:`ALLOWED`,
an explicit list of ``afm`` types imported by fixed statements; nothing in a file
can name a module to import.
The SHA-256 of structure and tensors is checked before either is decoded.
Without the ``safetensors`` package, tensors are written with ``torch.save`` as a
flat dict of plain tensors and read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
from typing import Any

import numpy as np
import torch

MAGIC = b"AFM-RESULT v1\n"
TAG = "__afm__"
MAX_HEADER = 4096

#: The dataclasses a cache entry may hold, by the name an entry stores (see :func:`allowed_types`).
ALLOWED = frozenset({"Run", "History", "TrainConfig", "Forgetting", "L1", "L2", "SequenceResult",
                     "Claim"})


@functools.lru_cache(maxsize=1)
def allowed_types() -> dict[str, type]:
    """``{name: class}`` of :data:`ALLOWED`: the only classes an entry can make, imported here
    by fixed import statements (an entry holds a name, never a module path)."""
    from afm.baselines.continual import SequenceResult
    from afm.lab.claims import Claim
    from afm.lab.runs import Run
    from afm.regularisers import L1, L2, Forgetting
    from afm.train import History, TrainConfig

    types = {c.__name__: c for c in (Run, History, TrainConfig, Forgetting, L1, L2,
                                     SequenceResult, Claim)}
    assert set(types) == ALLOWED
    return types


class EntryError(ValueError):
    """A file that is not a valid cache entry (wrong format, failed checksum, undecodable).

    Example:
        >>> try:
        ...     loads(b"PK\x03\x04 a torch.save zip of an older afm")
        ... except ValueError as err:
        ...     print(type(err).__name__, "|", err)
        EntryError | is not in afm's cache format (it looks like a pickle: from an older afm, or planted)
    """


def _type_name(cls: type) -> str | None:
    """The name under which ``cls`` is in :data:`ALLOWED`, or ``None``."""
    return next((name for name, c in allowed_types().items() if c is cls), None)


def _allowed_class(name: Any) -> type:
    if not isinstance(name, str) or name not in ALLOWED:
        raise EntryError(f"names type {name!r}, which is not one the cache stores")
    return allowed_types()[name]


class _Encoder:
    """Turns a result into (JSON-able structure, {name: tensor})."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}

    def _store(self, tensor: torch.Tensor) -> dict:
        """Put a copy of ``tensor`` in the tensor block; complex ones as (real, imag) pairs."""
        name = f"t{len(self.tensors)}"
        tensor = tensor.detach().to("cpu", copy=True).resolve_conj().resolve_neg().contiguous()
        ref = {"ref": name}
        if tensor.is_complex():
            tensor, ref["complex"] = torch.view_as_real(tensor), True
        self.tensors[name] = tensor.contiguous()
        return ref

    def encode(self, obj: Any, where: str = "result") -> Any:
        if obj is None or isinstance(obj, (bool, str)) or type(obj) in (int, float):
            return obj
        if isinstance(obj, torch.Tensor):
            if obj.is_sparse or obj.layout != torch.strided:
                raise TypeError(f"{where}: cannot cache a {obj.layout} tensor; store it dense")
            return {TAG: "tensor", **self._store(obj)}
        if isinstance(obj, np.ndarray):
            return self._array(obj, where)
        if isinstance(obj, np.generic):
            if isinstance(obj, (np.bool_, np.integer, np.floating)):
                return {TAG: "npscalar", "dtype": obj.dtype.str, "value": obj.item()}
            if isinstance(obj, np.str_):
                return str(obj)
        if isinstance(obj, (int, float)):  # e.g. an IntEnum: kept as its number
            return int(obj) if isinstance(obj, int) else float(obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self._dataclass(obj, where)
        if isinstance(obj, dict):
            return self._dict(obj, where)
        if isinstance(obj, (list, tuple, set, frozenset)):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
            if type(obj) is list:
                return items
            if isinstance(obj, (set, frozenset)):
                return {TAG: type(obj).__name__, "items": items}
            if type(obj) is tuple or isinstance(obj, torch.Size):
                return {TAG: "tuple", "items": items}
        raise TypeError(f"{where}: the result cache stores plain data (dict, list, tuple, str, "
                        f"numbers, None, tensors, NumPy arrays and the afm dataclasses in "
                        f"afm.lab.codec.ALLOWED), not {type(obj).__module__}.{type(obj).__qualname__}")

    def _array(self, arr: np.ndarray, where: str) -> dict:
        if arr.dtype.kind in "biufc":
            native = arr.astype(arr.dtype.newbyteorder("="), copy=False)
            return {TAG: "ndarray", "dtype": arr.dtype.str, "shape": list(arr.shape),
                    **self._store(torch.from_numpy(native.copy(order="C")))}
        if arr.dtype.kind in "US":
            return {TAG: "ndarray_text", "dtype": arr.dtype.str, "shape": list(arr.shape),
                    "items": [x.decode("latin-1") if isinstance(x, bytes) else x
                              for x in arr.ravel().tolist()]}
        raise TypeError(f"{where}: cannot cache a NumPy array of dtype {arr.dtype} "
                        f"(numbers, booleans and strings only)")

    def _dataclass(self, obj: Any, where: str) -> dict:
        name = _type_name(type(obj))
        if name is None:
            raise TypeError(f"{where}: {type(obj).__module__}.{type(obj).__qualname__} is not a "
                            f"type the cache stores; add it to afm.lab.codec.ALLOWED (and "
                            f"allowed_types) if it holds only plain data")
        fields = {f.name: self.encode(getattr(obj, f.name), f"{where}.{f.name}")
                  for f in dataclasses.fields(obj)}
        return {TAG: "dataclass", "type": name, "fields": fields}

    def _dict(self, obj: dict, where: str) -> Any:
        if all(isinstance(k, str) for k in obj) and TAG not in obj:
            return {k: self.encode(v, f"{where}[{k!r}]") for k, v in obj.items()}
        return {TAG: "dict", "items": [[self.encode(k, f"{where} key {k!r}"),
                                        self.encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]}


class _Decoder:
    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.tensors = tensors

    def _tensor(self, obj: dict) -> torch.Tensor:
        ref = obj["ref"]
        if not isinstance(ref, str) or ref not in self.tensors:
            raise EntryError(f"refers to a tensor {ref!r} that it does not hold")
        tensor = self.tensors[ref]
        return torch.view_as_complex(tensor) if obj.get("complex") else tensor

    def decode(self, obj: Any) -> Any:
        if isinstance(obj, list):
            return [self.decode(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if TAG not in obj:
            return {k: self.decode(v) for k, v in obj.items()}
        tag = obj[TAG]
        if tag == "tensor":
            return self._tensor(obj)
        if tag == "ndarray":
            arr = self._tensor(obj).numpy().reshape(obj["shape"])
            return arr.astype(np.dtype(obj["dtype"]), copy=False)
        if tag == "ndarray_text":
            return np.array(obj["items"], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
        if tag == "npscalar":
            return np.dtype(obj["dtype"]).type(obj["value"])
        if tag in ("tuple", "set", "frozenset"):
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](
                self.decode(v) for v in obj["items"])
        if tag == "dict":
            return {self.decode(k): self.decode(v) for k, v in obj["items"]}
        if tag == "dataclass":
            return self._dataclass(obj)
        raise EntryError(f"holds an unknown tag {tag!r}")

    def _dataclass(self, obj: dict) -> Any:
        cls = _allowed_class(obj["type"])
        values = {k: self.decode(v) for k, v in obj["fields"].items()}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if set(values) != set(fields):
            raise EntryError(f"stores fields {sorted(values)} for {obj['type']}, "
                             f"which has {sorted(fields)}")
        made = cls(**{k: v for k, v in values.items() if fields[k].init})
        for k, v in values.items():
            if not fields[k].init:
                object.__setattr__(made, k, v)
        return made


def _tensors_to_bytes(tensors: dict[str, torch.Tensor]) -> tuple[bytes, str]:
    try:
        from safetensors.torch import save
    except ImportError:
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        return buffer.getvalue(), "torch"
    return (save(tensors) if tensors else b""), "safetensors"


def _tensors_from_bytes(blob: bytes, codec: str) -> dict[str, torch.Tensor]:
    if not blob:
        return {}
    if codec == "safetensors":
        from safetensors.torch import load
        return load(blob)
    if codec == "torch":
        tensors = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        if not (isinstance(tensors, dict)
                and all(isinstance(t, torch.Tensor) for t in tensors.values())):
            raise EntryError("holds tensors that are not a flat dict of tensors")
        return tensors
    raise EntryError(f"uses an unknown tensor format {codec!r}")


def dumps(obj: Any, **meta: Any) -> bytes:
    """``obj`` as the bytes of a cache entry; ``meta`` (JSON values) goes into its header.

    Raises:
        TypeError: for a value the cache does not store; the message says where in ``obj``.

    Example:
        >>> entry = dumps({"acc": 0.91, (1, "a"): np.arange(3, dtype=np.int16)})
        >>> entry.startswith(MAGIC), loads(entry)
        (True, {'acc': 0.91, (1, 'a'): array([0, 1, 2], dtype=int16)})
    """
    encoder = _Encoder()
    structure = json.dumps(encoder.encode(obj), separators=(",", ":")).encode()
    blob, codec = _tensors_to_bytes(encoder.tensors)
    header = {"sha256": hashlib.sha256(structure + blob).hexdigest(), "structure": len(structure),
              "tensors": len(blob), "tensor_codec": codec, **meta}
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + structure + blob


def header(data: bytes) -> dict:
    """The header of an entry, checked: the format, the lengths and the SHA-256 of the payload.

    Raises:
        EntryError: for anything else (e.g. a pickle), a wrong length or checksum.
    """
    if not data.startswith(MAGIC):
        kind = "a pickle" if data[:2] in (b"\x80\x02", b"\x80\x04", b"\x80\x05") or \
            data[:2] == b"PK" else "some other file"
        raise EntryError(f"is not in afm's cache format (it looks like {kind}: from an older "
                         f"afm, or planted)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER)
    try:
        head = json.loads(data[len(MAGIC):end]) if end > 0 else None
        sizes = (int(head["structure"]), int(head["tensors"]))
    except (ValueError, TypeError, KeyError):
        raise EntryError("has an unreadable header") from None
    payload = data[end + 1:]
    if len(payload) != sum(sizes):
        raise EntryError(f"is {len(payload)} bytes long, its header says {sum(sizes)} "
                         f"(truncated or appended to)")
    if hashlib.sha256(payload).hexdigest() != head.get("sha256"):
        raise EntryError("fails its SHA-256 check (its content was changed after it was written)")
    return {**head, "payload_at": end + 1}


def loads(data: bytes, head: dict | None = None) -> Any:
    """The object stored in the entry ``data``; checks before decoding; never runs code.

    Args:
        data: the entry's bytes.
        head: its ``header(data)``, if already checked.

    Raises:
        afm.lab.codec.EntryError: for a file not in this format, a failed checksum, or
            undecodable content.

    Example:
        >>> import pickle
        >>> loads(dumps({"w": torch.ones(2, dtype=torch.float16)}))
        {'w': tensor([1., 1.], dtype=torch.float16)}
        >>> loads(pickle.dumps({"w": 1}))
        Traceback (most recent call last):
            ...
        afm.lab.codec.EntryError: is not in afm's cache format (it looks like a pickle: from an older afm, or planted)
    """
    head = header(data) if head is None else head
    start, n = head["payload_at"], head["structure"]
    try:
        structure = json.loads(data[start:start + n])
        tensors = _tensors_from_bytes(data[start + n:], head.get("tensor_codec", "safetensors"))
        return _Decoder(tensors).decode(structure)
    except EntryError:
        raise
    except Exception as err:  # malformed JSON, tensors or fields: the entry is unusable
        raise EntryError(f"cannot be decoded ({type(err).__name__}: {err})") from None
