"""Sweep files: W&B sweep YAML (``method``, ``metric``, ``parameters``, ``early_terminate`` ...) read and checked.

This module turns a file into a :class:`~lex_dpr.sweep.spec.SweepSpec` (the typed data lives in
:mod:`lex_dpr.sweep.spec`) and writes a sweep id back into it (:func:`set_sweep_id`).

The file is W&B's sweep format, so the same file runs offline on Optuna or online on W&B, plus a few keys
of lex-dpr's own: ``fixed`` (overrides for every trial), ``initial_runs``, ``time_window``, ``timezone``,
``sweep_id`` and ``storage``. Parameter keys are training keys (``trainer.lr``); keys of the predecessor
(LexDPR) are mapped by :mod:`lex_dpr.sweep.legacy`. :func:`parse_sweep` checks everything before a trial
runs, including that the extremes of every range are values training accepts, and reports every problem
in one :class:`~lex_dpr.errors.ConfigError`.

Example:
    >>> spec = parse_sweep({"method": "bayes", "metric": {"name": "ndcg_at_10"},
    ...                     "parameters": {"trainer.lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-3},
    ...                                    "lora.r": {"values": [8, 16]}},
    ...                     "fixed": {"trainer.epochs": 1}})
    >>> spec.metric, spec.direction(), spec.fixed
    ('eval/ndcg_at_10', 'maximize', ['trainer.epochs=1'])
    >>> [(p.key, p.distribution) for p in spec.parameters.values()]
    [('trainer.lr', 'log_uniform_values'), ('lora.r', 'categorical')]
    >>> parse_sweep({"method": "grid", "metric": {"name": "eval/ndcg_at_10"},
    ...              "parameters": {"trainer.lr": {"min": 0, "max": 0.1}}})
    Traceback (most recent call last):
    ...
    lex_dpr.errors.ConfigError: sweep: 2 problems: 'parameters.trainer.lr': min 0.0 is rejected by training: 'trainer.lr': 0.0 must be > 0; method grid cannot enumerate 'parameters.trainer.lr' (uniform): ...
"""

from __future__ import annotations

import difflib
import enum
import math
import re
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any

from lex_dpr.errors import ConfigError
from lex_dpr.evaluation.metric_name import DEFAULT as DEFAULT_METRIC
from lex_dpr.evaluation.metric_name import MetricName
from lex_dpr.sweep import legacy as _legacy
from lex_dpr.sweep import space as _space
from lex_dpr.sweep.legacy import LegacyMapping
from lex_dpr.sweep.spec import DISTRIBUTIONS, GOALS, METHODS, MIN_MAX, NORMAL_FAMILY, HyperbandSpec, ParamSpec, SweepSpec
from lex_dpr.training.config import TrainConfig, load_config
from lex_dpr.training.evaluator import not_logged
from lex_dpr.utils import config as _config
from lex_dpr.utils.config import Override, parse_override

MAX_VALUES = 1_000  # values of one categorical parameter
METRIC_EXAMPLES = "eval/ndcg_at_10, eval/recall_at_10, eval/mrr_at_10, eval/map_at_100, eval/loss or train/loss"
MAX_PROBLEMS_SHOWN = 20

# W&B distributions lex-dpr does not sample, with what to write instead
_UNSUPPORTED = {
    "inv_log_uniform": "inverse log-uniform is not supported: use log_uniform_values with min: 1/e^max, max: 1/e^min",
    "inv_log_uniform_values": "inverse log-uniform is not supported: use log_uniform_values on the same bounds",
    "q_log_uniform": "q_log_uniform (exponent bounds) is not supported: use q_log_uniform_values with min: e^min, max: e^max",
    "beta": "beta is not supported: use uniform, or normal with mu and sigma",
    "q_beta": "q_beta is not supported: use q_uniform",
    "categorical_w_probabilities": "weighted categoricals are not supported: use values without probabilities",
}
_SPEC_KEYS = ("distribution", "value", "values", "min", "max", "mu", "sigma", "q")
_TAKES = {"constant": ("value",), "categorical": ("values",), **{d: ("min", "max") for d in MIN_MAX},
          **{d: ("mu", "sigma") for d in NORMAL_FAMILY}}
_USED_KEYS = ("method", "metric", "parameters", "early_terminate", "run_cap", "fixed", "initial_runs", "time_window",
              "timezone", "sweep_id", "storage", "project", "entity", "wandb_sweep")
_IGNORED_OFFLINE = {"program": "trials run lex-dpr's own training", "command": "trials run `lex-dpr train`",
                    "name": "the sweep is named by its sweep_id", "description": "kept for W&B",
                    "project": "used by the online W&B engine", "entity": "used by the online W&B engine"}
