"""Is a PyTorch pickle checkpoint safe to load, and what tensors does it hold? Decided without unpickling it.

The byte stream is decoded opcode by opcode (the same layout the C unpickler reads) and replayed on a symbolic
stack, so nothing is ever imported or called. Every global the stream would import (GLOBAL, STACK_GLOBAL, INST)
must be on an ALLOWLIST: the globals torch's own ``weights_only`` unpickler accepts by default
(``torch._weights_only_unpickler._get_allowed_globals``: rebuild functions, storage and tensor classes, dtypes,
``collections.OrderedDict``, ``torch.Size``, ...). Anything else, an extension-registry code (EXT1/2/4), a call of
a value that is not an allowed global, or a stream the replay cannot follow, FAILs: loading the file with
``torch.load(weights_only=False)`` could run code. (A stream that holds no opcode that imports or calls, and
breaks, is only unreadable: nothing in it can run.) ``training_args.bin`` and ``rng_state*.pth``, the Trainer's
own pickles, may also use the exact globals transformers writes into them. Tensors appear as calls of
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``; their shapes are read from the arguments.

Which bytes torch would unpickle is decided the way ``torch.load`` decides: a file starting with ``PK\\x03\\x04``
is a zip and torch reads ``<root>/data.pkl``, ``<root>`` being the first folder of the zip's first record; every
other pickle member is scanned too, and two top folders, two records of one name or a TorchScript archive FAIL.
Any other file is read as the legacy format: one pickle, or five in a row when the first is torch's magic number.

Example:
    >>> import pickle, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "plain.pkl").write_bytes(pickle.dumps({"a": 1}))
    >>> scan = scan_pickle_file(folder / "plain.pkl")
    >>> scan.unsafe, scan.globals
    (False, [])
    >>> _ = (folder / "evil.pkl").write_bytes(b"cos\\nsystem\\n(S'touch X'\\ntR.")
    >>> scan = scan_pickle_file(folder / "evil.pkl")
    >>> scan.unsafe, scan.disallowed
    (True, ['os.system'])
"""

from __future__ import annotations

import _compat_pickle
import io
import pickletools
import struct
import tarfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lex_dpr.audit.files import open_regular
from lex_dpr.audit.headers import TensorInfo
from lex_dpr.errors import InputError
from lex_dpr.utils.lfs import is_lfs_pointer

_KINDS = ("BFloat16", "Bool", "Byte", "Char", "Double", "Float", "Half", "Int", "Long", "Short")
_DTYPES = ("bcomplex32 bfloat16 bits16 bits1x8 bits2x4 bits4x2 bits8 bool complex128 complex32 complex64 float16 "
           "float32 float4_e2m1fn_x2 float64 float8_e4m3fn float8_e4m3fnuz float8_e5m2 float8_e5m2fnuz "
           "float8_e8m0fnu int8 int16 int32 int64 qint32 qint8 quint2x4 quint4x2 quint8 uint8 uint16 uint32 uint64 "
           + " ".join(f"int{i} uint{i}" for i in range(1, 8))).split()
