"""Unpickle NVIDIA StyleGAN2(-ADA) network pickles safely: nothing a file carries is executed.

NVIDIA's snapshot pickles (`network-snapshot-*.pkl`, the published `ffhq.pkl` ...) are a plain
`pickle.dump` of a dict {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"} in which every
network module is pickled as a call `torch_utils.persistence._reconstruct_persistent_obj(meta)`,
meta = {type: "class", version, module_src: the module's source code, class_name, state: the
module's __dict__ (`_parameters`, `_buffers`, `_modules`, `_init_kwargs`, `conv_clamp` ...)}.
Unpickling them the normal way executes `module_src`, and any pickle can run arbitrary code.
Here nothing a file carries is ever executed, and a hostile file costs little:

- `SafeUnpickler` (Python's own pure-Python unpickler, restricted) resolves only an allow-list
  of globals: the persistence hook (mapped to a function that returns an inert
  `PersistentRecord` and never looks at `module_src`), dnnlib's `EasyDict` (a dict),
  `collections.OrderedDict`, `set`/`frozenset`, torch's tensor and parameter rebuilders
  (wrapped: a tensor must be a dense view inside its storage; hooks are never attached),
  numpy scalars, dtypes and arrays of numeric dtypes (under both the numpy 1 `numpy.core` and
  the numpy 2 `numpy._core` names) and latin-1 byte decoding of protocol-2 pickles. Every other
  global is refused with `UnsafePickleError` naming it, before anything is called. BUILD
  (setstate) is applied only to numpy arrays and dtypes; on a tensor it is dropped (no hooks,
  no `set_`); on anything else it is refused. Class instantiation (NEWOBJ) is limited to dicts.
- Tensor storages are nested legacy `torch.save` blobs (`torch.storage._load_from_bytes`). They
  are parsed here: their header pickles go through the same restricted unpickler (storage
  types only), and the declared size must equal the bytes the blob holds before any storage
  is made from those bytes.

`read_nvidia_pickle` returns the unpickled object with every network module as a
`PersistentRecord`; `records.py` walks that tree. Every refusal is an `InvalidWeightsError`
(`UnsafePickleError` is one) naming the file and the reason.
"""

from __future__ import annotations

import _compat_pickle
import collections
import hashlib
import io
import math
import pickle
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
from numpy._core.multiarray import scalar as _numpy_scalar

from generators.stylegan2.kwargs import short_repr

MAX_TENSOR_DIMS = 8
MAX_OPCODES = 500_000  # opcodes in one pickle (a 1024px G_ema: ~1.3e4; ~1 s of work)
_MSG = 300  # characters of a foreign error message that we quote


class InvalidWeightsError(ValueError):
    """The file is not a readable StyleGAN2 pickle / state dict, or does not fit the network."""


class UnsafePickleError(InvalidWeightsError, pickle.UnpicklingError):
    """The pickle references a global outside the allow-list (refused before being called)."""


@dataclass
class PersistentRecord:
    """What `torch_utils.persistence._reconstruct_persistent_obj(meta)` would have rebuilt."""

    class_name: str
    version: Any
    module_src_sha256: str | None
    state: dict[str, Any] = field(repr=False)


class EasyDict(dict):
    """Stand-in for dnnlib's EasyDict: a dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # never let pickled keys pose as __setstate__ etc.
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def quote_error(exc: BaseException) -> str:
    """The type and first line (at most _MSG characters) of a foreign error message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:_MSG]}"


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
        raise InvalidWeightsError("persistent object without a state dict")
    name, src = meta.get("class_name"), meta.get("module_src")
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 100:
        raise InvalidWeightsError(f"persistent object with class name {short_repr(name)}")
    if src is not None and not isinstance(src, str):
        raise InvalidWeightsError(f"persistent object {name}: module_src is not text")
    digest = hashlib.sha256(src.encode("utf-8", "replace")).hexdigest() if src else None
    return PersistentRecord(
        class_name=name,
        version=meta.get("version"),
        module_src_sha256=digest,
        state=dict(meta["state"]),
    )