TOP_KEYS = (*_USED_KEYS, "program", "command", "name", "description", *_legacy.TOP_LEVEL)
_METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
_ALWAYS = "always"  # _window_problem's answer for 0-24 (LexDPR's agent and lex-dpr's: every hour)
_WINDOW = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?$")
TRAINING_KEYS = tuple(_config.all_keys(TrainConfig))


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (:func:`parse_sweep`); ``source`` is set to ``path``."""
    path = Path(path)
    raw = _config.read_yaml(path)
    spec = parse_sweep(raw, str(path))
    spec.source = path
    return spec


def parse_sweep(raw: dict[str, Any], where: str = "sweep") -> SweepSpec:
    """Check a parsed sweep file and build its :class:`SweepSpec`.

    Raises:
        ConfigError: every problem in the file, each naming its key and what is allowed.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a sweep file is a mapping (method: ..., metric: ..., parameters: ...), "
                          f"not {type(raw).__name__}")
    parser = _Parser(raw)
    spec = parser.parse()
    problems = list(dict.fromkeys(parser.problems))
    if problems:
        count = f"{len(problems)} problems" if len(problems) > 1 else "1 problem"
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise ConfigError(f"{where}: {count}: " + "; ".join(problems[:MAX_PROBLEMS_SHOWN])
                          + (f"; and {more} more" if more > 0 else ""))
    return spec


def set_sweep_id(path: str | Path, sweep_id: str, key: str = "sweep_id") -> None:
    """Write ``sweep_id: X`` (or ``key: X``) into a sweep file, atomically, keeping every other line and comment as it was.

    An existing top-level ``sweep_id`` line is replaced (its comment kept); otherwise a line is appended.

    Example:
        >>> p = Path("sweep.yaml")
        >>> _ = p.write_text("method: random  # fast\\nsweep_id: old  # set by sweep create\\n")
        >>> set_sweep_id(p, "lr-0001")
        >>> print(p.read_text(), end="")
        method: random  # fast
        sweep_id: lr-0001  # set by sweep create
    """
    from lex_dpr.utils.io import atomic_open

    path = Path(path)
    if not isinstance(sweep_id, str) or not sweep_id.strip() or any(c in sweep_id for c in "\r\n"):
        raise ConfigError(f"sweep id {sweep_id!r} must be one line of text")
    if not path.is_file():
        raise ConfigError(f"{path}: sweep file not found")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    line = f"{key}: {_space.format_value(sweep_id)}"
    pattern = re.compile(rf"^{re.escape(key)}[ \t]*:[^#\r\n]*?(?P<comment>[ \t]+#[^\r\n]*)?(?=\r?\n|\Z)", re.M)
    new, count = pattern.subn(lambda m: line + (m["comment"] or ""), text)
    if not count:
        eol = "\r\n" if "\r\n" in text else "\n"
        new = text + ("" if not text or text.endswith("\n") else eol) + line + eol
    parsed = _config.parse_yaml(new, str(path))
    if not isinstance(parsed, dict) or parsed.get(key) != sweep_id:
        raise ConfigError(f"{path}: cannot write sweep_id into this file's layout: add the line '{line}' yourself")
    with atomic_open(path) as fh:
        fh.write(new.encode("utf-8"))


# --- internals -------------------------------------------------------------------------------------------


def _override(item: Any) -> Override | None:
    """A ``fixed`` list item read as ``lex-dpr train`` reads it; None when it is not an override."""
    try:
        return parse_override(item)
    except ConfigError:
        return None