# torch's default weights_only allowlist (torch 2.x, _get_allowed_globals); tests/audit checks it against torch's own.
TENSOR_GLOBALS = frozenset({
    "_codecs.encode", "builtins.bytearray", "builtins.complex", "builtins.set", "collections.Counter",
    "collections.OrderedDict", "torch.Size", "torch.Tensor", "torch.device", "torch.nn.parameter.Parameter",
    "torch.serialization._get_layout", "torch._tensor._rebuild_from_type_v2", "torch.storage.TypedStorage",
    "torch.storage.UntypedStorage",
    *(f"torch._utils._rebuild_{f}" for f in (
        "parameter", "parameter_with_state", "qtensor", "tensor", "tensor_v2", "tensor_v3", "sparse_tensor",
        "meta_tensor_no_storage", "wrapper_subclass", "device_tensor_from_numpy", "device_tensor_from_cpu_tensor")),
    *(f"torch.{q}" for q in ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
                             "per_channel_symmetric", "per_channel_affine_float_qparams")),
    *(f"torch.{d}" for d in _DTYPES),
    *(f"torch.{k}Storage" for k in (*_KINDS, "ComplexDouble", "ComplexFloat", "QInt32", "QInt8", "QUInt2x4",
                                    "QUInt4x2", "QUInt8")),
    *(f"torch.cuda.{k}Storage" for k in (*_KINDS, "ComplexDouble", "ComplexFloat")),
    *(f"{m}.{k}Tensor" for m in ("torch", "torch.cuda") for k in _KINDS),
    *(f"{m}.{k}Tensor" for m in ("torch.sparse", "torch.cuda.sparse") for k in _KINDS if k != "Bool"),
})
# Trainer artifacts that sit in adapter and checkpoint folders: exact names only (a module prefix would also allow
# whatever that module imports, e.g. ``transformers.x.Popen``). Applied to training_args.bin / rng_state*.pth only.
TRAINING_ARGS_GLOBALS = frozenset({
    "transformers.training_args.TrainingArguments", "transformers.training_args.OptimizerNames",
    "transformers.training_args_seq2seq.Seq2SeqTrainingArguments", "transformers.trainer_pt_utils.AcceleratorConfig",
    "transformers.trainer_utils.HubStrategy", "transformers.trainer_utils.IntervalStrategy",
    "transformers.trainer_utils.SaveStrategy", "transformers.trainer_utils.SchedulerType",
    "transformers.trainer_utils.EvaluationStrategy", "transformers.trainer_utils.FSDPOption",
    "transformers.debug_utils.DebugOption", "accelerate.state.PartialState",
    "accelerate.utils.dataclasses.DistributedType",
    "sentence_transformers.training_args.SentenceTransformerTrainingArguments",
    "sentence_transformers.training_args.BatchSamplers", "sentence_transformers.training_args.MultiDatasetBatchSamplers",
    "sentence_transformers.sentence_transformer.training_args.SentenceTransformerTrainingArguments",
    "sentence_transformers.base.sampler.BatchSamplers", "sentence_transformers.base.sampler.MultiDatasetBatchSamplers",
})
# what transformers itself allows when it reloads rng_state.pth (trainer_utils / safe_globals)
RNG_STATE_GLOBALS = frozenset({"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                               "numpy.ndarray", "numpy.dtype", "numpy.dtypes.UInt32DType"})

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch's legacy format: five pickles in a row, this one first
MAX_PICKLE = 512 * 1024 * 1024  # one pickle stream (data.pkl of a 70B model is a few MB)
_LONG_ARG = 1 << 20
_RISKY = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD", "EXT1", "EXT2", "EXT4",
          "PERSID", "BINPERSID"}
_STORAGE_DTYPES = {"Float": "F32", "Half": "F16", "BFloat16": "BF16", "Double": "F64", "Long": "I64", "Int": "I32",
                   "Short": "I16", "Char": "I8", "Byte": "U8", "Bool": "BOOL"}
_VALUES = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING", "BINSTRING", "SHORT_BINSTRING",
           "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
           "BINUNICODE8", "FLOAT", "BINFLOAT"}
_CODES = {op.code.encode("latin-1")[0]: op for op in pickletools.opcodes}


@dataclass
class PickleScan:
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    globals: list[str] = field(default_factory=list)  # every import, as module.name
    disallowed: list[str] = field(default_factory=list)  # imports not on the allowlist
    hazards: list[str] = field(default_factory=list)  # other ways the stream or the archive could run code
    error: str | None = None  # the stream could not be followed to its end
    inert: bool = False  # ... and it broke before anything could import or call: nothing in it can run
    lfs_pointer: bool = False
    risky_ops: int = 0  # opcodes seen that import or call

    @property
    def unsafe(self) -> bool:
        """True when loading it with ``torch.load(weights_only=False)`` could run code."""
        return bool(self.disallowed or self.hazards or (self.error and not self.inert))

    @property
    def readable(self) -> bool:
        return not self.unsafe and not self.error and not self.lfs_pointer

    def summary(self) -> str:
        """One line: the verdict's reason, without the file name."""
        if self.lfs_pointer:
            return "a Git LFS pointer, not the file itself; run `git lfs pull` in its repository"
        parts = []
        if self.disallowed:
            more = f" and {len(self.disallowed) - 4} more" if len(self.disallowed) > 4 else ""
            parts.append(f"imports {', '.join(self.disallowed[:4])}{more}: would run code under "
                         "torch.load(weights_only=False)")
        parts += self.hazards[:3]
        if self.error and not self.inert:
            parts.append(f"cannot be followed ({self.error}): not proven safe")
        if parts:
            return "; ".join(parts) + "; do not load it, ask its source for safetensors weights"
        if self.error:
            return f"pickle: not inspected ({self.error}); nothing in it can run"
        own = [g for g in self.globals if g not in TENSOR_GLOBALS]
        if own:  # training_args.bin / rng_state.pth
            return (f"a Trainer artifact, not weights: only allowlisted globals ({', '.join(own[:2])}"
                    f"{', ...' if len(own) > 2 else ''})")
        return f"{len(self.tensors)} tensors, only torch weights_only globals; prefer safetensors"


    def verdict(self) -> str:
        """``FAIL (imports os.system)``, ``WARN (8 tensors)``: short, for lines about something else."""
        if self.disallowed:
            return f"FAIL (imports {', '.join(self.disallowed[:3])})"
        if self.unsafe:
            return f"FAIL ({(self.hazards or [f'cannot be followed: {self.error}'])[0]})"
        if self.lfs_pointer or self.error:
            return "WARN (a Git LFS pointer)" if self.lfs_pointer else f"FAIL (not readable: {self.error})"
        return f"WARN ({len(self.tensors)} tensors, only allowlisted globals)"


