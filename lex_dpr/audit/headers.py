"""Tensor names and shapes from weight files, read without torch and without executing anything.

safetensors: an 8-byte little-endian header length, then a JSON header. PyTorch .bin/.pt: a zip whose
``data.pkl`` is walked opcode by opcode (see :mod:`lex_dpr.audit.pickle_scan`), never unpickled.

Example:
    >>> import json, struct, tempfile, pathlib
    >>> header = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}).encode()
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.safetensors"
    >>> _ = path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(24))
    >>> read_safetensors_header(path)["w"].shape
    (2, 3)
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import orjson

from lex_dpr.audit.files import json_kind, open_regular
from lex_dpr.errors import InputError
from lex_dpr.utils.lfs import require_not_lfs_pointer

MAX_HEADER = 100 * 1024 * 1024  # the format's own limit
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
                "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def read_safetensors_header(path: str | Path) -> dict[str, TensorInfo]:
    """Tensor name → dtype and shape, from the JSON header only (the weights are never read).

    Raises:
        InputError: one line naming the file and what is wrong (not a regular file, impossible header length,
            a header that is not a JSON object, a tensor entry without a valid dtype, shape or data_offsets).
    """
    path = Path(path)
    require_not_lfs_pointer(path)
    with open_regular(path, "safetensors file") as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            raw_len = fh.read(8)
            if len(raw_len) < 8:
                raise InputError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (length,) = struct.unpack("<Q", raw_len)
            if length > MAX_HEADER or length > size - 8:
                raise InputError(f"{path}: not a safetensors file (header length {length} is impossible)")
            raw = fh.read(length)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputError(f"{path}: safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: safetensors header is {json_kind(header)}, not a JSON object; the file is corrupt")
    data_size = size - 8 - length
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict):
                raise InputError(f"{path}: safetensors __metadata__ is {json_kind(entry)}, not an object; "
                                 "the file is corrupt")
            continue
        out[name] = _tensor_entry(path, name, entry, data_size)
    return out


def _tensor_entry(path: Path, name: str, entry: object, data_size: int) -> TensorInfo:
    def bad(what: str) -> InputError:
        return InputError(f"{path}: tensor {name!r} {what}; the safetensors file is corrupt")

    if not isinstance(entry, dict):
        raise bad(f"is {json_kind(entry)}, not an object with dtype, shape and data_offsets")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or not dtype:
        raise bad(f"has dtype {_show(dtype)}, expected a name such as \"F32\"")
    if not isinstance(shape, list) or not all(_natural(d) for d in shape):
        raise bad(f"has shape {_show(shape)}, expected a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_natural(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise bad(f"has data_offsets {_show(offsets)}, expected [begin, end] with 0 <= begin <= end")
    if offsets[1] > data_size:
        raise bad(f"ends at byte {offsets[1]} of a data section of {data_size} bytes (truncated download?)")
    info = TensorInfo(dtype, tuple(shape))
    width = _DTYPE_BYTES.get(dtype)
    if width is not None and offsets[1] - offsets[0] != info.numel * width:
        raise bad(f"holds {offsets[1] - offsets[0]} bytes, but {dtype} {list(shape)} needs {info.numel * width}")
    return info


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _show(value: object) -> str:
    text = orjson.dumps(value).decode() if value is not None else "missing"
    return text if len(text) <= 40 else text[:37] + "..."


def read_weight_headers(folder: str | Path) -> tuple[dict[str, TensorInfo], list[str]]:
    """All safetensors tensors in a model folder (sharded or not) and the pickle files found beside them."""
    folder = Path(folder)
    tensors: dict[str, TensorInfo] = {}
    for path in sorted(folder.glob("*.safetensors")):
        tensors |= read_safetensors_header(path)
    pickles = sorted(str(p) for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    return tensors, pickles
