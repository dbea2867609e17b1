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

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.rag.config import Method, RagConfig, read_cited
from lex_dpr.rag.prompts import Context, Templates, build_messages, check_answer, cited, is_refusal, load_templates
from lex_dpr.retrieval.base import Ranking, Retriever
from lex_dpr.utils.hashing import sha256_hex


@dataclass
class Answer:
    """One question's answer: its type, the contexts it got (best first), the text, and what the check found."""

    question: str
    qtype: str
    contexts: list[Context]
    answer: str
    cited: list[str] = field(default_factory=list)  # the context ids the answer uses
    flags: list[str] = field(default_factory=list)  # no_match, no_context, no_citation, not_korean, empty, ...
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


def build_retriever(index, cfg: RagConfig, rerank: bool | None = None) -> Retriever:
    """The index's dense and BM25 halves fused as ``cfg.retrieval`` says (either alone when the other is absent),
    with the passages a query names by law and article first (``retrieval.citations``).

    Queries asked as questions see both halves through :func:`question_views`, and their fused candidates are
    reordered by the index's question reranker (``INDEX/rerank.json`` from ``rag tune --questions``) when
    ``retrieval.rerank`` is on (``rerank`` overrides it).
    """
    from lex_dpr.retrieval.fusion import FusionRetriever

    r = cfg.retrieval
    dense, bm25 = question_views(index, cfg)
    if dense is None or bm25 is None:
        retriever = dense or bm25
    else:
        k_first = r.k_dense if r.method == Method.INDEPENDENT else None
        reranker = question_reranker(index, cfg) if (r.rerank if rerank is None else rerank) else None
        uncited = r.uncited_bonus and r.method == Method.WEIGHTED
        cited_ids = read_cited(index.folder) if uncited else None  # INDEX/cited.json, from rag tune
        retriever = FusionRetriever(dense, bm25, weight=r.weight, depth=r.depth, method=str(r.method),
                                    k_first=k_first, question_weight=r.question_weight, reranker=reranker,
                                    uncited_bonus=r.uncited_bonus, cited=cited_ids)
    if r.citations and retriever is not None:
        from lex_dpr.retrieval.citations import CitedFirst

        retriever = CitedFirst(retriever, index.corpus.records)
    return retriever


def question_views(index, cfg: RagConfig):
    """(dense, BM25) as a query asked as a question sees them: expanded by ``retrieval.lexicon``, limited to
    ``retrieval.question_types`` (:class:`~lex_dpr.retrieval.questions.QuestionView`); either may be None."""
    from lex_dpr.retrieval.questions import QuestionView, load_lexicon

    r = cfg.retrieval
    lexicon, keep = load_lexicon(r.lexicon), question_filter(index.corpus, r.question_types)
    return tuple(QuestionView(x, lexicon, keep) if x is not None and (lexicon or keep) else x
                 for x in (index.dense, index.bm25))


def question_reranker(index, cfg: RagConfig):
    """The index's question reranker (``INDEX/rerank.json``), or None when it has none or the reranker does not
    apply (``weighted`` fusion only: it was trained on weighted candidates)."""
    from lex_dpr.retrieval.questions import load_lexicon
    from lex_dpr.retrieval.rerank import RERANK_FILE, QuestionReranker, Reranker

    path = Path(index.folder) / RERANK_FILE
    if cfg.retrieval.method != Method.WEIGHTED or not path.is_file():
        return None
    bm25_index = index.bm25.index if index.bm25 is not None else None
    return QuestionReranker(Reranker.load(path, index.corpus, bm25_index), load_lexicon(cfg.retrieval.lexicon))


def question_filter(corpus, types: Sequence[str] | None):
    """Whether a passage may answer a question: its ``type`` is one of ``types`` or it has none.

    ``None`` when every passage may (no types given, or the corpus has no passage of those types).
    """
    if not types:
        return None
    wanted = set(types)
    import numpy as np

    keep = np.array([not rec.get("type") or rec.get("type") in wanted for rec in corpus.records], dtype=bool)
    if keep.all() or not keep.any():
        return None
    return Excluding(frozenset(pid for pid, k in zip(corpus.ids, keep.tolist(), strict=True) if not k), keep)


class Excluding:
    """``keep(pid)``: the passage is not one of ``excluded`` (the set is there for a membership test without a
    call per passage); ``rows``, a bool per corpus row, lets a retriever search the kept passages only."""

    __slots__ = ("excluded", "rows")

    def __init__(self, excluded: frozenset[str], rows=None) -> None:
        self.excluded, self.rows = excluded, rows

    def __call__(self, pid: str) -> bool:
        return pid not in self.excluded


