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

import struct
from dataclasses import dataclass
from pathlib import Path

import orjson

from lex_dpr.errors import InputError
from lex_dpr.utils.lfs import require_not_lfs_pointer

MAX_HEADER = 100 * 1024 * 1024  # the format's own limit


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
    """Tensor name → dtype and shape, from the JSON header only (the weights are never read)."""
    path = Path(path)
    require_not_lfs_pointer(path)
    try:
        with path.open("rb") as fh:
            raw_len = fh.read(8)
            if len(raw_len) < 8:
                raise InputError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (length,) = struct.unpack("<Q", raw_len)
            if length > MAX_HEADER or length > path.stat().st_size - 8:
                raise InputError(f"{path}: not a safetensors file (header length {length} is impossible)")
            header = orjson.loads(fh.read(length))
    except orjson.JSONDecodeError:
        raise InputError(f"{path}: safetensors header is not valid JSON") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    return {name: TensorInfo(str(v.get("dtype", "?")), tuple(int(d) for d in v.get("shape", [])))
            for name, v in header.items() if name != "__metadata__" and isinstance(v, dict)}


def read_weight_headers(folder: str | Path) -> tuple[dict[str, TensorInfo], list[str]]:
    """All safetensors tensors in a model folder (sharded or not) and the pickle files found beside them."""
    folder = Path(folder)
    tensors: dict[str, TensorInfo] = {}
    for path in sorted(folder.glob("*.safetensors")):
        tensors |= read_safetensors_header(path)
    pickles = sorted(str(p) for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt"))
    return tensors, pickles
