"""``lex-dpr stats``: what is in a corpus and its pairs, as JSON and PNG histograms."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from lex_dpr.errors import InputError
from lex_dpr.utils.io import atomic_open, ensure_writable, iter_jsonl, write_json


def _summary(values: Sequence[int]) -> dict[str, float]:
    if not len(values):
        return {"n": 0}
    a = np.asarray(values)
    return {"n": int(a.size), "mean": round(float(a.mean()), 1), "p50": float(np.percentile(a, 50)),
            "p90": float(np.percentile(a, 90)), "p95": float(np.percentile(a, 95)), "max": int(a.max())}


def suggest_max_seq_length(p95_tokens: float) -> int:
    """Smallest multiple of 64 covering the 95th percentile, capped at 8192."""
    return int(min(8192, max(64, 64 * math.ceil(p95_tokens / 64))))


def corpus_stats(passages: str | Path, pairs: list[str | Path] | None = None, tokenizer: str | None = None,
                 out_dir: str | Path = "stats", top: int = 20, batch: int = 1024) -> dict:
    """Counts, length distributions (chars and, with ``tokenizer``, tokens) and citation counts.

    Writes ``stats.json`` and ``*_hist.png`` into ``out_dir`` and returns the JSON dict. The files are
    streamed: memory holds counters and one integer per passage or pair, never the texts.
    """
    out_dir = Path(out_dir)
    ensure_writable(out_dir, folder=True, flag="--out-dir")
    tok = None
    if tokenizer:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer)
    by_type: Counter = Counter()
    by_title: Counter = Counter()
    chars, tokens = array("l"), array("l")
    for chunk in _batched(iter_jsonl(passages), batch):
        texts = [str(p.get("text") or "") for p in chunk]
        by_type.update(_label(p.get("type")) for p in chunk)
        by_title.update(_label(p.get("title")) for p in chunk)
        chars.extend(len(t) for t in texts)
        if tok is not None:
            tokens.extend(len(ids) for ids in tok(texts, add_special_tokens=True)["input_ids"])
    if not chars:
        raise InputError(f"{passages}: no passages (empty file? run `lex-dpr preprocess` first)")
    stats: dict = {"passages": len(chars), "by_type": dict(by_type), "by_title": dict(by_title.most_common(top)),
                   "chars": _summary(chars)}
    lengths: dict[str, Sequence[int]] = {"passage_chars": chars}
    if tok is not None:
        stats["tokens"] = _summary(tokens)
        stats["suggested_max_seq_length"] = suggest_max_seq_length(stats["tokens"]["p95"])
        lengths["passage_tokens"] = tokens
    if pairs:
        cited: Counter = Counter()
        kinds: Counter = Counter()
        n_pos, n_neg, q_chars = array("l"), array("l"), array("l")
        for f in pairs:
            for p in iter_jsonl(f):
                positives = _ids(p.get("positive_passages"))
                cited.update(positives)
                meta = p.get("meta")
                kinds[_label(meta.get("type") if isinstance(meta, dict) else None)] += 1
                n_pos.append(len(positives))
                n_neg.append(len(_ids(p.get("hard_negatives"))))
                q_chars.append(len(str(p.get("query_text") or "")))
        stats["pairs"] = {
            "queries": len(q_chars),
            "by_type": dict(kinds),
            "positives_per_query": _summary(n_pos),
            "negatives_per_query": _summary(n_neg),
            "query_chars": _summary(q_chars),
            "distinct_positives": len(cited),
            "most_cited": cited.most_common(top),
        }
        lengths["query_chars"] = q_chars
    stats["plots"] = _plot(lengths, out_dir)
    write_json(out_dir / "stats.json", stats)
    return stats


def _label(value: object) -> str:
    """A counter key for a field that should be a string (hostile files hold lists, numbers, null)."""
    return value if isinstance(value, str) else "?"


def _ids(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _batched(items: Iterable[dict], n: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _plot(lengths: dict[str, Sequence[int]], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, values in lengths.items():
        if not len(values):
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(np.asarray(values), bins=60, color="#3b6ea5")
        ax.axvline(float(np.percentile(values, 95)), color="#c0392b", linestyle="--", label="p95")
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("count")
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{name}_hist.png"
        try:
            with atomic_open(path) as fh:  # a killed run leaves the old PNG, never half of one
                fig.savefig(fh, format="png", dpi=100, metadata={"Software": None})  # no version stamp: same bytes
        finally:
            plt.close(fig)
        paths.append(str(path))
    return paths
