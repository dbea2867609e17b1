"""The search space: a sweep's parameters as Optuna suggestions, and back to training overrides.

Each :class:`~lex_dpr.sweep.spec.ParamSpec` becomes one Optuna parameter named after its training key
(``trainer.lr``), except the normal family, which Optuna cannot bound: those suggest a uniform
``"{key}#u"`` in [1e-6, 1 - 1e-6] and map it through the normal quantile function, so every sampler
(random, TPE, GP) works on a bounded parameter. W&B's quantised distributions return ``round(x / q) * q``
(an ``int`` when ``q`` is one); for ``q_uniform`` and ``q_log_uniform_values`` the value is also kept
within [min, max], i.e. it is a multiple of ``q`` inside the range. :func:`decode` is the one place that
turns Optuna's stored value into the value used, so :func:`suggest` and :func:`resolved_values` agree.

Example:
    >>> from lex_dpr.sweep.spec import ParamSpec
    >>> params = {"trainer.lr": ParamSpec("trainer.lr", "log_uniform_values", min=1e-5, max=1e-3),
    ...           "lora.target_modules": ParamSpec("lora.target_modules", "categorical",
    ...                                            values=[["q_proj", "v_proj"], ["query", "value"]]),
    ...           "trainer.epochs": ParamSpec("trainer.epochs", "constant", value=1)}
    >>> grid_space({"lora.r": ParamSpec("lora.r", "q_uniform", min=4, max=17, q=4)})
    {'lora.r': [4, 8, 12, 16]}
    >>> to_overrides(resolved_values({"trainer.lr": 2e-5, "lora.target_modules": "[query, value]"}, params))
    ['trainer.lr=2e-05', 'lora.target_modules=[query, value]', 'trainer.epochs=1']
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.spec import GRID_DISTRIBUTIONS, NORMAL_FAMILY
from lex_dpr.utils import config as _config

if TYPE_CHECKING:
    from lex_dpr.sweep.spec import ParamSpec

U_LOW, U_HIGH = 1e-6, 1 - 1e-6  # the quantiles a normal-family parameter can reach
GRID_LIMIT = 100_000  # grid combinations; GridSampler lists them all in memory


def format_value(value: Any) -> str:
    """A value as override text that ``load_config`` reads back as the same value; lists in flow style.

    Example:
        >>> format_value(["q_proj", "v_proj"]), format_value(2e-05), format_value(None), format_value("12")
        ('[q_proj, v_proj]', '2e-05', 'null', '"12"')
    """
    import yaml

    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # any size (orjson stops at 64 bits)
    if isinstance(value, list) and value:
        text = "[" + ", ".join(format_value(v) for v in value) + "]"
        if _reads_back(text, value):
            return text
    text = _config._format(value)
    if isinstance(value, str) and not _reads_back(text, value):  # control characters: YAML's escapes
        text = yaml.safe_dump(value, default_style='"', width=1 << 30, allow_unicode=True).removesuffix("\n...\n")
        text = text.rstrip("\n")
    return text


def _reads_back(text: str, value: Any) -> bool:
    import yaml

    try:
        return yaml.safe_load(text) == value
    except yaml.YAMLError:
        return False


def param_name(spec: ParamSpec) -> str | None:
    """The name Optuna stores the parameter under (``None`` for a constant, which is not suggested)."""
    if spec.distribution == "constant":
        return None
    return f"{spec.key}#u" if spec.distribution in NORMAL_FAMILY else spec.key


def produces_ints(spec: ParamSpec) -> bool:
    """True when every value drawn is an ``int``: int_uniform, or a ``q_*`` distribution with an integer ``q``."""
    if spec.distribution == "int_uniform":
        return True
    return spec.distribution.startswith("q_") and _is_int(spec.q)


def q_steps(spec: ParamSpec) -> tuple[int, int]:
    """``(kmin, kmax)``: the multiples ``k * q`` that lie in [min, max] (empty when kmin > kmax)."""
    q = _dec(spec.q)
    kmin = (_dec(spec.min) / q).to_integral_value(rounding=ROUND_CEILING)
    kmax = (_dec(spec.max) / q).to_integral_value(rounding=ROUND_FLOOR)
    return int(kmin), int(kmax)


def suggestion(spec: ParamSpec) -> tuple[str, str, dict[str, Any]]:
    """``(name, kind, kwargs)`` for ``trial.suggest_<kind>(name, **kwargs)``; not for a constant."""
    d, key = spec.distribution, spec.key
    if d == "categorical":
        return key, "categorical", {"choices": choices(spec)}
    if d == "int_uniform":
        return key, "int", {"low": int(spec.min), "high": int(spec.max)}
    if d == "uniform":
        return key, "float", {"low": float(spec.min), "high": float(spec.max)}
    if d == "q_uniform":
        kmin, kmax = q_steps(spec)
        if produces_ints(spec):
            return key, "int", {"low": kmin * spec.q, "high": kmax * spec.q, "step": spec.q}
        return key, "float", {"low": _multiple(spec, kmin), "high": _multiple(spec, kmax), "step": float(spec.q)}
    if d == "log_uniform_values":
        return key, "float", {"low": float(spec.min), "high": float(spec.max), "log": True}
    if d == "q_log_uniform_values":
        if produces_ints(spec) and _is_int(spec.min) and _is_int(spec.max):
            return key, "int", {"low": spec.min, "high": spec.max, "log": True}
        return key, "float", {"low": float(spec.min), "high": float(spec.max), "log": True}
    if d == "log_uniform":
        return key, "float", {"low": math.exp(spec.min), "high": math.exp(spec.max), "log": True}
    if d in NORMAL_FAMILY:
        return f"{key}#u", "float", {"low": U_LOW, "high": U_HIGH}
    raise ConfigError(f"'parameters.{key}': distribution {d!r} has no suggestion")


def choices(spec: ParamSpec) -> list[Any]:
    """A categorical's values as Optuna choices: scalars as they are, lists and mappings as their YAML text."""
    return [v if v is None or isinstance(v, bool | int | float | str) else format_value(v) for v in spec.values]


