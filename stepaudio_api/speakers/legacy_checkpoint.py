"""Read a PyTorch checkpoint saved in the legacy (pre-1.6, not zip) format into NumPy arrays,
without importing torch (whose libraries cost the embedded server a few hundred MB resident).

The format, as torch.serialization writes it: pickles of a magic number, the protocol version
and the system's facts; the object pickle, whose tensors refer to storages by persistent id
``('storage', storage type, key, location, numel[, view])``; a pickle of the storage keys in
file order; then each storage as its element count (int64, little-endian) and its raw bytes."""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}  # fmt: skip


class CheckpointError(ValueError):
    pass


@dataclass
class _Storage:
    dtype: type
    numel: int
    data: np.ndarray | None = None


@dataclass
class _Tensor:
    """A tensor before its storage's bytes are read: a strided view of it."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        assert self.storage.data is not None
        base = self.storage.data
        itemsize = base.dtype.itemsize
        if not self.size:
            return base[self.offset].copy()
        view = np.lib.stride_tricks.as_strided(
            base[self.offset :], shape=self.size, strides=[s * itemsize for s in self.stride]
        )
        return np.array(view)


@dataclass
class _StorageType:
    name: str


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *_: Any) -> _Tensor:  # fmt: skip
    return _Tensor(storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(tensor: _Tensor, *_: Any) -> _Tensor:
    return tensor


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, encoding="utf-8")
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise CheckpointError(f"the checkpoint holds {module}.{name}, which is not read here")

    def persistent_load(self, saved_id: Any) -> Any:
        if not isinstance(saved_id, tuple) or saved_id[0] != "storage":
            raise CheckpointError(f"unknown persistent id {saved_id!r}")
        storage_type, key, _location, numel = saved_id[1:5]
        if len(saved_id) > 5 and saved_id[5] is not None:
            raise CheckpointError("storage views are not read here")
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[storage_type.name], numel)
        return self.storages[key]


def load_legacy_checkpoint(file: IO[bytes]) -> Any:
    """The checkpoint's object, each tensor a NumPy array."""
    if pickle.load(file) != MAGIC_NUMBER:
        raise CheckpointError("not a legacy PyTorch checkpoint (its magic number differs)")
    pickle.load(file)  # protocol version
    pickle.load(file)  # system facts
    unpickler = _Unpickler(file)
    result = unpickler.load()
    keys = pickle.load(file)
    for key in keys:
        storage = unpickler.storages[key]
        count = int(np.frombuffer(file.read(8), "<i8")[0])
        if count != storage.numel:
            raise CheckpointError(f"storage {key} holds {count} elements, not {storage.numel}")
        size = count * np.dtype(storage.dtype).itemsize
        storage.data = np.frombuffer(file.read(size), dtype=storage.dtype)
    return _materialised(result)


def _materialised(value: Any) -> Any:
    if isinstance(value, _Tensor):
        return value.array()
    if isinstance(value, dict):
        return type(value)((k, _materialised(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return type(value)(_materialised(v) for v in value)
    return value
