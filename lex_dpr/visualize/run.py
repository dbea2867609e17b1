"""``lex-dpr visualize``: the four pictures of a model against a pair set and its corpus.

``space`` (2-D map of queries and passages), ``similarity`` (positive vs negative cosine distributions),
``heatmap`` (query × passage similarities) and ``comparison`` (before vs after training). ``all`` draws each
one it can: ``comparison`` needs a "before" model, which is ``model_before`` when given, else the untrained
start of the run (its record's base model; for a static run, its vocabulary with fresh random vectors, which
is what training started from).

Example:
    >>> result = visualize("out/shared/run_best", "viz", kinds=["similarity"])  # doctest: +SKIP
    >>> result["similarity"]["auc_vs_hard"]  # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.models.run_folder import RUN_SUBDIR, resolve_model_dir, run_label
from lex_dpr.utils.io import ensure_writable
from lex_dpr.visualize import figures
from lex_dpr.visualize.projection import DEFAULT_METHOD, METHODS
from lex_dpr.visualize.sample import encode_sample, sample_pairs

log = logging.getLogger(__name__)

KINDS = ("space", "similarity", "heatmap", "comparison")
ALIASES = {"embedding-space": "space", "embedding_space": "space", "all": "all"}
UNTRAINED = "untrained"


def parse_kinds(values: list[str] | None) -> list[str]:
    """``--type`` values (repeatable, comma-separated, ``all``, predecessor's ``embedding-space``) as kinds.

    Example:
        >>> parse_kinds(["embedding-space,heatmap"]), parse_kinds(["all"])[-1]
        (['space', 'heatmap'], 'comparison')
        >>> parse_kinds(["pca"])
        Traceback (most recent call last):
        lex_dpr.errors.ConfigError: --type 'pca' is not one of all, space, similarity, heatmap, comparison
    """
    out: list[str] = []
    for value in values or ["all"]:
        for part in filter(None, (p.strip() for p in value.split(","))):
            kind = ALIASES.get(part, part)
            if kind == "all":
                out += [k for k in KINDS if k not in out]
            elif kind in KINDS:
                out += [kind] if kind not in out else []
            else:
                raise ConfigError(f"--type {part!r} is not one of all, {', '.join(KINDS)}")
    return out


def check_visualize_options(kinds: list[str] | None, method: str, n_samples: int, max_points: int,
                            heatmap_queries: int, models: dict[str, str | None] | None = None) -> list[str]:
    """Every problem with the options in one :class:`ConfigError` (the CLI calls it before torch); returns the
    kinds (:func:`parse_kinds`).

    ``models`` maps a flag (``--model``) to its value: a path that does not exist is a problem.
    """
    from lex_dpr.retrieval.index.encode import looks_like_path as _looks_like_path

    problems = []
    chosen: list[str] = []
    try:
        chosen = parse_kinds(kinds)
    except ConfigError as exc:
        problems.append(str(exc))
    for flag, value in (models or {}).items():
        if value and _looks_like_path(value) and not Path(value).expanduser().exists():
            problems.append(f"{flag} {value}: no such folder; pass a run folder (out/shared/run_best), a model "
                            "folder, an alias or a hub id")
    if method not in METHODS:
        problems.append(f"--method {method!r} is not one of {', '.join(METHODS)}")
    for flag, value, least in (("--n-samples", n_samples, 2), ("--max-points", max_points, 12),
                               ("--heatmap-queries", heatmap_queries, 1)):
        if value < least:
            problems.append(f"{flag} {value!r} must be at least {least}")
    if problems:
        raise ConfigError("; ".join(problems))
    return chosen


def run_inputs(model: str) -> dict[str, str]:
    """The passages and valid pairs a run folder trained on (from its record), where they still exist."""
    record = _record(model)
    found = {}
    for key, name in (("passages", "passages"), ("valid_pairs", "pairs")):
        path = ((record or {}).get("inputs") or {}).get(key, {}).get("path")
        if isinstance(path, str) and Path(path).is_file():
            found[name] = path
    return found


def visualize(model: str, out_dir: str | Path, *, passages: str | Path | None = None,
              pairs: str | Path | None = None, kinds: list[str] | None = None, model_before: str | None = None,
              method: str = DEFAULT_METHOD, n_samples: int = 300, max_points: int = 450, heatmap_queries: int = 15,
              seed: int = 42, batch_size: int = 64, device: str | None = None) -> dict:
    """Draw the pictures; returns ``{kind: numbers}`` (each with ``png``/``json`` paths) plus ``"sample"``.

    Args:
        model: run folder, model folder, alias or hub id (the "after" model).
        out_dir: where the PNGs and JSONs go.
        passages, pairs: corpus and pair JSONL; default to the run's own (its record's passages and valid pairs).
        kinds: any of ``space``, ``similarity``, ``heatmap``, ``comparison`` (default: all).
        model_before: the "before" model of ``comparison`` (default: the run's untrained start).
        method: ``tsne`` (default) or ``umap`` for ``space``.
        n_samples: queries sampled (seeded) for every figure; max_points: points in ``space``;
        heatmap_queries: rows of the heatmap.

    Raises:
        ConfigError: bad options; InputError: unreadable inputs, a model that does not load, no "before" model.
    """
    kinds = check_visualize_options(kinds, method, n_samples, max_points, heatmap_queries,
                                    {"--model": model, "--model-before": model_before})
    defaults = run_inputs(model)
    passages = passages or defaults.get("passages")
    pairs = pairs or defaults.get("pairs")
    if not passages or not pairs:
        missing = " and ".join(f for f, v in (("--passages", passages), ("--eval-pairs", pairs)) if not v)
        raise ConfigError(f"{missing} needed: {model!r} is not a run folder whose record names them; pass e.g. "
                          "--passages out/shared/merged_corpus.jsonl --eval-pairs out/shared/pairs_train_valid.jsonl")
    out_dir = Path(out_dir)
    ensure_writable(out_dir, folder=True, flag="--output")
    started = time.perf_counter()
    corpus = read_corpus(passages)
    sample = sample_pairs(read_pairs(pairs, corpus), corpus, n_queries=n_samples, seed=seed)
    encoder = _load(model, device)
    after = encode_sample(encoder, sample, corpus, batch_size)
    name = model_label(model)
    result: dict = {"sample": {"passages": str(passages), "pairs": str(pairs), "queries": len(sample),
                               "passages_encoded": len(sample.passage_ids), "seed": seed}}
    if "space" in kinds:
        result["space"] = figures.plot_space(sample, after, out_dir, name, method, max_points, seed)
    if "similarity" in kinds:
        result["similarity"] = figures.plot_similarity(sample, after, out_dir, name)
    if "heatmap" in kinds:
        result["heatmap"] = figures.plot_heatmap(sample, after, corpus, out_dir, name, heatmap_queries)
    if "comparison" in kinds:
        before_encoder, before_name = before_model(model, model_before, device, seed)
        before = encode_sample(before_encoder, sample, corpus, batch_size)
        result["comparison"] = figures.plot_comparison(sample, before, after, out_dir, before_name, name)
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def model_label(model: str) -> str:
    """A short name for titles: a run folder's name (``run_best``), else the path's last part or the alias."""
    path = Path(model)
    return run_label(path.resolve()) if path.exists() else str(model)


def before_model(model: str, model_before: str | None, device: str | None, seed: int):
    """The "before" encoder and its label: ``model_before``, else the run's untrained start.

    Raises:
        InputError: no ``model_before`` and ``model`` is not a run folder with a record naming its base.
    """
    if model_before:
        return _load(model_before, device), model_label(model_before)
    record = _record(model)
    base = (((record or {}).get("config") or {}).get("model") or {}).get("name") if record else None
    if not base:
        raise InputError(f"{model}: no run record naming the untrained model to compare with; pass --model-before "
                         "(an earlier run such as out/shared/run, a model folder or an alias)")
    if base == "static":
        seed = int(((record.get("config") or {}).get("trainer") or {}).get("seed", seed))
        return untrained_static(model, seed), f"{UNTRAINED} static (seed {seed})"
    try:
        return _load(base, device), f"{UNTRAINED} {base}"
    except InputError as exc:
        raise InputError(f"the run's base model {base!r} does not load ({exc}); pass --model-before with a local "
                         "copy of it or an earlier run") from None


def untrained_static(model: str, seed: int):
    """A static run's starting point: its tokenizer (vocabulary) with random N(0, 1) vectors of its size, as
    ``StaticEmbedding`` initialises them (numpy's generator, not torch's: the same distribution, other draws)."""
    import numpy as np

    from lex_dpr.models.loading import load_query_encoder
    from lex_dpr.models.static import NumpyStaticEncoder, is_static_folder

    folder = resolve_model_dir(model)
    if folder.is_dir() and is_static_folder(folder):
        trained = load_query_encoder(folder)  # a model that reads morphemes keeps its tokenizer's wrapper
        weights = np.random.default_rng(seed).standard_normal(trained.weights.shape, dtype=np.float32)
        return NumpyStaticEncoder(weights, trained.tokenizer, trained.prompts)
    raise InputError(f"{model}: the record says static, but no static model folder is there; pass --model-before")


def _record(model: str) -> dict | None:
    from lex_dpr.runs.record import CONFIG_FILE, read_record

    path = Path(model)
    for folder in (path / RUN_SUBDIR, path, path.parent):
        if (folder / CONFIG_FILE).is_file():
            try:
                return read_record(folder)
            except InputError as exc:
                log.warning("%s", exc)
                return None
    return None


def _load(model: str, device: str | None):
    from lex_dpr.models.loading import load_query_encoder

    return load_query_encoder(model, device=device)
