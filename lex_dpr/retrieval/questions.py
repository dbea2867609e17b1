"""How a retriever sees a query asked as a question: in the statutes' words, among the passages that answer it.

People ask in their own words ("결혼", "집주인", "통장을 빌려줬는데") where statutes say 혼인, 임대인, 접근매체;
a 판시사항 query is already in the statutes' words. For a query asked as a question
(:func:`lex_dpr.utils.text.is_question`), :class:`QuestionView` wraps one half of the hybrid retriever and

- appends the legal terms of every :class:`Lexicon` entry whose everyday words all occur in it
  (``retrieval.lexicon``: ``builtin`` is ``lex_dpr/resources/lexicon/everyday_legal.tsv``, or your own file);
- ranks only passages of ``retrieval.question_types`` (default ``law`` and ``admin``: an answer cites the
  articles; precedent summaries, which outnumber them in a question's top 100, are left to statements).
  A passage without a ``type`` is always kept.

Statements pass through unchanged, so 판시사항 queries rank exactly as before.

Example:
    >>> lex = Lexicon.from_lines(["# everyday<TAB>legal", "결혼\\t혼인, 혼인적령", "집주인\\t임대인"])
    >>> lex.expand("열일곱 살인데 결혼할 수 있어요?")
    '열일곱 살인데 결혼할 수 있어요?\\n혼인 혼인적령'
    >>> lex.expand("혼인적령에 관한 판단 기준")  # nothing everyday in it
    '혼인적령에 관한 판단 기준'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lex_dpr.errors import InputError
from lex_dpr.retrieval.base import Ranking, Retriever
from lex_dpr.data.tokenize import tokenize_many
from lex_dpr.utils.text import is_question

BUILTIN = "builtin"


@dataclass(frozen=True)
class Entry:
    words: frozenset[str]  # the everyday side's content morphemes
    terms: tuple[str, ...]  # the legal terms it adds, most specific first


class Lexicon:
    """Everyday words → legal terms, matched on Kiwi content morphemes (the tokenisation BM25 uses).

    A file has one entry a line, ``everyday<TAB>term, term, ...``; ``#`` starts a comment line.
    """

    def __init__(self, entries: Sequence[Entry], source: str = "") -> None:
        self.entries, self.source = list(entries), source
        self._terms: dict[str, list[str]] = {}  # query → terms: the dense half, BM25 and the reranker each ask
        self._by_word: dict[str, list[Entry]] = {}
        for e in self.entries:
            for w in e.words:
                self._by_word.setdefault(w, []).append(e)

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: str = "<lines>") -> Lexicon:
        rows: list[tuple[str, tuple[str, ...]]] = []
        for n, line in enumerate(lines, start=1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            everyday, sep, legal = line.partition("\t")
            terms = tuple(t.strip() for t in legal.split(",") if t.strip())
            if not sep or not everyday.strip() or not terms:
                raise InputError(f"{source}:{n}: expected 'everyday words<TAB>legal term, legal term', got {line[:60]!r}")
            rows.append((everyday.strip(), terms))
        words = tokenize_many([e for e, _ in rows]) if rows else []  # workers=0: the Kiwi BM25 queries use
        entries = [Entry(frozenset(w), t) for w, (_, t) in zip(words, rows, strict=True) if w]
        return cls(entries, source)

    @classmethod
    def from_file(cls, path: str | Path) -> Lexicon:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{path}: no such lexicon file (retrieval.lexicon: 'builtin', a TSV path, or null)") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8; save the lexicon as UTF-8") from None
        return cls.from_lines(text.splitlines(), str(path))

    def terms(self, query: str) -> list[str]:
        """The legal terms ``query`` gets, in the order its words meet the entries, without duplicates or terms
        it already has: the same list in every process."""
        if query in self._terms:
            return list(self._terms[query])
        if len(self._terms) >= 4096:
            self._terms.clear()
        words = tokenize_many([query])[0]
        have = set(words)
        out: dict[str, None] = {}
        seen: set[int] = set()
        for w in dict.fromkeys(words):  # the query's order, not a set's: that changes with PYTHONHASHSEED
            for e in self._by_word.get(w, ()):
                if id(e) in seen or not e.words <= have:
                    continue
                seen.add(id(e))
                out.update((t, None) for t in e.terms if t not in query)
        self._terms[query] = list(out)
        return list(out)

    def expand(self, query: str) -> str:
        """``query`` and, on a line of its own, the legal terms it gets (Kiwi reads the lines apart, so the
        question's morphemes are the ones it already had)."""
        terms = self.terms(query)
        return f"{query}\n{' '.join(terms)}" if terms else query

    def __len__(self) -> int:
        return len(self.entries)


def load_lexicon(spec: str | Path | None) -> Lexicon | None:
    """``None``/``"none"``: no lexicon; ``"builtin"``: the bundled one; else a TSV file.

    Read once per process (a file again when it changed): the dense half, BM25 and the reranker share it.
    """
    if spec is None or str(spec).lower() in ("", "none", "null"):
        return None
    if str(spec) == BUILTIN:
        key = (BUILTIN, 0)
    else:
        try:
            key = (str(Path(spec).resolve()), Path(spec).stat().st_mtime_ns)
        except OSError:
            key = (str(spec), -1)  # from_file names the problem
    if key not in _LOADED:
        if str(spec) == BUILTIN:
            from lex_dpr.resources import resource_text

            lexicon = Lexicon.from_lines(resource_text("lexicon/everyday_legal.tsv").splitlines(), "builtin lexicon")
        else:
            lexicon = Lexicon.from_file(spec)
        _LOADED[key] = lexicon
    return _LOADED[key]


_LOADED: dict[tuple[str, int], Lexicon] = {}


class QuestionView:
    """``inner`` as a query asked as a question sees it: expanded by ``lexicon``, limited to ``keep`` passages.

    Args:
        inner: one half of the hybrid retriever (dense or BM25).
        lexicon: everyday → legal terms appended to questions (``None``: none).
        keep: whether a passage id may answer a question (``None``: every passage).
        asked: how a query is recognised as a question.
    """

    def __init__(self, inner: Retriever, lexicon: Lexicon | None = None, keep: Callable[[str], bool] | None = None,
                 asked: Callable[[str], bool] = is_question) -> None:
        self.inner, self.lexicon, self.keep, self.asked = inner, lexicon, keep, asked
        self.name = inner.name

    def __getattr__(self, name: str):  # encode_queries, index, ... of the wrapped retriever
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        queries = list(queries)
        asked = [i for i, q in enumerate(queries) if self.asked(q)]
        if not asked or (self.lexicon is None and self.keep is None):
            return self.inner.rank(queries, k)
        out: list[Ranking | None] = [None] * len(queries)
        plain = [i for i in range(len(queries)) if i not in set(asked)]
        if plain:
            for i, r in zip(plain, self.inner.rank([queries[i] for i in plain], k), strict=True):
                out[i] = r
        texts = [self.lexicon.expand(queries[i]) if self.lexicon else queries[i] for i in asked]
        for i, r in zip(asked, self._kept(texts, k), strict=True):
            out[i] = r
        return out  # type: ignore[return-value]

    def _kept(self, texts: list[str], k: int) -> list[Ranking]:
        if self.keep is None:
            return self.inner.rank(texts, k)
        rows = getattr(self.keep, "rows", None)  # the kept passages as a row mask: searched alone where the
        if rows is not None and hasattr(self.inner, "rank_kept"):  # retriever can (dense flat, BM25)
            ranked = self.inner.rank_kept(texts, k, rows)
            if ranked is not None:
                return ranked
        out: list[Ranking] = [[] for _ in texts]
        pending, depth = list(range(len(texts))), 4 * k
        drop = getattr(self.keep, "excluded", None)  # a set: no call per passage
        while pending:  # read deeper, for the questions still short of k kept passages, until the list runs out
            short = []
            for i, ranked in zip(pending, self.inner.rank([texts[i] for i in pending], depth), strict=True):
                out[i] = ([(pid, s) for pid, s in ranked if pid not in drop] if drop is not None
                          else [(pid, s) for pid, s in ranked if self.keep(pid)])[:k]
                if len(out[i]) < k and len(ranked) == depth and depth < 64 * k:
                    short.append(i)
            pending, depth = short, depth * 4
        return out
