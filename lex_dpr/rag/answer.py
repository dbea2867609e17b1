"""Answer questions from an index: retrieve contexts, pick the prompt for the question's type, generate, check.

:class:`Answerer` holds what stays loaded between questions (the index, the fused retriever, the generator,
the templates), so ``rag ask`` pays for loading once and ``rag batch`` answers a batch of questions with one
batched query encoding, one batched BM25 search and one batched generation call.

Without an LLM (``llm: none``) the answer is the ranked contexts themselves, each with its law, article and
passage id: always available, offline, and what the retrieval benchmarks measure.

Example:
    >>> ctx = [Context("LAW_1_제750조", "제750조(불법행위의 내용) ...", title="민법", article="제750조")]
    >>> print(contexts_answer(ctx))
    [1] 민법 제750조 (LAW_1_제750조)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lex_dpr.rag.config import Method, RagConfig
from lex_dpr.rag.prompts import Context, Templates, build_messages, check_answer, cited, is_refusal, load_templates
from lex_dpr.retrieval.base import Ranking, Retriever


@dataclass
class Answer:
    """One question's answer: its type, the contexts it got (best first), the text, and what the check found."""

    question: str
    qtype: str
    contexts: list[Context]
    answer: str
    cited: list[str] = field(default_factory=list)  # the context ids the answer uses
    flags: list[str] = field(default_factory=list)  # no_citation, not_korean, empty
    error: str | None = None  # the generator's one-line error for this question
    rule: str = ""  # the classifier's cue

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "qtype": self.qtype,
                "contexts": [{"id": c.pid, "title": c.title, "article": c.article, "score": round(c.score, 6),
                              "text": c.text} for c in self.contexts],
                "answer": self.answer, "cited": list(self.cited), "flags": list(self.flags), "error": self.error,
                "rule": self.rule}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Answer:
        contexts = [Context(c["id"], c.get("text", ""), title=c.get("title", ""), article=c.get("article", ""),
                            score=float(c.get("score", 0.0))) for c in d.get("contexts", [])]
        return cls(d["question"], d["qtype"], contexts, d["answer"], list(d.get("cited", [])),
                   list(d.get("flags", [])), d.get("error"), d.get("rule", ""))


def contexts_answer(contexts: Sequence[Context]) -> str:
    """The retrieval-only answer: one line per context, ``[n] law article (id)``."""
    return "\n".join(f"[{i}] {' '.join(x for x in (c.title, c.article) if x) or c.pid} ({c.pid})"
                     for i, c in enumerate(contexts, start=1))


def build_retriever(index, cfg: RagConfig) -> Retriever:
    """The index's dense and BM25 halves fused as ``cfg.retrieval`` says (either alone when the other is absent)."""
    from lex_dpr.retrieval.fusion import FusionRetriever

    r = cfg.retrieval
    if index.dense is None or index.bm25 is None:
        return index.dense or index.bm25
    k_first = r.k_dense if r.method == Method.INDEPENDENT else None
    return FusionRetriever(index.dense, index.bm25, weight=r.weight, depth=r.depth, method=str(r.method),
                           k_first=k_first, question_weight=r.question_weight)


