"""Read tensor shapes out of a PyTorch pickle checkpoint without unpickling it.

``pickletools.genops`` only decodes opcodes; this module replays the few opcodes a state dict uses on a
symbolic stack, so GLOBAL/REDUCE never import or call anything. Tensors appear as calls of
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``; any other import is recorded, and
imports that can run code (os.system, builtins.exec, subprocess, ...) are reported as dangerous.

Example:
    >>> import io, pickle, zipfile, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "plain.pkl"
    >>> _ = path.write_bytes(pickle.dumps({"a": 1}))
    >>> scan_pickle_file(path).globals
    []
"""

from __future__ import annotations

import pickletools
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.audit.headers import TensorInfo
from lex_dpr.utils.lfs import is_lfs_pointer

SAFE_GLOBALS = {
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.LongStorage", "torch.IntStorage",
    "torch.BoolStorage", "torch.DoubleStorage", "torch.ByteStorage", "torch.CharStorage", "torch.ShortStorage",
    "torch.float32", "torch.float16", "torch.bfloat16", "torch.int64", "torch.device", "torch.Size",
    "builtins.set", "builtins.frozenset", "builtins.slice", "_codecs.encode", "numpy.dtype",
}
DANGEROUS_MODULES = ("os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pty",
                     "webbrowser", "ctypes", "pickle", "marshal", "types", "code", "commands")
DANGEROUS_NAMES = {"builtins.eval", "builtins.exec", "builtins.compile", "builtins.open", "builtins.__import__",
                   "builtins.getattr", "builtins.setattr", "builtins.globals", "builtins.apply"}


@dataclass
class PickleScan:
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    globals: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)
    error: str | None = None  # set when the stream could not be followed: "pickle: not inspected"


class _Global:
    def __init__(self, name: str) -> None:
        self.name = name


class _Call:
    def __init__(self, func: object, args: object) -> None:
        self.func, self.args = func, args


_MARK = object()


def scan_pickle_bytes(data: bytes) -> PickleScan:
    """Replay a pickle symbolically; never imports or calls anything."""
    scan = PickleScan()
    stack: list[object] = []
    memo: dict[int, object] = {}
    try:
        for opcode, arg, _ in pickletools.genops(data):
            _step(opcode.name, arg, stack, memo, scan)
    except Exception as exc:  # malformed or exotic stream: report, never guess
        scan.error = f"{type(exc).__name__}: {exc}"
        return scan
    top = stack[-1] if stack else None
    if isinstance(top, dict):
        for key, value in top.items():
            if isinstance(key, str) and isinstance(value, TensorInfo):
                scan.tensors[key] = value
    return scan


def _pop_mark(stack: list[object]) -> list[object]:
    i = len(stack) - 1 - stack[::-1].index(_MARK)
    items = stack[i + 1:]
    del stack[i:]
    return items