def decode(spec: ParamSpec, raw: Any) -> Any:
    """The value used for training from what Optuna suggested (or stored) for ``spec``."""
    d = spec.distribution
    if d == "constant":
        return spec.value
    if d == "categorical":
        options = choices(spec)
        for i, option in enumerate(options):
            if option == raw and type(option) is type(raw):
                return spec.values[i]
        for i, option in enumerate(options):  # a stored 3 for a choice 3.0 (storage round trips)
            if option == raw:
                return spec.values[i]
        raise ConfigError(f"'parameters.{spec.key}': {raw!r} is not among its values {spec.values} "
                          "(the sweep file changed since the trial ran)")
    if d == "int_uniform":
        return int(raw)
    if d in ("uniform", "log_uniform_values", "log_uniform"):
        return float(raw)
    if d in ("q_uniform", "q_log_uniform_values"):
        kmin, kmax = q_steps(spec)
        return _multiple(spec, min(max(_round(raw, spec.q), kmin), kmax))
    x = NormalDist(float(spec.mu), float(spec.sigma)).inv_cdf(min(max(float(raw), U_LOW), U_HIGH))
    if d.startswith("q_log") or d == "log_normal":
        x = math.exp(x)
    return _multiple(spec, _round(x, spec.q)) if d.startswith("q_") else x


def reachable(spec: ParamSpec) -> list[tuple[str, Any]]:
    """``(label, value)`` for the extreme values a parameter can take (every value of a categorical)."""
    if spec.distribution == "constant":
        return [("value", spec.value)]
    if spec.distribution == "categorical":
        return [("value", v) for v in spec.values]
    _, _, kw = suggestion(spec)
    labels = ("lowest value", "highest value") if spec.distribution in NORMAL_FAMILY else ("min", "max")
    return [(labels[0], decode(spec, kw["low"])), (labels[1], decode(spec, kw["high"]))]


def suggest(trial: Any, parameters: dict[str, ParamSpec]) -> dict[str, Any]:
    """One trial's values ``{dotted key: value}`` (constants included), drawn through ``trial``'s sampler.

    Example:
        >>> import optuna
        >>> from lex_dpr.sweep.spec import ParamSpec
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> params = {"lora.r": ParamSpec("lora.r", "int_uniform", min=4, max=64),
        ...           "trainer.temperature": ParamSpec("trainer.temperature", "log_normal", mu=-3.0, sigma=0.3)}
        >>> trial = study.ask()
        >>> values = suggest(trial, params)
        >>> sorted(trial.params), 4 <= values["lora.r"] <= 64, values == resolved_values(trial.params, params)
        (['lora.r', 'trainer.temperature#u'], True, True)
    """
    out: dict[str, Any] = {}
    for key, spec in parameters.items():
        if spec.distribution == "constant":
            out[key] = spec.value
            continue
        name, kind, kwargs = suggestion(spec)
        out[key] = decode(spec, getattr(trial, f"suggest_{kind}")(name, **kwargs))
    return out