# ----- tensors and storages ---------------------------------------------------------------


def _ints(values: Any, what: str) -> tuple[int, ...]:
    if (
        not isinstance(values, (tuple, list))
        or len(values) > MAX_TENSOR_DIMS
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)
    ):
        raise InvalidWeightsError(
            f"tensor {what} {short_repr(values)} is not a tuple of at "
            f"most {MAX_TENSOR_DIMS} non-negative integers"
        )
    return tuple(values)


def check_dense_view(numel_in_storage: int, offset: Any, size: Any, stride: Any) -> None:
    """A tensor view must be dense and non-overlapping (any dim order) inside its storage, so
    that no tensor is bigger than the bytes behind it."""
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidWeightsError(f"tensor storage offset {short_repr(offset)} is invalid")
    if len(size) != len(stride):
        raise InvalidWeightsError(f"tensor size {size} and stride {stride} differ in length")
    numel = math.prod(size)
    if numel:
        expected = 1
        for st, sz in sorted((st, sz) for st, sz in zip(stride, size) if sz > 1):
            if st != expected:
                raise InvalidWeightsError(
                    f"tensor view size {size} stride {stride} overlaps "
                    "or has gaps (NVIDIA's tensors are dense)"
                )
            expected *= sz
    if offset + numel > numel_in_storage:
        raise InvalidWeightsError(
            f"tensor of {numel} elements at offset {offset} exceeds its "
            f"storage of {numel_in_storage} elements"
        )


def _rebuild_tensor(
    storage: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    if not isinstance(storage, torch.TypedStorage):
        raise UnsafePickleError(f"tensor rebuilt from a {type(storage).__name__}, not a storage")
    check_dense_view(storage._size(), offset, size, stride)
    # requires_grad, backward hooks and metadata are dropped: nothing is ever attached.
    return torch._utils._rebuild_tensor_v2(
        storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict()
    )


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError(f"parameter rebuilt from a {type(data).__name__}")
    return data


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: torch.dtype


@dataclass(frozen=True)
class _StorageDecl:
    dtype: torch.dtype
    key: str
    numel: int


_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}
_STORAGE_GLOBALS = {("torch", name): _StorageType(name, dt) for name, dt in _STORAGE_DTYPES.items()}


def _storage_persistent_id(pid: Any) -> _StorageDecl:
    if (
        not isinstance(pid, tuple)
        or len(pid) != 6
        or pid[0] != "storage"
        or not isinstance(pid[1], _StorageType)
        or not isinstance(pid[2], str)
        or not isinstance(pid[3], str)
        or isinstance(pid[4], bool)
        or not isinstance(pid[4], int)
        or pid[4] < 0
        or pid[5] is not None
    ):
        raise InvalidWeightsError(f"storage blob: unexpected storage record {short_repr(pid)}")
    return _StorageDecl(pid[1].dtype, pid[2], pid[4])


def _load_storage(blob: Any) -> torch.TypedStorage:
    """A storage pickled by torch as a nested legacy torch.save blob: magic number, protocol,
    system info, one storage record, its key list, then the element count (int64) and data."""
    if not isinstance(blob, (bytes, bytearray)):
        raise UnsafePickleError("storage blob is not bytes")
    f = io.BytesIO(blob)

    def part(what: str) -> Any:
        try:
            return _RestrictedUnpickler(f, _STORAGE_GLOBALS, _storage_persistent_id).load()
        except InvalidWeightsError:
            raise
        except Exception as exc:
            raise InvalidWeightsError(
                f"storage blob: unreadable {what} ({quote_error(exc)})"
            ) from None

    magic, protocol, info = part("magic number"), part("protocol"), part("system info")
    if magic != torch.serialization.MAGIC_NUMBER or protocol != 1001:
        raise InvalidWeightsError("storage blob is not a torch.save storage (magic number)")
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise InvalidWeightsError("storage blob is not little-endian")
    decl, keys = part("storage record"), part("storage keys")
    if not isinstance(decl, _StorageDecl) or keys != [decl.key]:
        raise InvalidWeightsError("storage blob holds something other than one storage")
    header = f.read(8)
    numel = int.from_bytes(header, "little", signed=True) if len(header) == 8 else -1
    elsize = torch._utils._element_size(decl.dtype)
    present = len(blob) - f.tell()
    if numel != decl.numel or decl.numel * elsize != present:
        raise InvalidWeightsError(
            f"storage declares {decl.numel} elements "
            f"({decl.numel * elsize} bytes) but its blob holds "
            f"{present} bytes (count field {numel})"
        )
    data = bytearray(memoryview(blob)[f.tell() :])
    untyped = (
        torch.frombuffer(data, dtype=torch.uint8).untyped_storage()
        if data
        else torch.UntypedStorage(0)
    )
    return torch.TypedStorage(wrap_storage=untyped, dtype=decl.dtype, _internal=True)