def _closest(word: Any, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _number(x: Any) -> int | float | None:
    """An int or finite float from YAML (``1e-5`` is text to YAML 1.1); ``None`` when not a number."""
    if isinstance(x, bool):
        return None
    if isinstance(x, str):
        text = x.strip()
        try:
            x = int(text)
        except ValueError:
            try:
                x = float(text)
            except ValueError:
                return None
    if isinstance(x, int):
        return x
    if isinstance(x, float) and math.isfinite(x):
        return x
    return None


def _field_kind(key: str) -> str:
    """``int``, ``float``, ``bool``, ``str``, ``choice`` (an enum) or ``list`` for a training key."""
    cls: Any = TrainConfig
    for part in key.split("."):
        cls = typing.get_type_hints(cls)[part]
    args = [a for a in typing.get_args(cls) if a is not type(None)]
    if args and typing.get_origin(cls) is not list:
        cls = args[0]
    if typing.get_origin(cls) is list:
        return "list"
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return "choice"
    return {int: "int", float: "float", bool: "bool", str: "str"}.get(cls, "other")


@lru_cache(maxsize=4096)
def _training_problems(overrides: tuple[str, ...]) -> tuple[str, ...]:
    try:
        load_config(None, list(overrides))
    except ConfigError as exc:
        rest = str(exc).split(": ", 2)  # "overrides: 2 problems: a; b"
        return tuple(rest[2].split("; ")) if len(rest) == 3 else (str(exc),)
    return ()


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _window_problem(text: str) -> str | None:
    m = _WINDOW.match(text.strip())
    if not m:
        return "is not START-END hours, e.g. 17-7 or 17:30-07:00"
    h1, m1, h2, m2 = int(m[1]), int(m[2] or 0), int(m[3]), int(m[4] or 0)
    for h, mi in ((h1, m1), (h2, m2)):
        if not (0 <= h <= 23 and 0 <= mi <= 59) and (h, mi) != (24, 0):
            return "has an hour outside 0-24 or minutes outside 00-59 (e.g. 17-7 or 17:30-07:00)"
    if (h1, m1, h2, m2) == (0, 0, 24, 0):
        return _ALWAYS
    if (h1 * 60 + m1) % 1440 == (h2 * 60 + m2) % 1440:
        return "starts and ends at the same time: write 0-24 to run at any hour, or remove time_window"
    return None


class _Parser:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.legacy: dict[str, LegacyMapping] = {}
        self.baseline: dict[str, Any] = {}
        self.base: list[str] = []
        self.origin: dict[str, str] = {}  # parameter key → the key the file used
        self.ctx: dict[str, Any] = {}  # the file's predecessor keys and values, for rules that read each other
        self.predecessor = False  # written for LexDPR: its meaning of shared keys (data.multiply) applies

    def parse(self) -> SweepSpec:
        raw = self.raw
        for key in raw:
            if key not in TOP_KEYS:
                self.problems.append(f"unknown key '{key}'" + (_closest(key, TOP_KEYS) or " (a sweep file takes "
                                     f"{', '.join(TOP_KEYS[:-2])})"))
        self._predecessor_context()
        for key in ("name", "description"):
            if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
                self.problems.append(f"'{key}': {raw[key]!r} must be text (quote it: {key}: \"{raw[key]}\")")
        method = self._method(raw.get("method"))
        fixed, fixed_keys = self._fixed(raw.get("fixed"))
        for key in _legacy.TOP_LEVEL:
            if key in raw:
                self._merge(fixed_keys, self._fixed_item(key, raw[key], None, f"'{key}'", fixed))
        self._check_fixed(fixed)
        parameters = self._parameters(raw.get("parameters"))
        for key in parameters:
            if key in fixed_keys:
                via = [f" ({k})" if k != key else "" for k in (fixed_keys[key], self.origin[key])]
                self.problems.append(f"'{key}' is set in both fixed{via[0]} and parameters{via[1]}: keep one")
        metric, goal, target = self._metric(raw.get("metric"), parameters)
        self._check_stopping_metric(metric, fixed, parameters)
        spec = SweepSpec(method=method, metric=metric, goal=goal, target=target, parameters=parameters, fixed=fixed,
                         early_terminate=self._hyperband(raw.get("early_terminate")),
                         run_cap=self._int("run_cap", 1), initial_runs=self._int("initial_runs", 0),
                         time_window=self._time_window(), timezone=self._timezone(),
                         sweep_id=self._text("sweep_id"), wandb_sweep=self._text("wandb_sweep"), storage=self._text("storage"),
                         project=self._text("project"), entity=self._text("entity"), raw=raw)
        if method == "grid":
            self.problems += _space.grid_problems(parameters)
        for key, why in _IGNORED_OFFLINE.items():
            if key in raw:
                self.notes.append(f"ignored offline: {key} ({why})")
        spec.notes = list(dict.fromkeys(self.notes))
        spec.legacy = list(self.legacy.values())
        return spec

    def _predecessor_context(self) -> None:
        raw, fixed = self.raw, self.raw.get("fixed")
        items: dict[str, Any] = {}
        if isinstance(fixed, dict):
            items = _config.flatten(fixed)
        elif isinstance(fixed, list):
            for item in fixed:
                read = _override(item)
                if read is not None and not read.reset:  # _fixed reports the rest
                    items[read.key] = read.value
        flat: list[tuple[str, Any]] = []
        if isinstance(raw.get("parameters"), dict):
            self._flatten(raw["parameters"], "", flat)
        self.ctx = _legacy.context(raw, items, flat)
        self.predecessor = _legacy.is_predecessor(raw, self.ctx, TRAINING_KEYS)

    def _reinterpreted(self, key: str) -> bool:
        """A key lex-dpr shares with LexDPR under another meaning, in a LexDPR file: read the LexDPR way."""
        return self.predecessor and key in _legacy.REINTERPRETED

    def _check_stopping_metric(self, metric: str, fixed: list[str], parameters: dict[str, ParamSpec]) -> None:
        chosen = [item.split("=", 1)[1] for item in fixed if item.startswith("eval.metric=")]
        by = MetricName.parse(metric).eval_metric  # None: a loss, and trials keep the fixed eval.metric
        if chosen and by is not None and chosen[-1] != by:
            self.notes.append(f"eval.metric={chosen[-1]} in fixed: trials pick their best checkpoint and stop early "
                              f"by the sweep's metric {metric} instead")

    # --- top-level scalars

    def _method(self, method: Any) -> str:
        if method is None:
            self.problems.append("'method' is missing: use grid, random or bayes")
        elif method not in METHODS:
            self.problems.append(f"'method': {method!r} is not one of grid, random, bayes{_closest(method, METHODS)}")
        return method if method in METHODS else "random"

    def _int(self, key: str, least: int) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.problems.append(f"'{key}': {value!r} must be a whole number >= {least}")
            return None
        return value

    def _text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and key == "sweep_id":
            return str(value)
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"'{key}': {value!r} must be non-empty text")
            return None
        return value.strip()

    def _time_window(self) -> str | None:
        value = self.raw.get("time_window")
        if value is None:
            return None
        problem = _window_problem(value) if isinstance(value, str) else "is not START-END hours, e.g. 17-7"
        if problem == _ALWAYS:
            self.notes.append(f"time_window {value!r} is every hour: trials run at any time")
            return None
        if problem:
            self.problems.append(f"'time_window': {value!r} {problem}")
            return None
        return value.strip()

    def _timezone(self) -> str | None:
        value = self.raw.get("timezone")
        if value is None:
            return None
        from zoneinfo import ZoneInfo, available_timezones

        try:
            if not isinstance(value, str) or not value.strip():
                raise ValueError
            ZoneInfo(value.strip())
        except (KeyError, ValueError, OSError):
            self.problems.append(f"'timezone': {value!r} is not an IANA time zone (e.g. Asia/Seoul, UTC)"
                                 f"{_closest(value, sorted(available_timezones()))}")
            return None
        return value.strip()

    # --- metric and early termination

    def _metric(self, metric: Any, parameters: dict[str, ParamSpec]) -> tuple[str, str, float | None]:
        trained_by = MetricName.parse(self.baseline.get("eval.metric", DEFAULT_METRIC.canonical))
        default = trained_by.key
        if metric is None:
            self.notes.append(f"metric not set: {default}, {trained_by.goal} (the training's eval.metric)")
            return default, trained_by.goal, None
        if not isinstance(metric, dict):
            self.problems.append(f"'metric' must be a mapping, e.g. {{name: eval/ndcg_at_10, goal: maximize}}, "
                                 f"not {metric!r}")
            return default, trained_by.goal, None
        for key in metric:
            if key not in _METRIC_KEYS:
                self.problems.append(f"unknown key 'metric.{key}'" + (_closest(key, _METRIC_KEYS)
                                                                        or " (metric takes name, goal, target)"))
        for key in ("impute", "impute_while_running"):
            if key in metric:
                self.notes.append(f"ignored offline: metric.{key} (failed trials are not scored)")
        name = self._metric_name(metric.get("name"))
        if metric.get("name") is None:
            self.problems.append(f"'metric.name' is missing: use {METRIC_EXAMPLES}")
            name = default
        elif name is None:
            self.problems.append(f"'metric.name': {metric.get('name')!r} is not a metric training logs: use "
                                 f"{METRIC_EXAMPLES} (ndcg, recall, precision, hit at any k)")
            name = default
        else:
            self._check_logged(name, parameters)
        goal = metric.get("goal")
        if goal is None:
            goal = MetricName.parse(name).goal
            if goal == "maximize":
                self.notes.append(f"metric.goal not set: maximize {name} (W&B alone would minimize: set goal to be "
                                  "explicit)")
        elif goal not in GOALS:
            self.problems.append(f"'metric.goal': {goal!r} is not maximize or minimize{_closest(goal, GOALS)}")
            goal = "maximize"
        target = metric.get("target")
        if target is not None and _number(target) is None:
            self.problems.append(f"'metric.target': {target!r} must be a number")
            target = None
        return name, goal, None if target is None else float(_number(target))

    @staticmethod
    def _metric_name(name: Any) -> str | None:
        """The metrics.jsonl key of a sweep's ``metric.name`` in any spelling, or None when it is none."""
        if not isinstance(name, str):
            return None
        try:
            return MetricName.parse(name).key
        except ConfigError:
            return None

    def _check_logged(self, name: str, parameters: dict[str, ParamSpec]) -> None:
        if "eval.k_values" in parameters:
            return
        problem = not_logged(MetricName.parse(name), self.baseline.get("eval.k_values", [1, 3, 5, 10, 20, 100]))
        if problem:
            self.problems.append(f"'metric.name': {problem}")

    def _hyperband(self, et: Any) -> HyperbandSpec | None:
        if et is None:
            return None
        if not isinstance(et, dict):
            self.problems.append(f"'early_terminate' must be a mapping, e.g. {{type: hyperband, min_iter: 3}}, not {et!r}")
            return None
        for key in et:
            if key not in _HYPERBAND_KEYS:
                self.problems.append(f"unknown key 'early_terminate.{key}'" + (_closest(key, _HYPERBAND_KEYS) or
                                     " (hyperband takes type, min_iter, max_iter, s, eta)"))
        if et.get("type") != "hyperband":
            self.problems.append(f"'early_terminate.type': {et.get('type')!r} must be hyperband (the only one W&B has)")
        values: dict[str, Any] = {}
        for key, least in (("min_iter", 1), ("max_iter", 1), ("s", 1)):
            v = et.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < least):
                self.problems.append(f"'early_terminate.{key}': {v!r} must be a whole number >= {least}")
                v = None
            values[key] = v
        eta = et.get("eta", 3)
        if _number(eta) is None or _number(eta) <= 1:
            self.problems.append(f"'early_terminate.eta': {eta!r} must be a number > 1 (default 3)")
            eta = 3
        eta = _number(eta)
        if isinstance(eta, float) and eta.is_integer():
            eta = int(eta)
        if "strict" in et:
            self.notes.append("ignored: early_terminate.strict (W&B's hyperband rule has no strict mode: its "
                              "controller deletes the key)")
        min_iter, max_iter, s = values["min_iter"], values["max_iter"], values["s"]
        if min_iter is not None and max_iter is not None and s is not None:
            self.notes.append(f"early_terminate: min_iter {min_iter} is not used with max_iter and s (W&B's rule "
                              f"cuts at max_iter/eta^i: {HyperbandSpec(max_iter=max_iter, eta=eta, s=s).bands()})")
            min_iter = None
        if max_iter is not None and s is None and "s" not in et:
            self.problems.append("'early_terminate.s' is required with max_iter (the number of bands counted back "
                                 "from max_iter, e.g. s: 2), or give min_iter instead")
        elif min_iter is None and max_iter is None and "min_iter" not in et and "max_iter" not in et:
            self.problems.append("'early_terminate' needs min_iter (the first evaluation that can stop a trial), "
                                 "or max_iter with s")
        elif max_iter is not None and s is not None and max_iter / eta < 1:
            self.problems.append(f"'early_terminate': max_iter {max_iter} / eta {eta} < 1 leaves no band: raise "
                                 "max_iter or lower eta")
        if min_iter is not None and s is not None:
            self.notes.append("early_terminate.s is ignored with min_iter (W&B's rule)")
            s = None
        return HyperbandSpec(min_iter=min_iter, max_iter=max_iter, eta=eta, s=s)

    # --- fixed overrides

    def _fixed(self, fixed: Any) -> tuple[list[str], dict[str, str]]:
        out: list[str] = []
        keys: dict[str, str] = {}
        if fixed is None:
            return out, keys
        if isinstance(fixed, dict):
            for key, value in _config.flatten(fixed).items():
                self._merge(keys, self._fixed_item(str(key), value, None, f"'fixed.{key}'", out))
        elif isinstance(fixed, list):
            for item in fixed:
                read = _override(item)
                if read is None:
                    self.problems.append(f"'fixed': {item!r} is not key=value or ~key (e.g. trainer.epochs=1)")
                    continue
                key, text, value = read
                if read.reset:
                    if key not in TRAINING_KEYS and not any(k.startswith(key + ".") for k in TRAINING_KEYS):
                        self.problems.append(f"'fixed': unknown training key '{key}'{_config.did_you_mean(TrainConfig, key)}")
                    else:
                        out.append(f"~{key}")
                        self._merge(keys, {key: key})
                    continue
                self._merge(keys, self._fixed_item(key, value, text, f"'fixed': {key}", out))
        else:
            self.problems.append(f"'fixed' must be a mapping (key: value) or a list of key=value, not {fixed!r}")
        return out, keys

    def _fixed_item(self, key: str, value: Any, text: str | None, where: str, out: list[str]) -> dict[str, str]:
        """Append the override for one fixed entry (mapping a predecessor key); returns {key it sets: key written}."""
        if key in TRAINING_KEYS and not self._reinterpreted(key):
            out.append(f"{key}={text if text is not None else _space.format_value(value)}")
            return {key: key}
        mapping = _legacy.lookup(key)
        if mapping is None:
            self.problems.append(f"{where}: unknown training key '{key}'{self._did_you_mean(key)}")
            return {}
        self.legacy.setdefault(key, mapping)
        try:
            pair = _legacy.map_value(key, value, self.ctx)
        except ValueError as exc:
            self.problems.append(str(exc))
            return {}
        if pair is None or isinstance(pair, _legacy.Skip):
            self._noop(key, value, pair)
            return {}
        new, new_value = pair
        if _legacy.converts_values(key):
            self.notes.append(f"{key}: {_space.format_value(value)} → {new}={_space.format_value(new_value)}")
        out.append(f"{new}={_space.format_value(new_value)}")
        return {new: key}

    def _merge(self, keys: dict[str, str], more: dict[str, str]) -> None:
        for key, via in more.items():
            if key in keys:
                both = " and ".join(dict.fromkeys([keys[key], via]))
                self.problems.append(f"'{key}' is set twice in fixed (by {both}): keep one")
            keys[key] = via

    def _noop(self, key: str, value: Any, skip: _legacy.Skip | None = None) -> None:
        if skip is not None:
            self.notes.append(f"{key}: {_space.format_value(value)} changes nothing ({skip.why})")
            return
        mapping = self.legacy[key]
        why = f" (not applicable: {mapping.reason.split(':')[0]})" if mapping.new is None else ""
        self.notes.append(f"{key}: {_space.format_value(value)} changes nothing{why}")

    def _check_fixed(self, fixed: list[str]) -> None:
        problems = _training_problems(tuple(fixed))
        self.problems += [f"fixed: {p}" for p in problems]
        self.base = [] if problems else fixed
        self.baseline = _config.flatten(_config.to_dict(load_config(None, self.base)))

    def _did_you_mean(self, key: str) -> str:
        hint = _config.did_you_mean(TrainConfig, key)
        return hint or _closest(key, _legacy.LEGACY_KEYS)

    # --- parameters

    def _parameters(self, params: Any) -> dict[str, ParamSpec]:
        if params is None or params == {}:
            self.problems.append("'parameters' is missing or empty: give at least one, e.g. trainer.lr: "
                                 "{distribution: log_uniform_values, min: 1e-5, max: 1e-3}")
            return {}
        if not isinstance(params, dict):
            self.problems.append(f"'parameters' must be a mapping of training keys to specs, not {params!r}")
            return {}
        flat: list[tuple[str, Any]] = []
        self._flatten(params, "", flat)
        out: dict[str, ParamSpec] = {}
        origin = self.origin
        for key, raw in flat:
            where = f"'parameters.{key}'"
            if not isinstance(raw, dict):
                self.problems.append(f"{where} must be a spec such as {{value: ...}}, {{values: [...]}} or "
                                     f"{{min: ..., max: ...}}, not {raw!r} (constants can also go in fixed)")
                continue
            new: str | None = key
            if key not in TRAINING_KEYS or self._reinterpreted(key):
                mapping = _legacy.lookup(key)
                if mapping is None:
                    self.problems.append(f"{where}: unknown training key{self._did_you_mean(key)}")
                    self._spec(key, raw, where, None)  # still report the spec's own problems
                    continue
                self.legacy.setdefault(key, mapping)
                raw, new = self._map_legacy_spec(key, raw, where)
                if raw is None or new is None:
                    continue
            spec = self._spec(new, raw, where, _field_kind(new))
            if spec is None:
                continue
            if new in out:
                self.problems.append(f"{where} and 'parameters.{origin[new]}' both set '{new}': keep one")
                continue
            out[new], origin[new] = spec, key
            self._check_training(spec, where)
        return out

    def _flatten(self, params: dict[str, Any], prefix: str, out: list[tuple[str, Any]]) -> None:
        """W&B's nested form ``trainer: {parameters: {lr: {...}}}`` → ``trainer.lr``."""
        for key, raw in params.items():
            if isinstance(raw, dict) and set(raw) == {"parameters"} and isinstance(raw["parameters"], dict):
                self._flatten(raw["parameters"], f"{prefix}{key}.", out)
            else:
                out.append((f"{prefix}{key}", raw))

    def _map_legacy_spec(self, key: str, raw: dict[str, Any], where: str) -> tuple[dict[str, Any] | None, str | None]:
        """A predecessor parameter as a spec of its lex-dpr key (``None``: dropped, with a note or a problem)."""
        mapping = self.legacy[key]
        if not _legacy.converts_values(key):
            return raw, mapping.new
        if set(raw) - {"value", "values", "distribution"} or raw.get("distribution") not in (None, "constant",
                                                                                             "categorical"):
            self.problems.append(f"{where}: this predecessor key takes value or values, not a distribution "
                                 f"({mapping.reason})")
            return None, None
        try:
            if "value" in raw:
                pair = _legacy.map_value(key, raw["value"], self.ctx)
                if pair is None or isinstance(pair, _legacy.Skip):
                    self._noop(key, raw["value"], pair)
                    return None, None
                self.notes.append(f"{key}: {_space.format_value(raw['value'])} → {pair[0]}="
                                  f"{_space.format_value(pair[1])}")
                return {"value": pair[1]}, pair[0]
            values = raw.get("values")
            if not isinstance(values, list) or not values:
                self.problems.append(f"{where}: values must be a non-empty list, e.g. [true, false]")
                return None, None
            pairs = [_legacy.map_value(key, v, self.ctx) for v in values]
        except ValueError as exc:
            self.problems.append(str(exc))
            return None, None
        skips = [p for p in pairs if isinstance(p, _legacy.Skip)]
        if mapping.new is None or len(skips) == len(pairs):
            self._noop(key, values, skips[0] if skips else None)
            return None, None
        mapped = []
        for v, pair in zip(values, pairs, strict=True):
            new_value = self.baseline.get(mapping.new) if pair is None or isinstance(pair, _legacy.Skip) else pair[1]
            self.notes.append(f"{key}: {_space.format_value(v)} → {mapping.new}={_space.format_value(new_value)}")
            mapped.append(new_value)
        return {"values": mapped}, mapping.new

    def _spec(self, key: str, raw: dict[str, Any], where: str, kind: str | None) -> ParamSpec | None:
        """One parameter spec, checked for shape and ranges (``kind``: the training field's kind, if known)."""
        n = len(self.problems)
        for k in raw:
            if k == "probabilities":
                self.problems.append(f"{where}: {_UNSUPPORTED['categorical_w_probabilities']}")
            elif k in ("a", "b"):
                self.problems.append(f"{where}: '{k}' belongs to beta: {_UNSUPPORTED['beta']}")
            elif k not in _SPEC_KEYS:
                self.problems.append(f"{where}: unknown key '{k}'" + (_closest(k, _SPEC_KEYS) or
                                     f" (a spec takes {', '.join(_SPEC_KEYS)})"))
        dist = raw.get("distribution")
        if dist is None:
            if "value" in raw and "values" in raw:
                self.problems.append(f"{where}: give value (a constant) or values (a list), not both")
                return None
            if "value" in raw:
                dist = "constant"
            elif "values" in raw:
                dist = "categorical"
            elif "min" in raw and "max" in raw:
                lo, hi = _number(raw["min"]), _number(raw["max"])
                dist = "int_uniform" if isinstance(lo, int) and isinstance(hi, int) else "uniform"
            elif "mu" in raw or "sigma" in raw:
                self.problems.append(f"{where}: mu and sigma need a distribution: normal, q_normal, log_normal "
                                     "or q_log_normal")
                return None
            else:
                self.problems.append(f"{where}: needs value, values, or min and max (with a distribution)")
                return None
        elif not isinstance(dist, str):
            self.problems.append(f"{where}: distribution {dist!r} must be one of {', '.join(DISTRIBUTIONS)}")
            return None
        elif dist in _UNSUPPORTED:
            self.problems.append(f"{where}: {_UNSUPPORTED[dist]}")
            return None
        elif dist not in DISTRIBUTIONS:
            self.problems.append(f"{where}: distribution {dist!r} is not one of {', '.join(DISTRIBUTIONS)}"
                                 f"{_closest(dist, DISTRIBUTIONS)}")
            return None
        takes = _TAKES[dist] + (("q",) if dist.startswith("q_") else ())
        for k in raw:
            if k in _SPEC_KEYS and k != "distribution" and k not in takes:
                self.problems.append(f"{where}: '{k}' does not apply to {dist} (it takes {', '.join(takes)})")
        if dist in ("constant", "categorical"):
            spec = self._discrete(key, raw, dist, where, kind)
        else:
            spec = self._continuous(key, raw, dist, where, kind)
        return spec if len(self.problems) == n else None

    def _discrete(self, key: str, raw: dict[str, Any], dist: str, where: str, kind: str | None) -> ParamSpec | None:
        numeric = kind in ("int", "float")
        if dist == "constant":
            if "value" not in raw:
                self.problems.append(f"{where}: constant needs value")
                return None
            value = raw["value"]
            return ParamSpec(key, dist, value=_number(value) if numeric and _number(value) is not None else value)
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            self.problems.append(f"{where}: values must be a non-empty list, e.g. [8, 16, 32]")
            return None
        if len(values) > MAX_VALUES:
            self.problems.append(f"{where}: {len(values):,} values (at most {MAX_VALUES:,}): use a distribution "
                                 "with min and max instead")
            return None
        values = [_number(v) if numeric and isinstance(v, str) and _number(v) is not None else v for v in values]
        kinds = sorted({k for k in map(_kind, values) if k is not None})
        if len(kinds) > 1:
            self.problems.append(f"{where}: values mix {' and '.join(kinds)}: give values of one kind")
            return None
        seen: list[tuple[str | None, Any]] = []
        duplicates = []
        for v in values:
            ident = (_kind(v), float(v) if _kind(v) == "number" else _space.format_value(v))
            if ident in seen:
                duplicates.append(_space.format_value(v))
            seen.append(ident)
        if duplicates:
            self.problems.append(f"{where}: values repeat {', '.join(duplicates)}: give each once")
            return None
        return ParamSpec(key, dist, values=values)

    def _continuous(self, key: str, raw: dict[str, Any], dist: str, where: str, kind: str | None) -> ParamSpec | None:
        n = len(self.problems)
        nums: dict[str, Any] = {}
        defaults = {"mu": 0, "sigma": 1, "q": 1}  # W&B's defaults
        for k in _TAKES[dist] + (("q",) if dist.startswith("q_") else ()):
            if k not in raw and k not in defaults:
                self.problems.append(f"{where}: {dist} needs {k}")
                continue
            v = _number(raw.get(k, defaults.get(k)))
            if v is None:
                self.problems.append(f"{where}: {k} {raw.get(k)!r} must be a finite number")
            nums[k] = v
        if len(self.problems) > n:
            return None
        lo, hi, q, sigma = nums.get("min"), nums.get("max"), nums.get("q"), nums.get("sigma")
        if lo is not None and lo >= hi:
            self.problems.append(f"{where}: min {lo!r} must be < max {hi!r}")
        if dist == "int_uniform":
            if not (float(lo).is_integer() and float(hi).is_integer()):
                self.problems.append(f"{where}: int_uniform needs whole-number min and max (got {lo!r}, {hi!r}); "
                                     "use uniform for real numbers")
            lo, hi = int(lo), int(hi)
        if dist in ("log_uniform_values", "q_log_uniform_values") and lo <= 0:
            self.problems.append(f"{where}: {dist} needs min > 0 (got {lo!r}): log_uniform takes exponents instead")
        if dist == "log_uniform" and (lo < -700 or hi > 700):
            self.problems.append(f"{where}: log_uniform bounds are natural-log exponents (e^min..e^max) and must lie "
                                 f"in [-700, 700] (got {lo!r}, {hi!r}): use log_uniform_values for the values")
        if sigma is not None and sigma <= 0:
            self.problems.append(f"{where}: sigma {sigma!r} must be > 0")
        if q is not None and q <= 0:
            self.problems.append(f"{where}: q {q!r} must be > 0")
        if len(self.problems) > n:
            return None
        spec = ParamSpec(key, dist, min=lo, max=hi, mu=nums.get("mu"), sigma=sigma, q=q)
        if dist in ("q_uniform", "q_log_uniform_values"):
            kmin, kmax = _space.q_steps(spec)
            if kmin > kmax:
                self.problems.append(f"{where}: no multiple of q={q!r} lies between min {lo!r} and max {hi!r}")
                return None
        if kind is not None and kind not in ("int", "float"):
            words = {"str": "text", "bool": "true/false", "choice": "a choice", "list": "a list"}.get(kind, kind)
            self.problems.append(f"{where}: '{key}' is {words}, not a number: use value or values")
        elif kind == "int" and not _space.produces_ints(spec):
            self.problems.append(f"{where}: '{key}' takes whole numbers but {dist} draws real ones: use int_uniform, "
                                 "values, or a q_ distribution with a whole-number q (e.g. q: 1)")
        return spec if len(self.problems) == n else None

    def _check_training(self, spec: ParamSpec, where: str) -> None:
        """The extreme values of a range (every value of a categorical) must be values training accepts."""
        try:
            extremes = _space.reachable(spec)
        except (OverflowError, ValueError):
            self.problems.append(f"{where}: {spec.distribution} reaches values too large for a float: lower mu or sigma")
            return
        for label, value in extremes:
            if isinstance(value, float) and not math.isfinite(value):
                self.problems.append(f"{where}: {label} is {value!r}: lower mu or sigma")
                continue
            text = _space.format_value(value)
            for problem in _training_problems((*self.base, f"{spec.key}={text}")):
                self.problems.append(f"{where}: {label} {text} is rejected by training: {problem}")
