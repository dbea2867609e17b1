"""Which generated questions are kept: Korean, not a duplicate, not a near-duplicate of one kept earlier.

Near-duplicates are found by the Jaccard similarity of character n-gram sets (shingles) of the normalised
text. :class:`NearDuplicateIndex` keeps an inverted index over a *prefix* of each set (prefix filtering,
as in AllPairs, Bayardo et al. 2007): two sets with Jaccard >= t must share one of the first
``|x| - ceil(t * |x|) + 1`` shingles of each in any fixed global order. With the rarest shingles first,
only a few short postings are read per question instead of every question sharing a common shingle such
as "인가요". Frequencies are not known in advance, so the order is frozen from the kept questions and the
index rebuilt under the new order each time it doubles. Candidates are verified exactly, so the answer
is the same as comparing against every kept question (``bench/bench_synth.py`` checks that and times both).

Example:
    >>> f = QuestionFilter(threshold=0.75)
    >>> [f.check(q) for q in ["근로자란 무엇인가요?", "근로자란  무엇인가요 ?", "What is a worker?",
    ...                       "근로기준법에서 말하는 근로자란 무엇인가요?", "근로기준법에서 말하는 근로자란 무엇인가요??"]]
    ['ok', 'duplicate', 'not_korean', 'ok', 'duplicate']
    >>> f.check("근로기준법에서 말하는 근로자란 무엇인지요?"), f.check("근로기준법에서 말하는 사용자란 무엇인가요?")
    ('near_duplicate', 'ok')
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from lex_dpr.utils.hashing import blake2b_digest
from lex_dpr.utils.text import normalize_query

# What a check says about one question; "ok" is kept, every other is a reason to drop it.
REASONS = ("ok", "unparsed", "not_korean", "duplicate", "near_duplicate", "error")

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")


def is_korean(text: str, min_share: float = 0.6, min_hangul: int = 4) -> bool:
    """True when at least ``min_hangul`` Hangul syllables make up ``min_share`` of the letters.

    Example:
        >>> is_korean("전자금융업 등록 요건은?"), is_korean("What is 등록?"), is_korean("KYC 절차는 어떻게 되나요?")
        (True, False, True)
    """
    hangul = len(_HANGUL.findall(text))
    letters = len(_LETTER.findall(text))
    return hangul >= min_hangul and hangul >= min_share * letters


def shingles(text: str, n: int = 3) -> set[str]:
    """The character ``n``-grams of the normalised text (the whole text when shorter).

    Example:
        >>> sorted(shingles("근로자 뜻?", 3))
        ['근로자', '로자뜻']
    """
    norm = normalize_query(text)
    if len(norm) <= n:
        return {norm} if norm else set()
    return {norm[i:i + n] for i in range(len(norm) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """``|a ∩ b| / |a ∪ b|`` (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _hash(shingle: str) -> bytes:
    """A tie-break that does not depend on Python's per-process hash seed."""
    return blake2b_digest(shingle, 8)


class NearDuplicateIndex:
    """Kept texts' shingle sets, indexed for "is there one with Jaccard >= threshold?".

    Args:
        threshold: the Jaccard similarity from which two texts count as near-duplicates (0 < t <= 1).
        n: shingle length in characters (3 suits short Korean questions).

    Example:
        >>> index = NearDuplicateIndex(threshold=0.6)
        >>> index.add("전자금융업의 등록 요건은 무엇인가요?")
        0
        >>> index.find("전자금융업 등록 요건은 무엇인가요?"), index.find("과징금은 언제까지 내야 하나요?")
        (0, None)
    """

    def __init__(self, threshold: float = 0.8, n: int = 3) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold {threshold!r} must be in (0, 1]")
        self.threshold, self.n = threshold, n
        self.sets: list[set[str]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._df: dict[str, int] = {}  # the frozen order: rarer among kept texts first (unseen: rarest)
        self._rebuild_at = 64

    def __len__(self) -> int:
        return len(self.sets)

    def _prefix(self, s: set[str]) -> list[str]:
        keep = len(s) - math.ceil(self.threshold * len(s) - 1e-9) + 1
        df = self._df
        return sorted(s, key=lambda x: (df.get(x, 0), _hash(x)))[:keep]

    def find(self, text: str) -> int | None:
        """The index of a kept text at least ``threshold`` similar to ``text``, or None."""
        s = shingles(text, self.n)
        if not s:
            return None
        low, high = self.threshold * len(s), len(s) / self.threshold  # the sizes a match can have
        seen: set[int] = set()
        for shingle in self._prefix(s):
            for i in self._postings.get(shingle, ()):
                if i in seen:
                    continue
                seen.add(i)
                if low - 1e-9 <= len(self.sets[i]) <= high + 1e-9 and jaccard(s, self.sets[i]) >= self.threshold:
                    return i
        return None

    def add(self, text: str) -> int:
        """Keep ``text``; returns its index."""
        s = shingles(text, self.n)
        i = len(self.sets)
        self.sets.append(s)
        if len(self.sets) >= self._rebuild_at:
            self._rebuild()
        else:
            for shingle in self._prefix(s) if s else ():
                self._postings[shingle].append(i)
        return i

    def _rebuild(self) -> None:
        """Freeze the order from the kept sets' shingle frequencies and index every set's prefix under it."""
        df: dict[str, int] = defaultdict(int)
        for s in self.sets:
            for shingle in s:
                df[shingle] += 1
        self._df = dict(df)
        self._postings = defaultdict(list)
        for i, s in enumerate(self.sets):
            for shingle in self._prefix(s) if s else ():
                self._postings[shingle].append(i)
        self._rebuild_at = 2 * len(self.sets)


class QuestionFilter:
    """Exact (after :func:`normalize`) and near-duplicate detection plus the Korean check, in one place.

    :meth:`check` keeps a question (returns "ok") or names the reason it is dropped; :meth:`keep`
    registers a question kept elsewhere (a resumed run's earlier output) without checking it.
    """

    def __init__(self, threshold: float = 0.8, n: int = 3, min_chars: int = 6, max_chars: int = 200) -> None:
        self.index = NearDuplicateIndex(threshold, n)
        self.exact: set[str] = set()
        self.min_chars, self.max_chars = min_chars, max_chars

    def check(self, question: str | None) -> str:
        if not question or not self.min_chars <= len(question.strip()) <= self.max_chars:
            return "unparsed"
        if not is_korean(question):
            return "not_korean"
        norm = normalize_query(question)
        if norm in self.exact:
            return "duplicate"
        if self.index.find(question) is not None:
            return "near_duplicate"
        self.keep(question)
        return "ok"

    def keep(self, question: str) -> None:
        self.exact.add(normalize_query(question))
        self.index.add(question)