# ----- numpy ------------------------------------------------------------------------------

_NUMPY_DTYPES = {
    "b1",
    "i1",
    "i2",
    "i4",
    "i8",
    "u1",
    "u2",
    "u4",
    "u8",
    "f2",
    "f4",
    "f8",
    "c8",
    "c16",
}


class _NdarrayMarker:
    """numpy.ndarray as a pickle sees it: only an argument of numpy's `_reconstruct`; calling
    or instantiating it (numpy.ndarray(shape) allocates) is refused."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsafePickleError("calling numpy.ndarray refused")

    def __repr__(self) -> str:
        return "numpy.ndarray"


_NDARRAY = _NdarrayMarker()


def _np_dtype(code: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if code not in _NUMPY_DTYPES:
        raise UnsafePickleError(f"numpy dtype {short_repr(code)} refused (numeric dtypes only)")
    return np.dtype(code, bool(align), True)


def _np_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not _NDARRAY or shape != (0,) or dtype != b"b":
        raise UnsafePickleError("numpy array construction other than numpy's own refused")
    return _numpy_reconstruct(np.ndarray, (0,), b"b")


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc" or not isinstance(data, bytes):
        raise UnsafePickleError("numpy scalar of a non-numeric dtype refused")
    return _numpy_scalar(dtype, data)


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """How protocol-2 pickles spell bytes: _codecs.encode(str, 'latin1')."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"_codecs.encode with encoding {short_repr(encoding)} refused")
    return text.encode("latin1")


# numpy 1 pickles name these numpy.core.multiarray.*, numpy 2 pickles numpy._core.multiarray.*.
_NUMPY_GLOBALS: dict[str, Any] = {"scalar": _np_scalar, "_reconstruct": _np_reconstruct}

# (module, name) -> the object the pickle gets instead.
SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _latin1_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy", "dtype"): _np_dtype,
    ("numpy", "ndarray"): _NDARRAY,
    **{
        (mod, name): obj
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name, obj in _NUMPY_GLOBALS.items()
    },
}
_NEWOBJ_CLASSES = (EasyDict, collections.OrderedDict)


class _BoundedFile:
    """A binary file whose reads never ask for more than the bytes left (a length field of
    2**60 must not make `read` allocate a buffer of that size)."""

    def __init__(self, f: Any) -> None:
        self._f = f
        pos = f.tell()
        self._size = f.seek(0, io.SEEK_END)
        f.seek(pos)

    def read(self, n: int = -1) -> bytes:
        if n is not None and 0 <= n <= 65536:
            return self._f.read(n)  # small: nothing to bound
        left = self._size - self._f.tell()
        return self._f.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self._f.readline()

    def readinto(self, b: Any) -> int:
        return self._f.readinto(b)