class _Bad(Exception):
    """The stream cannot be followed (the unpickler would stop here, or the replay cannot go on)."""


@dataclass(frozen=True, eq=False)
class _Global:
    name: str
    allowed: bool


@dataclass(frozen=True, eq=False)
class _Obj:
    """The result of a call; ``func`` names what was called."""
    func: str


@dataclass(frozen=True, eq=False)
class _Persistent:
    pid: object


class _Unknown:
    """A value the replay does not model (an unparsable number, a string in an odd encoding)."""


class _ODict(dict):
    """A dict built by ``collections.OrderedDict()``: BUILD may set attributes (``_metadata``) on it."""


class _Stream:
    """Bounded reads: a length field larger than what is left is a truncation, never an allocation."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.left, self.pos = fh, size, 0

    def read(self, n: int) -> bytes:
        if n < 0 or n > self.left:
            raise _Bad(f"truncated at byte {self.pos}")
        data = self.fh.read(n)
        if len(data) < n:
            raise _Bad(f"truncated at byte {self.pos}")
        self.left -= n
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        """Step over a long byte string without reading it (its content never decides anything)."""
        if n < 0 or n > self.left:
            raise _Bad(f"truncated at byte {self.pos}")
        self.fh.seek(n, io.SEEK_CUR)
        self.left -= n
        self.pos += n

    def line(self) -> bytes:
        data = self.fh.readline(min(self.left, 1 << 20))
        if not data.endswith(b"\n"):
            raise _Bad(f"truncated or overlong line at byte {self.pos}")
        self.left -= len(data)
        self.pos += len(data)
        return data[:-1]


def _text(data: bytes) -> object:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return _Unknown()


def _quoted(data: bytes) -> object:
    if len(data) >= 2 and data[0] == data[-1] and data[:1] in (b"'", b'"'):
        try:
            import codecs

            return codecs.escape_decode(data[1:-1])[0].decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return _Unknown()
    raise _Bad("STRING argument without quotes")


def _number(data: bytes, kind: type) -> object:
    text = data.strip().rstrip(b"L")
    if kind is int and text in (b"00", b"01"):
        return text == b"01"
    try:
        return kind(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return _Unknown()


def _arg(reader: str, s: _Stream) -> object:
    fixed = {"uint1": ("<B", 1), "uint2": ("<H", 2), "int4": ("<i", 4), "uint4": ("<I", 4), "uint8": ("<Q", 8),
             "float8": (">d", 8)}
    if reader in fixed:
        fmt, n = fixed[reader]
        return struct.unpack(fmt, s.read(n))[0]
    sized = {"string1": "<B", "bytes1": "<B", "unicodestring1": "<B", "long1": "<B", "string4": "<i", "long4": "<i",
             "bytes4": "<I", "unicodestring4": "<I", "bytes8": "<Q", "bytearray8": "<Q", "unicodestring8": "<Q"}
    if reader in sized:
        fmt = sized[reader]
        (n,) = struct.unpack(fmt, s.read(struct.calcsize(fmt)))
        if n > _LONG_ARG:  # a 4 GB BINBYTES8 is stepped over, never allocated
            s.skip(n)
            return _Unknown()
        data = s.read(n)
        if reader.startswith("long"):
            return int.from_bytes(data, "little", signed=True)
        if reader.startswith("bytes"):
            return data
        if reader == "bytearray8":
            return bytearray(data)
        return _text(data)  # string1/4 (torch decodes them as UTF-8 too) and unicodestring*
    if reader == "stringnl_noescape_pair":
        return _text(s.line()), _text(s.line())
    line = s.line()
    if reader == "stringnl":
        return _quoted(line)
    if reader == "stringnl_noescape":
        return _text(line)
    if reader == "unicodestringnl":
        try:
            return line.decode("raw-unicode-escape")
        except UnicodeDecodeError:
            return _Unknown()
    if reader in ("decimalnl_short", "decimalnl_long"):
        return _number(line, int)
    if reader == "floatnl":
        return _number(line, float)
    raise _Bad(f"no reader for {reader}")


def _decode(s: _Stream) -> tuple[list[tuple[str, object, int]], str | None, bool]:
    """Opcodes up to STOP; the structural error that ended the stream early (None at STOP); whether the last
    opcode was cut short (its argument incomplete: it is listed so that a risky one still counts as reached)."""
    ops: list[tuple[str, object, int]] = []
    while True:
        pos = s.pos
        try:
            code = s.read(1)[0]
        except _Bad:
            return ops, (f"truncated at byte {pos}" if ops else "empty stream"), False
        op = _CODES.get(code)
        if op is None:
            return ops, f"unknown opcode 0x{code:02x} at byte {pos}", False
        try:
            arg = _arg(op.arg.name, s) if op.arg is not None else None
        except (_Bad, struct.error) as exc:
            ops.append((op.name, None, pos))
            return ops, f"{op.name} at byte {pos}: {exc}", True
        if op.name == "PROTO" and not 0 <= arg <= 5:  # type: ignore[operator]
            return ops, f"unsupported pickle protocol {arg} at byte {pos}", False
        ops.append((op.name, arg, pos))
        if op.name == "STOP":
            return ops, None, False


class _Replay:
    """The unpickler's stack machine over symbolic values."""

    def __init__(self, scan: PickleScan, allowed: frozenset[str], where: str) -> None:
        self.scan, self.allowed, self.where = scan, allowed, where
        self.stack: list[object] = []
        self.meta: list[list[object]] = []
        self.memo: dict[int, object] = {}
        self.proto = 0
        self.storage_keys: set[str] = set()

    def pop(self) -> object:
        if not self.stack:
            raise _Bad("stack underflow")
        return self.stack.pop()

    def top(self) -> object:
        if not self.stack:
            raise _Bad("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[object]:
        if not self.meta:
            raise _Bad("no MARK to pop")
        items, self.stack = self.stack, self.meta.pop()
        return items

    def note(self, kind: list[str], text: str) -> None:
        text += self.where
        if text not in kind:
            kind.append(text)

    def global_(self, module: object, name: object) -> _Global:
        if not isinstance(module, str) or not isinstance(name, str):
            raise _Bad("a global whose module or name is not a string")
        module = "torch._tensor" if module == "torch.tensor" else module  # torch.load's own remapping
        if self.proto < 3:  # pickle's fix_imports: Python 2 names (torch.save writes __builtin__.set)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            else:
                module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        # a dotted name is an attribute walk (proto 4+); the allowlist names module + attribute exactly
        allowed = full in self.allowed and "." not in name
        if full not in self.scan.globals:
            self.scan.globals.append(full)
        if not allowed:
            self.note(self.scan.disallowed, full)
        return _Global(full, allowed)

    def call(self, func: object, args: object, op: str, pos: int) -> object:
        if isinstance(func, _Global):
            if not func.allowed:
                return _Obj(func.name)  # already reported as an import
            if not isinstance(args, tuple):
                raise _Bad(f"{op} with arguments that are not a tuple")
            return _rebuild(func.name, args)
        if isinstance(func, _Obj) and func.func.startswith("EXT"):
            return _Obj(func.func)
        self.note(self.scan.hazards, f"{op} at byte {pos} calls a value that is not an allowed global")
        return _Obj("?")

    def step(self, name: str, arg: object, pos: int) -> None:
        st = self.stack
        if name in ("PROTO",):
            self.proto = int(arg)  # type: ignore[arg-type]
        elif name in ("FRAME", "STOP"):
            pass
        elif name == "MARK":
            self.meta.append(st)
            self.stack = []
        elif name == "POP":
            if st:
                st.pop()
            else:
                self.pop_mark()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            st.append(self.top())
        elif name == "NONE":
            st.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            st.append(name == "NEWTRUE")
        elif name == "EMPTY_DICT":
            st.append({})
        elif name == "EMPTY_LIST":
            st.append([])
        elif name == "EMPTY_TUPLE":
            st.append(())
        elif name == "EMPTY_SET":
            st.append(set())
        elif name in ("TUPLE", "LIST", "FROZENSET"):
            items = self.pop_mark()
            self.stack.append(tuple(items) if name == "TUPLE" else list(items) if name == "LIST" else frozenset(items))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            items = [self.pop() for _ in range(int(name[-1]))][::-1]
            self.stack.append(tuple(items))
        elif name == "DICT":
            items = self.pop_mark()
            if len(items) % 2:
                raise _Bad("DICT with an odd number of items")
            self.stack.append(dict(zip(items[::2], items[1::2], strict=True)))
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            self.setitems(self.top(), [key, value])
        elif name == "SETITEMS":
            items = self.pop_mark()
            if len(items) % 2:
                raise _Bad("SETITEMS with an odd number of items")
            self.setitems(self.top(), items)
        elif name in ("APPEND", "APPENDS", "ADDITEMS"):
            items = [self.pop()] if name == "APPEND" else self.pop_mark()
            target = self.top()
            if isinstance(target, list) and name != "ADDITEMS":
                target.extend(items)
            elif isinstance(target, set) and name == "ADDITEMS":
                target.update(items)
            elif not isinstance(target, _Obj):  # a method of something that is not a list or a set
                self.note(self.scan.hazards, f"{name} at byte {pos} on a {type(target).__name__}")
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            if not isinstance(arg, int) or arg < 0:
                raise _Bad(f"bad memo index at byte {pos}")
            self.memo[arg] = self.top()
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                raise _Bad(f"memo index {arg} unset at byte {pos}")
            st.append(self.memo[arg])  # type: ignore[index]
        elif name == "GLOBAL":
            st.append(self.global_(*arg))  # type: ignore[misc]
        elif name == "STACK_GLOBAL":
            attr, module = self.pop(), self.pop()
            self.stack.append(self.global_(module, attr))
        elif name == "INST":
            items = self.pop_mark()
            self.stack.append(self.call(self.global_(*arg), tuple(items), name, pos))  # type: ignore[misc]
        elif name == "OBJ":
            items = self.pop_mark()
            if not items:
                raise _Bad("OBJ without a class")
            self.stack.append(self.call(items[0], tuple(items[1:]), name, pos))
        elif name == "REDUCE":
            args = self.pop()
            st[-1] = self.call(self.top(), args, name, pos)
        elif name == "NEWOBJ":
            args = self.pop()
            st.append(self.call(self.pop(), args, name, pos))
        elif name == "NEWOBJ_EX":
            self.pop()  # kwargs
            args = self.pop()
            st.append(self.call(self.pop(), args, name, pos))
        elif name == "BUILD":
            state = self.pop()
            inst = self.top()
            if isinstance(inst, _Global):
                self.note(self.scan.hazards, f"BUILD at byte {pos} sets attributes on {inst.name} itself")
            elif not isinstance(inst, _Obj | _ODict | TensorInfo) and state:
                raise _Bad(f"BUILD at byte {pos} on a {type(inst).__name__}")
        elif name in ("EXT1", "EXT2", "EXT4"):
            self.note(self.scan.disallowed, f"copyreg extension code {arg} ({name})")
            st.append(_Obj(name))
        elif name in ("PERSID", "BINPERSID"):
            pid = arg if name == "PERSID" else self.pop()
            if isinstance(pid, tuple) and len(pid) >= 3 and pid[0] in ("storage", b"storage"):
                self.storage_keys.add(str(pid[2]))
            self.stack.append(_Persistent(pid))
        elif name in ("NEXT_BUFFER", "READONLY_BUFFER"):
            raise _Bad(f"{name} (out-of-band buffers are not used by torch.save)")
        elif name in _VALUES:
            st.append(arg)
        else:
            raise _Bad(f"opcode {name} not modelled")

    def setitems(self, target: object, items: list[object]) -> None:
        if isinstance(target, dict):
            try:
                for key, value in zip(items[::2], items[1::2], strict=True):
                    target[key] = value
            except TypeError:
                raise _Bad("unhashable dict key") from None
        elif not isinstance(target, _Obj):
            self.note(self.scan.hazards, f"SETITEM on a {type(target).__name__}")


def _rebuild(name: str, args: tuple) -> object:
    """Shapes out of torch's rebuild calls; any other allowed call is an opaque value."""
    if name == "collections.OrderedDict":
        return _ODict()
    if name in ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v3") \
            and len(args) >= 3:
        storage, size = args[0], args[2]
        dtype = "?"
        if isinstance(storage, _Persistent) and isinstance(storage.pid, tuple) and len(storage.pid) > 1:
            kind = storage.pid[1]
            if isinstance(kind, _Global):
                short = kind.name.rsplit(".", 1)[-1].removesuffix("Storage")
                dtype = _STORAGE_DTYPES.get(short, short)
        ok = isinstance(size, tuple) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in size)
        return TensorInfo(dtype, tuple(size) if ok else ())  # type: ignore[arg-type]
    if name in ("torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state") and args:
        return args[0]
    if name == "torch._tensor._rebuild_from_type_v2" and len(args) >= 3:
        func, inner = args[0], args[2]
        if isinstance(func, _Global) and func.allowed and isinstance(inner, tuple):
            return _rebuild(func.name, inner)
    return _Obj(name)


