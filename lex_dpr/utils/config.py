"""Config files as dataclasses: YAML + ``section.key=value`` overrides + ``~section.key`` resets, checked first.

Training, sweep and RAG configs are plain (nested) dataclasses. Choices are ``StrEnum`` fields, numbers
carry their range in the field's metadata (see :func:`setting`), and :func:`load` collects *every*
problem in the file and its overrides (unknown keys with the closest valid one, values of the wrong
type, values out of range or not among the choices) into one :class:`~lex_dpr.errors.ConfigError`.
Nothing heavy is imported: a config is checked before torch is.

Example:
    >>> from lex_dpr.models.config import LoraConfig  # any config dataclass; sections nest
    >>> load(LoraConfig, None, ["r=16", "dropout=0.1"]).r
    16
    >>> load(LoraConfig, None, ["r=0", "alpah=3"])
    Traceback (most recent call last):
    ...
    lex_dpr.errors.ConfigError: overrides: 2 problems: unknown key 'alpah' (did you mean 'alpha'?); 'r': 0 must be >= 1
    >>> to_overrides(load(LoraConfig, None, ["r=3", "r=4", "~r", "alpha=32"]))
    ['alpha=32']

Every reader of an override (``lex-dpr train``, a sweep file's ``fixed`` list, the W&B translation) reads it
with :func:`parse_override`, so one item means the same value everywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import math
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from lex_dpr.errors import ConfigError

_BOUNDS = {"gt": (lambda v, b: v > b, ">"), "ge": (lambda v, b: v >= b, ">="),
           "lt": (lambda v, b: v < b, "<"), "le": (lambda v, b: v <= b, "<=")}


def setting(default: Any = dataclasses.MISSING, *, gt: float | None = None, ge: float | None = None,
            lt: float | None = None, le: float | None = None, default_factory: Callable[[], Any] | None = None,
            also: Sequence[Any] = ()) -> Any:
    """A dataclass field with a numeric range: ``lr: float = setting(0.1, gt=0)``.

    The bounds apply to a number and to every item of a list of numbers. ``also`` lists values accepted
    outside the range (``max_steps: int = setting(-1, ge=1, also=(-1,))``). ``None`` is always accepted
    where the type allows it. NaN and infinity are never accepted for a bounded float.
    """
    bounds = {k: v for k, v in {"gt": gt, "ge": ge, "lt": lt, "le": le}.items() if v is not None}
    meta = {"bounds": bounds, "also": tuple(also)}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def load(cls: type, path: str | Path | None = None, overrides: Sequence[str] | None = None,
         text: str | None = None) -> Any:
    """Read ``path`` (YAML; ``None``: the defaults), apply ``overrides`` in order, check everything.

    ``text`` is the file's content when it does not come from disk (a bundled config); ``path`` then
    only names it in messages.

    Overrides are ``section.key=value`` (the value is read as YAML: ``[a, b]``, ``null``, ``2e-5``),
    ``~section.key`` (back to the default) or ``~section`` (the whole section back to its defaults).

    Raises:
        ConfigError: listing every problem found, each with the key and the fix.
    """
    where = str(path) if path is not None else "overrides"
    problems: list[str] = []
    raw: Any = {}
    if text is not None:
        raw = parse_yaml(text, where)
    elif path is not None:
        raw = read_yaml(Path(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, not {type(raw).__name__}")
    tree = _merge_defaults(cls, cls, raw, "", problems)
    problems += apply_overrides(cls, tree, overrides or [])
    cfg = _build(cls, tree, "", problems)  # a value that failed to parse keeps its default here
    problems += check(cfg)
    if problems:
        head = f"{where}{' + overrides' if path is not None and overrides else ''}"
        count = f"{len(problems)} problems" if len(problems) > 1 else "1 problem"
        raise ConfigError(f"{head}: {count}: " + "; ".join(problems), problems=problems)
    return cfg


def check(cfg: Any, prefix: str = "") -> list[str]:
    """Range and choice problems of a built config, plus each dataclass's own ``problems()`` method."""
    out: list[str] = []
    for f in dataclasses.fields(cfg):
        value, key = getattr(cfg, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out += check(value, key + ".")
            continue
        bounds, also = f.metadata.get("bounds", {}), f.metadata.get("also", ())
        items = value if isinstance(value, list) else [value]
        for v in items:
            if v is None or isinstance(v, bool) or not isinstance(v, int | float) or v in also:
                continue
            if isinstance(v, float) and not math.isfinite(v) and bounds:
                out.append(f"'{key}': {v!r} must be a finite number")
                continue
            for name, bound in bounds.items():
                ok, sign = _BOUNDS[name]
                if not ok(v, bound):
                    allowed = f" (or {', '.join(map(str, also))})" if also else ""
                    out.append(f"'{key}': {v!r} must be {sign} {bound}{allowed}")
                    break
    own = getattr(cfg, "problems", None)
    if callable(own):
        out += own()
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain dict (enums as their string values), ready for JSON or YAML."""
    def plain(v: Any) -> Any:
        if isinstance(v, enum.Enum):
            return v.value
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def to_overrides(cfg: Any, base: Any | None = None) -> list[str]:
    """The ``key=value`` list that turns ``base`` (default: the defaults) into ``cfg``; loads back exactly."""
    mine, ref = flatten(to_dict(cfg)), flatten(to_dict(base if base is not None else type(cfg)()))
    out = []
    for key, value in mine.items():
        if key not in ref or ref[key] != value:
            out.append(f"{key}={_format(value)}")
    return out


class Override(NamedTuple):
    """One override as :func:`parse_override` reads it.

    ``text`` is the value as written (``None`` for ``~key``, a reset to the default); ``value`` is that text
    read as YAML (the text itself when it is not YAML, ``""`` when nothing follows the ``=``).
    """

    key: str
    text: str | None
    value: Any

    @property
    def reset(self) -> bool:
        return self.text is None


def parse_override(item: Any) -> Override:
    """One ``section.key=value`` or ``~section.key`` override, read as every command reads it.

    The key and the value are stripped; the value is YAML (``[1, 2]`` a list, ``null`` None, ``'x=y'`` the
    text ``x=y``). YAML 1.1 reads ``1e-4`` (no dot) as text: the config's field type makes it a number.

    Example:
        >>> parse_override(" trainer.lr = 2e-5"), parse_override("~lora")
        (Override(key='trainer.lr', text='2e-5', value='2e-5'), Override(key='lora', text=None, value=None))
        >>> parse_override("lora.target_modules=[q, v]").value, parse_override("s='x=y'").value
        (['q', 'v'], 'x=y')
        >>> parse_override("lora.r")
        Traceback (most recent call last):
        ...
        lex_dpr.errors.ConfigError: override 'lora.r' is not key=value or ~key (e.g. trainer.lr=2e-5)

    Raises:
        ConfigError: ``item`` is neither form (a ``--flag`` among the overrides is told where flags go).
    """
    import yaml

    text = item.strip() if isinstance(item, str) else None
    if text and text.startswith("~") and text[1:].strip():
        return Override(text[1:].strip(), None, None)
    if text and "=" in text and text.split("=", 1)[0].strip():
        key, value_text = (part.strip() for part in text.split("=", 1))
        try:
            value = yaml.safe_load(value_text) if value_text else ""
        except yaml.YAMLError:
            value = value_text
        return Override(key, value_text, value)
    hint = " (flags go before the overrides; see --help)" if text and text.startswith("-") else ""
    shown = f"'{text}'" if text is not None else repr(item)
    raise ConfigError(f"override {shown} is not key=value or ~key (e.g. trainer.lr=2e-5){hint}")


def apply_overrides(cls: type, tree: dict[str, Any], overrides: Sequence[Any]) -> list[str]:
    """Apply overrides, in order, to ``tree`` (a config's raw values by section); the problems found.

    Each is read by :func:`parse_override` and its key checked against ``cls``; the value stays raw here
    (typed and range-checked when the config is built, by :func:`load`).

    Example:
        >>> from lex_dpr.models.config import LoraConfig
        >>> tree = {}
        >>> apply_overrides(LoraConfig, tree, ["r=16", "alpah=3", "~r", "alpha=32"]), tree
        (["unknown key 'alpah' (did you mean 'alpha'?)"], {'alpha': 32})
    """
    problems: list[str] = []
    for item in overrides:
        try:
            override = parse_override(item)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        _apply(cls, tree, override, problems)
    return problems


def all_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted leaf key of a config class, in declaration order."""
    keys = []
    for name, ftype in _hints(cls).items():
        if _is_section(ftype):
            keys += all_keys(ftype, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def did_you_mean(cls: type, key: str) -> str:
    """`` (did you mean 'section.key'?)`` for an unknown dotted ``key`` of ``cls``, or ``""`` when nothing is close."""
    keys = all_keys(cls)
    leaf = key.rsplit(".", 1)[-1]
    close = [k for k in keys if k.rsplit(".", 1)[-1] == leaf][:1]  # the right name in another section
    if not close:
        sections = sorted({k.rsplit(".", 1)[0] for k in keys if "." in k})
        close = difflib.get_close_matches(key, keys + sections, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


MAX_YAML_BYTES = 4 << 20  # a config or sweep file is a few KB; past this it is not one
MAX_YAML_NODES = 100_000  # values after aliases are expanded: an alias bomb is refused before it is built
MAX_YAML_DEPTH = 100  # nesting levels; a config has a handful
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file or a syntax error is a one-line ConfigError with the line."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes is more than a config file holds (at most "
                              f"{MAX_YAML_BYTES:,}): is it the right file?")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text safely and within bounds; every problem is a one-line ConfigError naming ``where``.

    libyaml's parser is used where PyYAML has it. A key written twice in one mapping is refused (YAML
    forbids it; PyYAML would keep the last), and so is a document that expands past ``MAX_YAML_NODES``
    values through aliases.

    Example:
        >>> parse_yaml("a: 1\\nb: [x, y]", "demo")
        {'a': 1, 'b': ['x', 'y']}
        >>> parse_yaml("run_cap: 2\\nrun_cap: 5", "demo")
        Traceback (most recent call last):
        ...
        lex_dpr.errors.ConfigError: demo: line 2: 'run_cap' is written twice (first on line 1): keep one
    """
    import yaml

    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{where}: {len(text):,} characters is more than a config file holds (at most "
                          f"{MAX_YAML_BYTES:,})")
    loader = _loader_class()(text)
    loader.where = where
    try:
        _check_depth(_loader_class()(text), where)
        node = loader.get_single_node()
        if node is None:
            return {}
        _expanded_size(node, where)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{where}:{line} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a config file") from None
    finally:
        loader.dispose()
    return {} if data is None else data


@functools.lru_cache(maxsize=1)
def _loader_class() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        where = "yaml"

        def construct_mapping(self, node, deep=False):
            seen: dict[tuple[str, str], int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                ident, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
                if ident in seen:
                    raise ConfigError(f"{self.where}: line {line}: '{key_node.value}' is written twice (first on "
                                      f"line {seen[ident]}): keep one")
                seen[ident] = line
            return super().construct_mapping(node, deep=deep)

    return Loader


def _check_depth(loader: Any, where: str) -> None:
    """Refuse nesting deeper than ``MAX_YAML_DEPTH`` from the event stream (libyaml's composer recurses in C)."""
    import yaml

    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise ConfigError(f"{where}: line {event.start_mark.line + 1}: nested more than "
                                      f"{MAX_YAML_DEPTH} levels deep: not a config file")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


def _expanded_size(root: Any, where: str) -> int:
    """How many values ``root`` stands for once its aliases are expanded; ConfigError past the bound."""
    import yaml

    sizes: dict[int, int | None] = {}

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            if sizes[key] is None:
                raise ConfigError(f"{where}: line {node.start_mark.line + 1}: an alias refers to the value that "
                                  "contains it: a config cannot be recursive")
            return sizes[key]  # type: ignore[return-value]
        sizes[key] = None
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            n = 1
        if n > MAX_YAML_NODES:
            raise ConfigError(f"{where}: line {node.start_mark.line + 1}: this value expands to more than "
                              f"{MAX_YAML_NODES:,} values through aliases (&anchor/*alias): write it out, or "
                              "check the file is what you meant")
        sizes[key] = n
        return n

    return size(root)


# --- internals -------------------------------------------------------------------------------------------


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_section(ftype: Any) -> bool:
    return isinstance(ftype, type) and dataclasses.is_dataclass(ftype)


def _merge_defaults(root: type, cls: type, raw: dict[str, Any], prefix: str, problems: list[str]) -> dict[str, Any]:
    """Check a YAML mapping's keys against ``cls``; keep raw values (typed in :func:`_build`)."""
    hints, tree = _hints(cls), {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str) or key not in hints:
            problems.append(f"unknown key '{dotted}'{did_you_mean(root, dotted)}")
            continue
        if _is_section(hints[key]):
            if value is None:
                value = {}
            if not isinstance(value, dict):
                problems.append(f"'{dotted}' must be a section (key: value lines), not {value!r}")
                continue
            tree[key] = _merge_defaults(root, hints[key], value, dotted + ".", problems)
        else:
            tree[key] = value
    return tree


def _apply(cls: type, tree: dict[str, Any], override: Override, problems: list[str]) -> None:
    key = override.key
    parts = key.split(".")
    node_cls, node = cls, tree
    for i, part in enumerate(parts):
        hints = _hints(node_cls)
        last = i == len(parts) - 1
        if part not in hints or (not last and not _is_section(hints[part])):
            problems.append(f"unknown key '{key}'{did_you_mean(cls, key)}")
            return
        if last:
            if override.reset:
                node.pop(part, None)
            elif _is_section(hints[part]):
                problems.append(f"'{key}' is a section: set one of its keys, e.g. {all_keys(hints[part], key + '.')[0]}=...")
            else:
                node[part] = override.value
            return
        node = node.setdefault(part, {})
        node_cls = hints[part]


def _build(cls: type, tree: dict[str, Any], prefix: str, problems: list[str]) -> Any:
    hints, kwargs = _hints(cls), {}
    for key, value in tree.items():
        if _is_section(hints[key]):
            kwargs[key] = _build(hints[key], value, f"{prefix}{key}.", problems)
            continue
        try:
            kwargs[key] = _coerce(value, hints[key], f"{prefix}{key}")
        except ConfigError as exc:
            problems.append(str(exc))
    return cls(**kwargs)


def _coerce(value: Any, ftype: Any, key: str) -> Any:
    """A YAML value as the field's type (YAML reads ``2e-5`` as a string, for one)."""
    args = typing.get_args(ftype)
    optional = isinstance(ftype, types.UnionType) or typing.get_origin(ftype) is typing.Union
    if optional:
        if value is None or (isinstance(value, str) and value.strip().lower() in {"null", "none", "~"}):
            return None
        ftype = next(a for a in args if a is not type(None))
        args = typing.get_args(ftype)
    if isinstance(ftype, type) and issubclass(ftype, enum.Enum):
        choices = [m.value for m in ftype]
        if str(value) in choices:
            return ftype(str(value))
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.4)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"'{key}': {value!r} is not one of {', '.join(choices)}{hint}")
    if typing.get_origin(ftype) is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
        if not isinstance(value, list):
            value = [value]
        return [_coerce(v, args[0], key) for v in value]
    try:
        if ftype is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"true", "yes", "on", "1"}:
                return True
            if text in {"false", "no", "off", "0"}:
                return False
        elif ftype is int and not isinstance(value, bool):
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, int | float) and math.isfinite(number) and float(number).is_integer():
                return int(number)
        elif ftype is float and not isinstance(value, bool):
            return float(value)
        elif ftype is str and not isinstance(value, dict | list):
            return str(value)
    except (TypeError, ValueError):
        pass
    expected = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(ftype, ftype)
    raise ConfigError(f"'{key}': {value!r} is not {expected}")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"trainer": {"lr": 0.1}}`` → ``{"trainer.lr": 0.1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        else:
            out[prefix + k] = v
    return out


def _format(value: Any) -> str:
    """A value written so that YAML reads it back as the same value."""
    import orjson
    import yaml

    if isinstance(value, str):
        try:
            if yaml.safe_load(value) == value and value.strip() == value and value:
                return value
        except yaml.YAMLError:
            pass
        return orjson.dumps(value).decode()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)  # any size: orjson stops at 64 bits
    flow = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, allow_unicode=True)
    return flow.strip().removesuffix("...").strip()