class _RestrictedUnpickler(pickle._Unpickler):
    """Python's pure-Python unpickler (a dict memo, no recursion) with an allow-list of
    globals, no persistent ids unless given, BUILD only where it is harmless, NEWOBJ only for
    dicts, bounded reads and at most MAX_OPCODES opcodes."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(
        self, file: Any, allowed: Mapping[tuple[str, str], Any], persistent: Any = None
    ) -> None:
        super().__init__(_BoundedFile(file))
        self._allowed, self._persistent = allowed, persistent

    def load(self) -> Any:
        """pickle._Unpickler.load with an opcode budget."""
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack = []
        self.stack: list[Any] = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch = self.read, self.dispatch
        for _ in range(MAX_OPCODES):
            key = read(1)
            if not key:
                raise EOFError("pickle data ended before its STOP opcode")
            try:
                dispatch[key[0]](self)
            except pickle._Stop as stop:
                return stop.value
            except KeyError:
                if key[0] in dispatch:
                    raise
                raise pickle.UnpicklingError(f"invalid load key, {key!r}.") from None
        raise InvalidWeightsError(
            f"more than {MAX_OPCODES} pickle opcodes (a 1024px NVIDIA generator has about 13,000)"
        )

    def _load_bytearray8(self) -> None:
        (n,) = struct.unpack("<Q", self.read(8))
        data = self.read(n)  # bounded: never a buffer of n bytes up front
        if len(data) < n:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.append(bytearray(data))

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles spell Python 3 names the Python 2 way (__builtin__.set); map
        # them as pickle itself does (only ever onto the same Python 3 object).
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(
                f"refused global {str(module)[:100]}.{str(name)[:100]}: not allowed in a "
                "StyleGAN2 pickle (it was not called)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise UnsafePickleError("refused persistent id: not used by NVIDIA pickles")
        return self._persistent(pid)

    def _load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, torch.Tensor):
            return  # drop: no _backward_hooks, requires_grad or set_()
        if (
            isinstance(inst, np.dtype)
            and isinstance(state, tuple)
            and len(state) == 8
            and state[2:5] == (None, None, None)
        ):
            inst.__setstate__(state)
            return
        if isinstance(inst, np.ndarray) and isinstance(state, tuple) and len(state) == 5:
            _, shape, dtype, _, raw = state
            shape = _ints(shape, "shape")
            if (
                not isinstance(dtype, np.dtype)
                or dtype.kind not in "biufc"
                or not isinstance(raw, bytes)
                or math.prod(shape) * dtype.itemsize != len(raw)
            ):
                raise InvalidWeightsError("numpy array state does not match its data")
            inst.__setstate__(state)
            return
        if state is None or (isinstance(state, dict) and not state):
            return
        raise UnsafePickleError(f"setting the state of a {type(inst).__name__} (BUILD) refused")

    def _load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls not in _NEWOBJ_CLASSES or args != ():
            raise UnsafePickleError(f"instantiating {short_repr(cls)} (NEWOBJ) refused")
        self.append(cls())

    def _load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls not in _NEWOBJ_CLASSES or args != () or kwargs != {}:
            raise UnsafePickleError(f"instantiating {short_repr(cls)} (NEWOBJ_EX) refused")
        self.append(cls())

    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex


class SafeUnpickler(_RestrictedUnpickler):
    """The restricted unpickler for NVIDIA network pickles (`SAFE_GLOBALS`, no persistent ids)."""

    def __init__(self, file: Any) -> None:
        super().__init__(file, SAFE_GLOBALS)


def read_nvidia_pickle(path: str | Path) -> Any:
    """Unpickle an NVIDIA network pickle safely; network modules become `PersistentRecord`s."""
    path = existing_file(path)
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f).load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except InvalidWeightsError as exc:
        raise InvalidWeightsError(f"{path}: {exc}") from None
    except Exception as exc:  # truncated, not a pickle, malformed opcodes or arguments
        raise InvalidWeightsError(
            f"{path} is not a readable NVIDIA StyleGAN2 pickle (truncated or not a pickle?): "
            f"{quote_error(exc)}"
        ) from None


def existing_file(path: str | Path) -> Path:
    """`path` (user-expanded) when it is a file, else FileNotFoundError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"StyleGAN2 weights file not found: {path}")
    return path


__all__ = [
    "read_nvidia_pickle",
    "check_dense_view",
    "existing_file",
    "quote_error",
    "SafeUnpickler",
    "SAFE_GLOBALS",
    "UnsafePickleError",
    "InvalidWeightsError",
    "PersistentRecord",
]