class Answerer:
    """Everything ``rag`` keeps loaded: index, retriever, generator, templates.

    Args:
        index: an :class:`~lex_dpr.retrieval.store.OpenIndex`.
        cfg: the rag settings.
        generator: a :class:`~lex_dpr.llm.base.Generator`, or ``None`` for retrieval-only answers.
        templates: prompt templates (default: ``cfg.templates`` or the bundled ones).
    """

    def __init__(self, index, cfg: RagConfig, generator=None, templates: Templates | None = None) -> None:
        self.index, self.cfg, self.generator = index, cfg, generator
        self.retriever = build_retriever(index, cfg)
        self.templates = templates or load_templates(cfg.templates)

    @property
    def fingerprint(self) -> str:
        """What an answer depends on besides the question: index, retrieval, generator and its settings."""
        import orjson

        from lex_dpr.utils.config import to_dict

        from lex_dpr import __version__

        manifest = self.index.manifest
        retrieval = to_dict(self.cfg.retrieval)
        if self.cfg.retrieval.method != Method.WEIGHTED:
            retrieval.pop("weight")
            retrieval.pop("question_weight")
        if self.cfg.retrieval.method != Method.INDEPENDENT:
            retrieval.pop("k_dense")
        parts = {"index": (manifest.get("corpus") or {}).get("sha256", ""),
                 "model": (manifest.get("model") or {}).get("fingerprint", ""),
                 "dense": manifest.get("dense"), "bm25": manifest.get("bm25"),
                 "tokenizer": (manifest.get("tokenizer") or {}).get("settings_key"),
                 "lex_dpr": __version__,  # the classifier's rules and the post-check
                 "retrieval": retrieval,
                 "llm": self.generator.fingerprint if self.generator is not None else "none",
                 "generation": self.cfg.generation.fingerprint() if self.generator is not None else "",
                 "templates": self.templates_fingerprint(), "min_hangul": self.cfg.min_hangul}
        return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:16]

    def templates_fingerprint(self) -> str:
        text = self.templates.system + "\0" + "\0".join(f"{k}\0{v}" for k, v in sorted(self.templates.by_type.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def retrieve(self, questions: Sequence[str]) -> list[list[Context]]:
        rankings = self.retriever.rank(list(questions), self.cfg.retrieval.k)
        return [self._contexts(r) for r in rankings]

    def _contexts(self, ranking: Ranking) -> list[Context]:
        corpus = self.index.corpus
        out = []
        for pid, score in ranking[: self.cfg.retrieval.k]:
            i = corpus.index[pid]
            rec = corpus.records[i]
            out.append(Context(pid, corpus.texts[i], title=str(rec.get("title") or ""),
                               article=str(rec.get("article") or ""), score=float(score)))
        return out

    def answer(self, questions: Sequence[str]) -> list[Answer]:
        """Answer ``questions`` together (one retrieval batch, one generation batch), in order."""
        from lex_dpr.rag.classify import explain

        if not questions:
            return []
        kinds = [explain(q) for q in questions]
        contexts = self.retrieve(questions)
        if self.generator is None:
            return [Answer(q, t, ctx, contexts_answer(ctx), [c.pid for c in ctx], [] if ctx else ["no_context"],
                           rule=why) for q, (t, why), ctx in zip(questions, kinds, contexts, strict=True)]
        conversations = [build_messages(q, t, ctx, self.templates)
                         for q, (t, _), ctx in zip(questions, kinds, contexts, strict=True)]
        generations = self.generator.generate(conversations, self.cfg.generation)
        out = []
        for q, (t, why), ctx, g in zip(questions, kinds, contexts, generations, strict=True):
            text = g.text.strip()
            flags = check_answer(text, ctx, self.cfg.min_hangul) if g.error is None else ["error"]
            if g.error is None and is_refusal(text):  # "the contexts do not answer this" needs no citation
                flags = [f for f in flags if f != "no_citation"] + ["refusal"]
            out.append(Answer(q, t, ctx, text, cited(text, ctx), flags, g.error, why))
        return out


def open_answerer(index_dir, cfg_path=None, overrides: Sequence[str] = (), model: str | None = None,
                  device: str | None = None) -> Answerer:
    """Open the index, read its tuned settings, apply ``cfg_path`` and ``overrides``, start the generator."""
    from lex_dpr.llm.open import open_generator
    from lex_dpr.rag.config import load_rag_config, read_index_settings
    from lex_dpr.retrieval.store import open_index

    cfg = load_rag_config(cfg_path, overrides, read_index_settings(index_dir))
    templates = load_templates(cfg.templates)  # a bad template folder fails before any model loads
    index = open_index(index_dir, model=model, device=device)
    generator = open_generator(cfg.llm, cfg.generation, device=device)
    return Answerer(index, cfg, generator, templates)