def _scan_stream(s: _Stream, scan: PickleScan, allowed: frozenset[str], where: str = "") -> tuple[object, set[str]]:
    """One pickle from the stream's position: its top-level value and the storage keys it references."""
    ops, broken, cut = _decode(s)
    replay = _Replay(scan, allowed, where)
    scan.risky_ops += sum(name in _RISKY for name, _, _ in ops)
    if broken is not None and not scan.error:
        scan.error, scan.inert = broken + where, scan.risky_ops == 0
    for i, (name, arg, pos) in enumerate(ops[:-1] if cut else ops):
        try:
            replay.step(name, arg, pos)
        except (_Bad, TypeError, ValueError) as exc:
            if not scan.error or scan.inert:  # with no opcode that imports or calls anywhere, nothing can run
                scan.error, scan.inert = f"{exc}{where}", scan.risky_ops == 0
            for later, later_arg, _ in ops[i + 1:]:  # the imports that follow can be named without the stack
                if later in ("GLOBAL", "INST") and isinstance(later_arg, tuple):
                    try:
                        replay.global_(*later_arg)
                    except _Bad:
                        pass
            return None, replay.storage_keys
    if broken is not None or not replay.stack:
        return None, replay.storage_keys
    return replay.stack[-1], replay.storage_keys


