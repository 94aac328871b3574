"""Reading a GGUF file's header (metadata and tensor table) without touching the weights.

The layout and the type tables come from the `gguf` package (llama.cpp's own Python library). Its
`GGUFReader` builds a numpy view per array element, which takes ~9 s on a file with a 262k-token
vocabulary; this reader walks the same header with `struct` over an mmap and keeps only what a
fit estimate needs (long arrays are reduced to their length), in milliseconds.

Split models (`name-00001-of-00003.gguf`) are read as one: metadata from the first shard, tensors
from all of them.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf.constants import GGML_QUANT_SIZES, GGUF_MAGIC, GGMLQuantizationType
from gguf.constants import GGUFValueType as VT

SHARD = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")
KEEP_ARRAY = 4096  # longer arrays (vocabularies, merges) keep only their length

_SCALARS: dict[VT, str] = {
    VT.UINT8: "<B",
    VT.INT8: "<b",
    VT.UINT16: "<H",
    VT.INT16: "<h",
    VT.UINT32: "<I",
    VT.INT32: "<i",
    VT.FLOAT32: "<f",
    VT.BOOL: "<?",
    VT.UINT64: "<Q",
    VT.INT64: "<q",
    VT.FLOAT64: "<d",
}


class GGUFError(Exception):
    """Not a GGUF file, a truncated header, or a missing shard; the message names the file."""


@dataclass(frozen=True)
class ArrayInfo:
    """A long metadata array, kept as its item type and length."""

    item_type: str
    length: int


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type_name: str  # "Q4_K", "F32", ...
    shape: tuple[int, ...]  # ne0 first, as llama.cpp counts
    n_bytes: int

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass
class GGUFModel:
    """One model: its metadata and the tensors of every shard."""

    paths: list[Path]
    metadata: dict[str, Any]
    tensors: list[TensorInfo] = field(default_factory=list)

    @property
    def file_size(self) -> int:
        return sum(p.stat().st_size for p in self.paths)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def get(self, key: str, default: Any = None) -> Any:
        """An `<arch>.`-prefixed key given without its prefix (e.g. "block_count")."""
        return self.metadata.get(f"{self.architecture}.{key}", default)


class _Cursor:
    def __init__(self, data: mmap.mmap | bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, fmt: str) -> Any:
        try:
            (value,) = struct.unpack_from(fmt, self.data, self.pos)
        except struct.error as exc:
            raise GGUFError(f"{self.path}: the GGUF header is truncated") from exc
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.take("<Q")
        if self.pos + length > len(self.data):
            raise GGUFError(f"{self.path}: the GGUF header is truncated")
        raw = bytes(self.data[self.pos : self.pos + length])
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.take("<Q")
        self.pos += length

    def value(self, kind: int) -> Any:
        vtype = _value_type(kind, self.path)
        if vtype == VT.STRING:
            return self.string()
        if vtype == VT.ARRAY:
            return self.array()
        return self.take(_SCALARS[vtype])

    def array(self) -> list[Any] | ArrayInfo:
        item = _value_type(self.take("<I"), self.path)
        length = self.take("<Q")
        if length > KEEP_ARRAY:
            self._skip_items(item, length)
            return ArrayInfo(item.name, length)
        return [self.value(item) for _ in range(length)]

    def _skip_items(self, item: VT, length: int) -> None:
        if item in _SCALARS:
            self.pos += struct.calcsize(_SCALARS[item]) * length
        elif item == VT.STRING:
            for _ in range(length):
                self.skip_string()
        else:  # nested arrays: rare, walk them
            for _ in range(length):
                self.value(item)


def _value_type(kind: int, path: Path) -> VT:
    try:
        return VT(kind)
    except ValueError as exc:
        raise GGUFError(f"{path}: unknown GGUF value type {kind}") from exc


def tensor_bytes(type_id: int, shape: tuple[int, ...]) -> int:
    block, size = GGML_QUANT_SIZES[GGMLQuantizationType(type_id)]
    rows = 1
    for dim in shape[1:]:
        rows *= dim
    return -(-shape[0] // block) * size * rows if shape else 0


def _read_one(path: Path) -> tuple[dict[str, Any], list[TensorInfo]]:
    with path.open("rb") as handle:
        if path.stat().st_size < 24:
            raise GGUFError(f"{path} is not a GGUF file (too short)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(_Cursor(data, path))


def _parse(cur: _Cursor) -> tuple[dict[str, Any], list[TensorInfo]]:
    if cur.take("<I") != GGUF_MAGIC:
        raise GGUFError(f"{cur.path} is not a GGUF file (bad magic)")
    version = cur.take("<I")
    if version not in (2, 3):
        raise GGUFError(f"{cur.path}: GGUF version {version} is not supported")
    n_tensors, n_kv = cur.take("<Q"), cur.take("<Q")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        metadata[key] = cur.value(cur.take("<I"))
    tensors = [_tensor(cur) for _ in range(n_tensors)]
    return metadata, tensors


def _tensor(cur: _Cursor) -> TensorInfo:
    name = cur.string()
    shape = tuple(cur.take("<Q") for _ in range(cur.take("<I")))
    type_id = cur.take("<I")
    cur.take("<Q")  # offset in the data section
    try:
        type_name = GGMLQuantizationType(type_id).name
    except ValueError as exc:
        raise GGUFError(f"{cur.path}: tensor {name} has unknown type {type_id}") from exc
    return TensorInfo(name, type_name, shape, tensor_bytes(type_id, shape))


def shard_paths(path: Path) -> list[Path]:
    """All shards of a split model (in order), or just `path`."""
    match = SHARD.match(path.name)
    if not match:
        return [path]
    count = int(match["count"])
    paths = [path.with_name(f"{match['prefix']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise GGUFError(f"{path.name} is shard of a {count}-part model; missing: {', '.join(missing)}")
    return paths


def read_model(path: Path | str) -> GGUFModel:
    """Header of a GGUF model (all shards of a split one); `GGUFError` when it is not one."""
    paths = shard_paths(Path(path))
    metadata, tensors = _read_one(paths[0])
    model = GGUFModel(paths=paths, metadata=metadata, tensors=tensors)
    for shard in paths[1:]:
        model.tensors.extend(_read_one(shard)[1])
    return model
