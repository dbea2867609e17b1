"""Articles a query names outright: "상법 제395조가 적용되는지", "같은 법 제47조에 근거하여".

A 판시사항 often names the provision it turns on, and a user who knows the article asks for it by number; no
retriever ranks an article by its number (BM25 sees "395" as one token among many, a static model not at all).
:class:`CitationFinder` reads such citations from free text against the corpus's own law and rule names
(their titles and 법령명약칭), and :class:`CitedFirst` puts the cited passages first in a retriever's ranking.

What a citation is, in free text:

- a law or rule name of the corpus (spacing-insensitive; a name of two letters, such as 민법 or 상법, only
  after a non-Hangul character, so 국가배상법 is not 상법) then ``제N조``, ``제N조의M`` or a rule's ``제N-M조``; a parenthesis between
  them (구 민법(2011. 3. 7. 법률 제10429호로 개정되기 전의 것) 제5조) is skipped, and an old law (구 민법) is
  read as the current one, as ``make-pairs`` resolves 참조조문 by default;
- more articles of the same law after it, joined by commas, 및, 또는, 내지, 항/호/목 (민법 제750조, 제751조);
- 같은 법 / 동법 then an article: the law named last;
- a law's 시행령 or 시행규칙 that is not in the corpus cites nothing (its articles are not the law's).

Example:
    >>> finder = CitationFinder.from_records([
    ...     {"id": "L_750", "type": "law", "title": "민법", "article": "제750조"},
    ...     {"id": "L_751", "type": "law", "title": "민법", "article": "제751조"},
    ...     {"id": "S_395", "type": "law", "title": "상법", "article": "제395조"}])
    >>> finder.find("민법 제750조, 제751조에 따른 손해배상의 범위")
    ['L_750', 'L_751']
    >>> finder.find("국가배상법 제395조")  # not 상법
    []
    >>> finder.find("상법상 표현대표이사에 관하여 같은 법 제395조가 적용되는지")
    ['S_395']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from lex_dpr.retrieval.base import Ranking, Retriever
from lex_dpr.utils.text import law_name_key

_MAY_CITE = re.compile(r"\d\s*조")  # no article number, no citation: the quick test before the full reading
_ARTICLE = re.compile(r"제\s*\d+(?:\s*-\s*\d+)?\s*조(?:\s*의\s*\d+)?")
_SAME_LAW = re.compile(r"(?:같은|동)\s*법")
_DECREE = re.compile(r"\s*시행\s*(?:령|규칙)")
# what may stand between a law (or one of its articles) and the next article of the same law
_JOIN = re.compile(r"(?:[\s,·ㆍ/~\-]|및|또는|내지|부터|까지|단서|본문|전단|후단|각\s*호|"
                   r"제\s*\d+\s*(?:항|호)(?:\s*의\s*\d+)?|[가-하]\s*목)*")
_OPEN, _CLOSE = "([〔【", ")]〕】"


def _blank_parentheses(text: str) -> str:
    """``text`` with every bracketed part (nested, or open to the end) replaced by spaces of the same length."""
    out, depth = [], 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
            out.append(" ")
            continue
        out.append(" " if depth else ch)
    return "".join(out)


class CitationFinder:
    """Finds the passages a text cites by law name and article number.

    Args:
        articles: law-name key (:func:`~lex_dpr.utils.text.law_name_key`) → article label (제750조,
            제23조의2) → passage ids of that article, in corpus order.
    """

    def __init__(self, articles: dict[str, dict[str, list[str]]]) -> None:
        self.articles = articles
        self._names: dict[str, str] = {}  # a name's key → the articles key it stands for
        self._pattern: re.Pattern[str] | None = None
        self._trie: dict | None = None

    @classmethod
    def from_records(cls, records: Iterable[dict], types: Sequence[str] = ("law", "admin")) -> CitationFinder:
        """From corpus records: each law/admin passage's ``title`` (and ``meta.법령명약칭``) and ``article``."""
        articles: dict[str, dict[str, list[str]]] = {}
        aliases: dict[str, str] = {}
        for rec in records:
            title, article = rec.get("title"), rec.get("article")
            if rec.get("type") not in types or not isinstance(title, str) or not isinstance(article, str):
                continue
            meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
            if meta.get("appendix"):
                continue
            key = law_name_key(title)
            if not key:
                continue
            articles.setdefault(key, {}).setdefault(article.replace(" ", ""), []).append(str(rec["id"]))
            short = meta.get("법령명약칭")
            if isinstance(short, str) and law_name_key(short):
                aliases.setdefault(law_name_key(short), key)
        finder = cls(articles)
        finder._names = {**aliases, **{k: k for k in articles}}
        return finder

    @property
    def pattern(self) -> re.Pattern[str]:
        """The names as one regular expression: what :meth:`name_spans` finds, the way a regex engine reads it (the
        definition the tests hold the trie to; at a million passages of many laws it took 4 s to compile)."""
        if self._pattern is None:
            alternatives = []
            for key in sorted(self._names, key=lambda k: (-len(k), k)):  # longest first: 민법 시행령 before 민법
                body = r"\s*".join(re.escape(c) for c in key)
                alternatives.append(f"(?<![가-힣]){body}" if len(key) <= 2 else body)
            self._pattern = re.compile("|".join(alternatives) or r"(?!)")
        return self._pattern

    def name_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where ``text`` names a law or rule of the corpus: (start, end, name key), left to right, the longest name
        at each place, whitespace allowed between its letters, a name of two letters or fewer only after a
        non-Hangul character (as :attr:`pattern` matches). A walk down a letter trie of the names."""
        if self._trie is None:
            trie: dict = {}
            for key in self._names:
                node = trie
                for ch in key:
                    node = node.setdefault(ch, {})
                node[None] = key  # a name ends here
            self._trie = trie
        out, i, n = [], 0, len(text)
        while i < n:
            node, j, best = self._trie.get(text[i]), i + 1, None
            while node is not None:
                key = node.get(None)
                if key is not None and (len(key) > 2 or i == 0 or not "가" <= text[i - 1] <= "힣"):
                    best = (j, key)
                k = j
                while k < n and text[k].isspace():
                    k += 1
                if k >= n:
                    break
                node, j = node.get(text[k]), k + 1
            if best is None:
                i += 1
            else:
                out.append((i, best[0], best[1]))
                i = best[0]
        return out

    def find(self, text: str) -> list[str]:
        """The passage ids ``text`` cites, in the order it cites them, without repeats."""
        if not _MAY_CITE.search(text):
            return []
        blank = _blank_parentheses(text)
        tokens: list[tuple[int, int, str, str | None]] = []  # start, end, kind, law key
        for start, end, name in self.name_spans(blank):
            key = self._names.get(name)
            decree = _DECREE.match(blank, end)
            tokens.append((start, decree.end() if decree else end, "law", None if decree else key))
        tokens += [(m.start(), m.end(), "same", None) for m in _SAME_LAW.finditer(blank)]
        tokens += [(m.start(), m.end(), "article", law_name_key(m.group())) for m in _ARTICLE.finditer(blank)]
        tokens.sort(key=lambda t: (t[0], -t[1]))
        out: dict[str, None] = {}
        named: str | None = None  # the law named last (for 같은 법)
        law: str | None = None  # the law an article right here belongs to
        end = -1
        for start, stop, kind, key in tokens:
            if start < end:  # inside an earlier token (a name within a longer match)
                continue
            if kind == "law":
                named = law = key
            elif kind == "same":
                law = named
            elif law is not None and _JOIN.fullmatch(blank, end, start):
                out.update((pid, None) for pid in self.articles.get(law, {}).get(key or "", ()))
            else:
                law = None
            end = stop
        return list(out)


class CitedFirst:
    """``inner``'s ranking with the passages a query cites (:class:`CitationFinder`) moved to the top, in the
    order cited, scored as the ranking's best; everything else keeps its order. Attributes other than ``rank``
    and ``name`` are ``inner``'s (``first``, ``second``, ``reranker`` of a fused retriever)."""

    def __init__(self, inner: Retriever, records: Sequence[dict] | CitationFinder) -> None:
        self.inner, self._source = inner, records
        self._finder = records if isinstance(records, CitationFinder) else None
        self.name = inner.name

    @property
    def finder(self) -> CitationFinder:
        """Built from the corpus records at the first query that may cite (0.1 s for the shared corpus)."""
        if self._finder is None:
            self._finder = CitationFinder.from_records(self._source)  # type: ignore[arg-type]
        return self._finder

    def __getattr__(self, name: str):
        if name in ("inner", "_source", "_finder"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        rankings = self.inner.rank(queries, k)
        return [self.promote(q, r, k) for q, r in zip(queries, rankings, strict=True)]

    def promote(self, query: str, ranking: Ranking, k: int) -> Ranking:
        cited = self.finder.find(query) if _MAY_CITE.search(query) else []
        if not cited:
            return ranking
        top = ranking[0][1] if ranking else 1.0
        first = set(cited)
        return ([(pid, top) for pid in cited] + [(pid, s) for pid, s in ranking if pid not in first])[:k]
