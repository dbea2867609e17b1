"""Settings of ``lex-dpr rag``: how contexts are retrieved and how answers are generated.

An index carries its own retrieval settings in ``retrieval.json`` (written by ``rag tune``); a ``--config``
file and command-line flags override them, in that order.

Example:
    >>> cfg = load_rag_config(None, ["retrieval.method=rrf", "retrieval.k=4"])
    >>> cfg.retrieval.method.value, cfg.retrieval.k, cfg.llm
    ('rrf', 4, 'none')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from lex_dpr.llm.base import GenerationConfig
from lex_dpr.utils import config as _config
from lex_dpr.utils.config import setting

SETTINGS_FILE = "retrieval.json"  # in the index folder, written by `rag tune`
CITED_FILE = "cited.json"  # the passages training pairs cited, for retrieval.uncited_bonus; written by `rag tune`


class Method(StrEnum):
    WEIGHTED = "weighted"  # min-max normalised scores, w·dense + (1−w)·bm25
    RRF = "rrf"  # reciprocal rank fusion, k=60
    INDEPENDENT = "independent"  # top k_dense from dense, the rest from BM25, no duplicates


@dataclass
class RetrievalConfig:
    """``retrieval.*``: which contexts an answer gets."""

    method: Method = Method.WEIGHTED
    weight: float = setting(0.5, ge=0, le=1)  # on the dense scores, for weighted
    # weighted, for a query asked as a question (utils.text.is_question: plain-language questions): the weight on
    # dense then; null: `weight` for every query. 0.3 is the best of 0.1–0.5 on the dev questions
    # (bench/bench_quality.py; shared corpus, the default static model); `rag tune --questions` tunes it.
    question_weight: float | None = setting(0.3, ge=0, le=1)
    # weighted, for a statement (not asked as a question): added to the fused score of every passage no training
    # pair cited (INDEX/cited.json), so passages the model never saw as a positive are not buried under the ones
    # it learnt; `rag tune` chooses it with the weight (lex_dpr/retrieval/fusion.py)
    uncited_bonus: float = setting(0.0, ge=0, le=1)
    # a query asked as a question: passage types it is answered from (null: all; a passage without a type is always
    # kept) and the everyday → legal lexicon appended to it (builtin | a TSV file | null); lex_dpr/retrieval/questions.py
    question_types: list[str] | None = field(default_factory=lambda: ["law", "admin"])
    lexicon: str | None = "builtin"
    rerank: bool = True  # reorder a question's fused top 50 with INDEX/rerank.json (rag tune --questions) if present
    # passages a query names by law and article ("상법 제395조", "같은 법 제47조") go first, in the order named
    # (lex_dpr/retrieval/citations.py): held-out-article Recall@10 0.4078 → 0.4444 on the shared data
    citations: bool = True
    k: int = setting(6, ge=1)  # contexts per question
    depth: int = setting(100, ge=1)  # how deep each list is read before fusing
    k_dense: int | None = setting(None, ge=0)  # independent: contexts from dense (None: half of k, rounded up)


@dataclass
class RagConfig:
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    llm: str = "none"  # none | transformers:MODEL | openai:URL
    templates: str | None = None  # a folder whose prompt files override the bundled ones
    min_hangul: float = setting(0.5, ge=0, le=1)  # an answer with fewer Hangul letters is flagged not_korean
    # questions retrieved (and sent to the generator) together in rag batch: Kiwi's threads and BLAS work best on
    # more than a few dozen (retrieval only, shared data: 64 → 603 questions/s, 128 → 735, 256 → 660-838)
    batch_size: int = setting(128, ge=1)

    def problems(self) -> list[str]:
        spec = self.llm.strip()
        if spec != "none" and not spec.startswith(("transformers:", "openai:")):
            return [f"'llm': {self.llm!r} is not none, transformers:MODEL or openai:URL"]
        return []


def load_rag_config(path: str | Path | None = None, overrides: Sequence[str] | None = None,
                    index_settings: dict[str, Any] | None = None) -> RagConfig:
    """Defaults ← the index's tuned ``retrieval`` settings (mode, weight, k) ← ``path`` ← ``overrides``, checked together."""
    base = [f"retrieval.{k}={_config._format(v)}" for k, v in (index_settings or {}).items()
            if k in ("method", "weight", "question_weight", "uncited_bonus", "k_dense", "k") and v is not None]
    given = _given_retrieval_keys(path, overrides or [])
    if "weight" in given and "question_weight" not in given:
        base.append("retrieval.question_weight=null")  # a weight the user gives applies to every query
    if ("weight" in given or "method" in given) and "uncited_bonus" not in given:
        base.append("retrieval.uncited_bonus=0")  # as it is: the bonus was tuned with the index's weight
    return _config.load(RagConfig, path, [*base, *(overrides or [])])


def _given_retrieval_keys(path: str | Path | None, overrides: Sequence[str]) -> set[str]:
    keys = {o.split("=", 1)[0].strip().removeprefix("retrieval.") for o in overrides if o.startswith("retrieval.")}
    if path is not None and Path(path).is_file():
        raw = _config.read_yaml(Path(path))
        section = raw.get("retrieval") if isinstance(raw, dict) else None
        keys |= set(section) if isinstance(section, dict) else set()
    return keys


def read_index_settings(index_dir: str | Path) -> dict[str, Any]:
    """The index's tuned retrieval settings (empty when ``rag tune`` never ran on it)."""
    from lex_dpr.errors import InputError
    from lex_dpr.utils.io import read_json_file

    path = Path(index_dir) / SETTINGS_FILE
    if not path.is_file():
        return {}
    data = read_json_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("retrieval"), dict):
        raise InputError(f"{path}: not a retrieval settings file; run `lex-dpr rag tune` again or delete it")
    k = data.get("k")  # the number of contexts the mode was chosen for
    return {**data["retrieval"], **({"k": k} if isinstance(k, int) and not isinstance(k, bool) else {})}


def read_cited(index_dir: str | Path) -> frozenset[str]:
    """The passages the training pairs cited, as ``rag tune`` stored them (``retrieval.uncited_bonus`` needs them).

    Raises:
        InputError: the file is missing or not what ``rag tune`` writes.
    """
    from lex_dpr.errors import InputError
    from lex_dpr.utils.io import read_json_file

    path = Path(index_dir) / CITED_FILE
    if not path.is_file():
        raise InputError(f"{path}: missing; retrieval.uncited_bonus needs the passages training cited: run "
                         "`lex-dpr rag tune` with the training pairs again, or set retrieval.uncited_bonus=0")
    data = read_json_file(path)
    passages = data.get("passages") if isinstance(data, dict) else None
    if not isinstance(passages, list) or not all(isinstance(p, str) for p in passages):
        raise InputError(f"{path}: not a list of cited passages; run `lex-dpr rag tune` again or delete it")
    return frozenset(passages)