def _tensors(value: object) -> dict[str, TensorInfo]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, TensorInfo)}


def _allowlist(path: Path) -> frozenset[str]:
    if path.name == "training_args.bin":
        return TENSOR_GLOBALS | TRAINING_ARGS_GLOBALS
    if path.name.startswith("rng_state") and path.suffix == ".pth":
        return TENSOR_GLOBALS | RNG_STATE_GLOBALS
    return TENSOR_GLOBALS


def scan_pickle_file(path: str | Path) -> PickleScan:
    """Scan what ``torch.load`` would unpickle from ``path``: a torch zip checkpoint or a legacy/bare pickle.

    Raises:
        InputError: when ``path`` is not a regular file or cannot be opened.
    """
    path = Path(path)
    if is_lfs_pointer(path):
        return PickleScan(lfs_pointer=True)
    allowed = _allowlist(path)
    scan = PickleScan()
    with open_regular(path, "pickle checkpoint") as fh:
        size = _size(fh)
        head = fh.read(4)
        fh.seek(0)
        try:
            if head == b"PK\x03\x04":  # torch's own test (_is_zipfile), not zipfile.is_zipfile
                _scan_zip(fh, scan, allowed)
            else:
                _scan_legacy(fh, size, scan, allowed)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return scan


def scan_pickle_bytes(data: bytes, allowed: frozenset[str] = TENSOR_GLOBALS) -> PickleScan:
    """Scan one in-memory pickle stream (the first pickle in ``data``)."""
    scan = PickleScan()
    value, _ = _scan_stream(_Stream(io.BytesIO(data), len(data)), scan, allowed)
    if not scan.unsafe:
        scan.tensors = _tensors(value)
    return scan


