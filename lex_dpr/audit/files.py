"""Opening the files of a downloaded model folder: regular files only, and never more than a size limit.

A FIFO, socket or device named ``adapter_model.safetensors`` would block ``open()`` or stream forever; such a
file is refused from its ``stat`` before it is opened, and opened with ``O_NONBLOCK`` so that a swap between the
two checks cannot block either.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "adapter_config.json"
    >>> _ = path.write_text('{"r": 8}')
    >>> read_json_object(path)
    {'r': 8}
    >>> _ = path.write_text('[1, 2]')
    >>> read_json_object(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lex_dpr.errors.InputError: .../adapter_config.json: expected a JSON object, found a list; fix or replace the file
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from lex_dpr.errors import InputError

MAX_JSON = 8 * 1024 * 1024  # config.json of the largest hub models is well under 100 KB
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFDIR: "a folder"}


def _not_regular(path: Path, mode: int, what: str) -> InputError:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
    return InputError(f"{path}: not a regular file ({kind}); replace it with the real {what}")


def open_regular(path: str | Path, what: str = "file") -> BinaryIO:
    """``path`` opened for binary reading, or :class:`InputError` when it is not a regular file."""
    path = Path(path)
    try:
        st = os.stat(path)  # follows links: the Hugging Face cache links snapshot files to blobs
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode, what)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_regular(path, mode, what)
    return os.fdopen(fd, "rb")


def read_limited(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The whole file, or :class:`InputError` naming the limit when it is larger."""
    path = Path(path)
    with open_regular(path, what) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > limit:
        raise InputError(f"{path}: larger than {limit >> 20} MiB, too large for a {what}; is it the right file?")
    return data


def read_head(path: str | Path, limit: int) -> str:
    """At most ``limit`` bytes of a text file (README, metadata) as text; "" when it is not a readable file."""
    try:
        with open_regular(path) as fh:
            return fh.read(limit).decode("utf-8", errors="replace")
    except (InputError, OSError):
        return ""


def read_json_object(path: str | Path, limit: int = MAX_JSON) -> dict[str, Any]:
    """A JSON object from a config file (UTF-8 with or without BOM, or CP949), with one-line errors."""
    path = Path(path)
    raw = read_limited(path, limit, "JSON config")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise InputError(f"{path}: empty file; fix or replace it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp949")
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 or CP949 text (wrong encoding?)") from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, found {json_kind(data)}; fix or replace the file")
    return data


def json_kind(value: object) -> str:
    """'a list', 'a string', ... for messages about a JSON value of the wrong type."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