def _step(name: str, arg, stack: list[object], memo: dict[int, object], scan: PickleScan) -> None:
    if name in ("PROTO", "FRAME", "STOP"):
        return
    if name in ("GLOBAL", "STACK_GLOBAL"):
        if name == "GLOBAL":
            module, _, attr = arg.partition(" ")
        else:
            attr, module = stack.pop(), stack.pop()
        full = f"{module}.{attr}"
        if full not in scan.globals:
            scan.globals.append(full)
        if full not in SAFE_GLOBALS and (str(module).split(".")[0] in DANGEROUS_MODULES or full in DANGEROUS_NAMES):
            scan.dangerous.append(full)
        stack.append(_Global(full))
    elif name in ("REDUCE", "NEWOBJ"):
        args = stack.pop()
        stack.append(_reduce(stack.pop(), args))
    elif name == "BUILD":
        stack.pop()
    elif name == "MARK":
        stack.append(_MARK)
    elif name in ("EMPTY_DICT",):
        stack.append({})
    elif name in ("EMPTY_LIST",):
        stack.append([])
    elif name == "EMPTY_TUPLE":
        stack.append(())
    elif name == "EMPTY_SET":
        stack.append(set())
    elif name == "TUPLE":
        stack.append(tuple(_pop_mark(stack)))
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        n = int(name[-1])
        items = tuple(stack[-n:])
        del stack[-n:]
        stack.append(items)
    elif name in ("LIST", "DICT"):
        items = _pop_mark(stack)
        stack.append(list(items) if name == "LIST" else dict(zip(items[::2], items[1::2], strict=False)))
    elif name == "SETITEM":
        value, key = stack.pop(), stack.pop()
        _setitem(stack[-1], key, value)
    elif name == "SETITEMS":
        items = _pop_mark(stack)
        for key, value in zip(items[::2], items[1::2], strict=False):
            _setitem(stack[-1], key, value)
    elif name == "APPEND":
        value = stack.pop()
        if isinstance(stack[-1], list):
            stack[-1].append(value)
    elif name in ("APPENDS", "ADDITEMS"):
        items = _pop_mark(stack)
        if isinstance(stack[-1], list):
            stack[-1].extend(items)
    elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
        memo[int(arg)] = stack[-1]
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
    elif name in ("BINGET", "LONG_BINGET", "GET"):
        stack.append(memo[int(arg)])
    elif name in ("BINPERSID", "PERSID"):
        stack.append(("persistent", stack.pop() if name == "BINPERSID" else arg))
    elif name == "POP":
        stack.pop()
    elif name == "POP_MARK":
        _pop_mark(stack)
    elif name == "DUP":
        stack.append(stack[-1])
    elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
        stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
    elif arg is not None or name.startswith(("BININT", "INT", "LONG", "BINFLOAT", "FLOAT", "BINUNICODE",
                                             "SHORT_BINUNICODE", "UNICODE", "BINBYTES", "SHORT_BINBYTES",
                                             "BINSTRING", "SHORT_BINSTRING", "STRING", "BYTEARRAY8")):
        stack.append(arg)
    else:
        raise ValueError(f"unsupported opcode {name}")


def _setitem(target: object, key: object, value: object) -> None:
    if isinstance(target, dict):
        try:
            target[key] = value
        except TypeError:
            pass  # an unhashable symbolic key; irrelevant to tensor shapes


def _reduce(func: object, args: object) -> object:
    name = func.name if isinstance(func, _Global) else ""
    if name in ("torch._utils._rebuild_tensor_v2",) and isinstance(args, tuple) and len(args) >= 3:
        storage, size = args[0], args[2]
        dtype = "?"
        if isinstance(storage, tuple) and len(storage) == 2 and isinstance(storage[1], tuple) and storage[1]:
            kind = storage[1][1] if len(storage[1]) > 1 else None
            dtype = kind.name.rsplit(".", 1)[-1] if isinstance(kind, _Global) else "?"
        return TensorInfo(dtype, tuple(int(d) for d in size) if isinstance(size, tuple) else ())
    if name == "torch._utils._rebuild_parameter" and isinstance(args, tuple) and args:
        return args[0]
    if name == "collections.OrderedDict":
        return {}
    return _Call(func, args)


def scan_pickle_file(path: str | Path) -> PickleScan:
    """A torch zip checkpoint (its ``*/data.pkl``) or a bare pickle file; an LFS pointer is an error."""
    path = Path(path)
    if is_lfs_pointer(path):
        return PickleScan(error="a Git LFS pointer, not the file itself; run `git lfs pull` in its repository")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith("data.pkl")]
                if not names:
                    return PickleScan(error="zip without data.pkl")
                return scan_pickle_bytes(zf.read(names[0]))
        return scan_pickle_bytes(path.read_bytes())
    except (OSError, zipfile.BadZipFile) as exc:
        return PickleScan(error=f"cannot read: {exc}")