def _size(fh: BinaryIO) -> int:
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    return size


def _scan_legacy(fh: BinaryIO, size: int, scan: PickleScan, allowed: frozenset[str]) -> None:
    """torch.load tries a tar first, then reads one pickle (five when the first is the magic number)."""
    try:
        with tarfile.open(fileobj=fh, mode="r:"):
            scan.hazards.append("a legacy tar checkpoint (torch < 0.4): torch.load unpickles its members unscanned")
            return
    except (tarfile.TarError, EOFError, ValueError, OSError):
        fh.seek(0)
    s = _Stream(fh, size)
    first, _ = _scan_stream(s, scan, allowed)
    if scan.error or first != MAGIC_NUMBER:
        if not scan.unsafe:
            scan.tensors = _tensors(first)
        return
    main = None
    for part in ("protocol version", "sys info", "object", "storage keys"):
        value, _ = _scan_stream(s, scan, allowed, f" (legacy {part} pickle)")
        if scan.error:
            return
        main = value if part == "object" else main
    if not scan.unsafe:
        scan.tensors = _tensors(main)


def _scan_zip(fh: BinaryIO, scan: PickleScan, allowed: frozenset[str]) -> None:
    """``<root>/data.pkl`` as torch reads it, then every other member that is or starts like a pickle."""
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        scan.error = f"starts like a zip but Python cannot open it ({exc})"  # torch's reader might
        return
    with zf:
        records = zf.infolist()
        infos = [i for i in records if not i.is_dir()]
        if not infos or "/" not in records[0].filename:  # torch: "file in archive is not in a subdirectory"
            scan.error, scan.inert = "a zip that torch cannot load (its first record is not inside a folder)", True
            return
        root = records[0].filename.split("/")[0]
        counts = Counter(i.filename for i in infos)
        dups = sorted(n for n, c in counts.items() if c > 1)
        if dups:
            scan.hazards.append(f"holds {counts[dups[0]]} records named {dups[0]}: torch may read either")
        roots = sorted({i.filename.split("/")[0] for i in infos})
        if len(roots) > 1:
            scan.hazards.append(f"records under {len(roots)} top folders ({', '.join(r + '/' for r in roots[:4])}): "
                                f"torch reads only {root}/data.pkl")
        if f"{root}/constants.pkl" in counts:
            scan.hazards.append("a TorchScript archive: torch.load hands it to torch.jit.load, which runs its code")
        main = f"{root}/data.pkl"
        if main not in counts:
            scan.error, scan.inert = f"no {main}: not a torch checkpoint", True
        storage: set[str] = set()
        for info in sorted(infos, key=lambda i: i.filename != main):  # the record torch loads, first
            is_main = info.filename == main
            if not is_main and not info.filename.endswith(".pkl") and (
                    info.filename in storage or not _looks_like_pickle(zf, info)):
                continue  # tensor bytes (data/<key>), version files
            member_scan = scan if is_main else PickleScan()
            if info.file_size > MAX_PICKLE:
                member_scan.error = f"{info.filename} is {info.file_size >> 20} MiB, too large to scan"
            else:
                try:
                    with zf.open(info) as member:
                        value, keys = _scan_stream(_Stream(member, info.file_size), member_scan, allowed,
                                                   "" if is_main else f" (in {info.filename})")
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError) as exc:
                    member_scan.error, member_scan.inert = f"{info.filename} cannot be read ({exc})", False
                    value, keys = None, set()
            if is_main:
                scan.tensors = _tensors(value) if not scan.error else {}
                storage = {f"{root}/data/{k}" for k in keys}
                continue
            # torch never unpickles another member; one that imports or calls still FAILs: a decoy is an attack
            for name in member_scan.globals:
                if name not in scan.globals:
                    scan.globals.append(name)
            scan.disallowed += [d for d in member_scan.disallowed if d not in scan.disallowed]
            scan.hazards += member_scan.hazards
            if member_scan.error and not member_scan.inert:
                scan.hazards.append(f"{info.filename} cannot be followed ({member_scan.error})")
        if scan.unsafe:
            scan.tensors = {}


def _looks_like_pickle(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """A member that starts with PROTO 2..5, as every pickle torch writes does."""
    try:
        with zf.open(info) as member:
            head = member.read(2)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError):
        return True  # unreadable here: scanning it reports why
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5