class Answerer:
    """Everything ``rag`` keeps loaded: index, retriever, generator, templates.

    Args:
        index: a :class:`~lex_dpr.retrieval.index.LoadedIndex`.
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
            retrieval.pop("uncited_bonus")
        if self.cfg.retrieval.method != Method.INDEPENDENT:
            retrieval.pop("k_dense")
        parts = {"index": manifest.corpus.sha256 or "",
                 "model": manifest.model.fingerprint if manifest.model else "",
                 "dense": manifest.dense.to_dict() if manifest.dense else None,
                 "bm25": manifest.bm25.to_dict() if manifest.bm25 else None,
                 "tokenizer": (manifest.tokenizer or {}).get("settings_key"),
                 "lex_dpr": __version__,  # the classifier's rules and the post-check
                 "retrieval": retrieval, "question_view": self._question_view_fingerprint(),
                 "llm": self.generator.fingerprint if self.generator is not None else "none",
                 "generation": self.cfg.generation.fingerprint() if self.generator is not None else "",
                 "templates": self.templates_fingerprint(), "min_hangul": self.cfg.min_hangul}
        return sha256_hex(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str), 16)

    def _question_view_fingerprint(self) -> str:
        """The content of what questions are retrieved with beyond settings: the lexicon file and the reranker."""
        from lex_dpr.utils.hashing import sha256_file

        parts = []
        lexicon = self.cfg.retrieval.lexicon
        if lexicon == "builtin":
            from lex_dpr.resources import resource_text

            parts.append(sha256_hex(resource_text("lexicon/everyday_legal.tsv"), 16))
        elif lexicon and lexicon not in ("none", "null") and Path(lexicon).is_file():
            parts.append(sha256_file(lexicon)[:16])
        reranker = getattr(self.retriever, "reranker", None)
        if reranker is not None:
            parts.append(str(reranker.reranker.meta.get("sha256", "")))
        fused = getattr(self.retriever, "inner", self.retriever)
        if getattr(fused, "uncited_bonus", 0.0):  # which passages get the bonus
            parts.append(sha256_hex("\n".join(sorted(fused.cited)), 16))
        return "/".join(parts)

    def templates_fingerprint(self) -> str:
        text = self.templates.system + "\0" + "\0".join(f"{k}\0{v}" for k, v in sorted(self.templates.by_type.items()))
        return sha256_hex(text, 16)

    def retrieve(self, questions: Sequence[str]) -> list[list[Context]]:
        rankings = self.retriever.rank(list(questions), self.cfg.retrieval.k)
        return [self._contexts(r) for r in rankings]

    def matches(self, questions: Sequence[str]) -> list[bool]:
        """Whether anything in the index matches each question: a morpheme some passage holds.

        Dense similarity is no test: a static model gives "😀😀🔥🙏" a higher top score (0.42) than the median
        plain-language question (0.32) on the shared index. An index without BM25 matches everything.
        """
        if self.index.bm25 is None:
            return [True] * len(questions)
        return self.index.bm25.matches(questions)

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
        matched = self.matches(questions)
        asked = [q for q, m in zip(questions, matched, strict=True) if m]
        found = iter(self.retrieve(asked) if asked else [])
        contexts = [next(found) if m else [] for m in matched]
        if self.generator is None:
            return [Answer(q, t, ctx, contexts_answer(ctx), [c.pid for c in ctx],
                           [] if ctx else ["no_match" if not m else "no_context"], rule=why)
                    for q, (t, why), ctx, m in zip(questions, kinds, contexts, matched, strict=True)]
        conversations = [build_messages(q, t, ctx, self.templates)
                         for q, (t, _), ctx, m in zip(questions, kinds, contexts, matched, strict=True) if m]
        generated = iter(self.generator.generate(conversations, self.cfg.generation) if conversations else [])
        out = []
        for q, (t, why), ctx, m in zip(questions, kinds, contexts, matched, strict=True):
            if not m:  # nothing to answer from: no contexts, no generation
                out.append(Answer(q, t, [], "", [], ["no_match"], rule=why))
                continue
            g = next(generated)
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
    from lex_dpr.retrieval.index import open_index

    cfg = load_rag_config(cfg_path, overrides, read_index_settings(index_dir))
    templates = load_templates(cfg.templates)  # a bad template folder fails before any model loads
    index = open_index(index_dir, model=model, device=device)
    generator = open_generator(cfg.llm, cfg.generation, device=device)
    return Answerer(index, cfg, generator, templates)