def grid_problems(parameters: dict[str, ParamSpec]) -> list[str]:
    """Why ``method: grid`` cannot enumerate these parameters (empty when it can): the one grid check.

    A grid takes constants, categoricals, ``int_uniform`` and ``q_uniform``, and at most ``GRID_LIMIT``
    combinations (counted, not listed).

    Example:
        >>> from lex_dpr.sweep.spec import ParamSpec
        >>> grid_problems({"lora.r": ParamSpec("lora.r", "int_uniform", min=1, max=1_000_000)})
        ['method grid has 1000000 combinations (more than 100000): fewer values, or use method random or bayes']
    """
    bad = [f"'parameters.{k}' ({p.distribution})" for k, p in parameters.items()
           if p.distribution not in GRID_DISTRIBUTIONS]
    if bad:
        return [f"method grid cannot enumerate {', '.join(bad)}: give values: [...], or int_uniform or q_uniform "
                "bounds, or use method random or bayes"]
    total = 1
    for p in parameters.values():
        if p.distribution == "categorical":
            total *= len(p.values)
        elif p.distribution == "int_uniform":
            total *= int(p.max) - int(p.min) + 1
        elif p.distribution == "q_uniform":
            kmin, kmax = q_steps(p)
            total *= kmax - kmin + 1
    if total > GRID_LIMIT:
        return [f"method grid has {total} combinations (more than {GRID_LIMIT}): fewer values, or use method "
                "random or bayes"]
    return []


def grid_space(parameters: dict[str, ParamSpec]) -> dict[str, list[Any]]:
    """The search space for ``optuna.samplers.GridSampler``: every suggested name → its values.

    Raises:
        ConfigError: the parameters fail :func:`grid_problems` (a continuous or unbounded one, all of them named).
    """
    problems = grid_problems(parameters)
    if problems:
        raise ConfigError("; ".join(problems))
    space: dict[str, list[Any]] = {}
    for spec in parameters.values():
        d = spec.distribution
        if d == "constant":
            continue
        name, _, kwargs = suggestion(spec)
        if d == "categorical":
            space[name] = kwargs["choices"]
        elif d == "int_uniform":
            space[name] = list(range(kwargs["low"], kwargs["high"] + 1))
        else:
            kmin, kmax = q_steps(spec)
            space[name] = [_multiple(spec, k) for k in range(kmin, kmax + 1)]
    return space


def resolved_values(trial_params: dict[str, Any], parameters: dict[str, ParamSpec]) -> dict[str, Any]:
    """A finished trial's ``FrozenTrial.params`` back to ``{dotted key: value}``, as :func:`suggest` returned.

    Raises:
        ConfigError: the trial lacks a parameter of the sweep (the sweep file changed since it ran).
    """
    out: dict[str, Any] = {}
    missing = []
    for key, spec in parameters.items():
        name = param_name(spec)
        if name is None:
            out[key] = spec.value
        elif name not in trial_params:
            missing.append(name)
        else:
            out[key] = decode(spec, trial_params[name])
    if missing:
        raise ConfigError(f"the trial has no value for {', '.join(missing)}: the sweep file's parameters changed "
                          "since it ran")
    return out


def to_overrides(values: dict[str, Any]) -> list[str]:
    """``["trainer.lr=2e-05", "lora.target_modules=[q_proj, v_proj]"]``: each loads back to the same value."""
    return [f"{key}={format_value(value)}" for key, value in values.items()]


# --- internals -------------------------------------------------------------------------------------------


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _dec(x: Any) -> Decimal:
    """Exact decimal of a number as written (``0.1`` → Decimal('0.1'), not the binary expansion)."""
    return Decimal(repr(float(x))) if isinstance(x, float) else Decimal(int(x))


def _round(x: Any, q: Any) -> int:
    """``round(x / q)`` (half to even, as W&B's numpy round) in decimal arithmetic."""
    return int((_dec(x) / _dec(q)).to_integral_value(rounding=ROUND_HALF_EVEN))


def _multiple(spec: ParamSpec, k: int) -> int | float:
    """``k * q``: an ``int`` for an integer ``q``, else the float nearest to the exact decimal product."""
    if _is_int(spec.q):
        return k * spec.q
    return float(_dec(spec.q) * k)
