"""A static model that reads Kiwi content morphemes instead of raw text, or both (``model.text_form``).

Korean glues particles and endings to its stems: "주웠는데", "주운", "줍고" are one verb, 줍다, and a WordPiece
vocabulary learnt from raw text gives each form its own pieces. Read as the content morphemes BM25 already
uses (lemmas; particles and endings dropped), a question in everyday words and the article that answers it
share more tokens. Measured on the shared data with the shipped config (``bench/bench_quality.py``, an index of
each model, ``rag tune --questions`` on each; docs/index-and-rag.md): ``morphemes`` alone lifts the model alone on
plain-language test questions (Recall@6 0.2611 → 0.3842) but costs valid nDCG@10 on the whole path (0.8453 →
0.8112); ``both`` keeps valid at 0.8419 and lifts held-out articles 0.4444 → 0.4658, and is the shipped config's.

The morphemes are made inside the model's tokenizer (:class:`MorphemeTokenizer` wraps the ``tokenizers``
object a ``StaticEmbedding`` or :class:`~lex_dpr.models.static.NumpyStaticEncoder` calls), so every path that
encodes (training, its evaluator, ``eval``, ``index``, ``rag``, ``serve``) gives the model the same input. The
saved folder stays a plain ``StaticEmbedding``; ``lexdpr_model.json`` says ``"text_form": "morphemes"`` (or
``"both"``) and
:func:`~lex_dpr.models.loading.load_encoder` installs the wrapper. (Loaded with sentence-transformers alone it
would read raw text: load it with lex-dpr.)
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class TextForm(StrEnum):
    """What a static model reads: the text, its Kiwi content morphemes, or both (the text and its morphemes,
    each up to the token limit, in one bag of tokens)."""

    TEXT = "text"
    MORPHEMES = "morphemes"
    BOTH = "both"


def morphemes_of(texts: Sequence[str], memo: dict[str, str] | None = None) -> list[str]:
    """Each text's content morphemes joined by spaces ("" for a text with none, such as punctuation or emoji); with
    a ``memo``, each distinct text goes through Kiwi once for the memo's life.

    Example:
        >>> morphemes_of(["길에서 지갑을 주웠어요", "?!"])
        ['길 지갑 줍', '']
    """
    from lex_dpr.data.tokenize import tokenize_many

    if memo is None:
        return [" ".join(t) for t in tokenize_many(list(texts))]
    missing = list(dict.fromkeys(t for t in texts if t not in memo))
    if missing:
        memo.update(zip(missing, morphemes_of(missing), strict=True))
    return [memo[t] for t in texts]


def remember(memo: dict[str, str], texts: Sequence[str], morphemes: Sequence[list[str] | None]) -> int:
    """Put texts whose morphemes are already known (make-pairs' Kiwi cache) into ``memo``; returns how many.

    Example:
        >>> memo = {}
        >>> remember(memo, ["a", "b"], [["x", "y"], None]), memo
        (1, {'a': 'x y'})
    """
    taken = 0
    for text, toks in zip(texts, morphemes, strict=True):
        if toks is not None:
            memo[text] = " ".join(toks)
            taken += 1
    return taken


def as_morphemes(texts: Sequence[str], memo: dict[str, str] | None = None,
                 form: TextForm | str = TextForm.MORPHEMES) -> list[str]:
    """Each text as one string of what a model of ``form`` reads: its morphemes (the text itself when it has
    none), or with ``both`` the text and a line of its morphemes (what the vocabulary is learnt from; the model
    reads the two halves apart, each up to its token limit: :class:`MorphemeTokenizer`).

    Example:
        >>> as_morphemes(["길에서 지갑을 주웠어요", "?!"])
        ['길 지갑 줍', '?!']
        >>> as_morphemes(["지갑을 주웠어요", "?!"], form="both")
        ['지갑을 주웠어요\\n지갑 줍', '?!']
    """
    both = TextForm(form) is TextForm.BOTH
    return [(f"{x}\n{m}" if both else m) if m else x
            for x, m in zip(texts, morphemes_of(texts, memo), strict=True)]


class Joined:
    """Two encodings' ids one after the other: what a static model reads (its mean of token vectors). ``tokens``
    is built when asked for (nothing that encodes does: making the strings cost 0.56 s of a 4.7 s index build)."""

    __slots__ = ("ids", "_halves")

    def __init__(self, first, second) -> None:
        self.ids = first.ids + second.ids
        self._halves = (first, second)

    @property
    def tokens(self) -> list[str]:
        return [*self._halves[0].tokens, *self._halves[1].tokens]

    def __len__(self) -> int:
        return len(self.ids)


class MorphemeTokenizer:
    """A ``tokenizers.Tokenizer`` that first turns each text into its morphemes, or (``both``) reads the text and its
    morphemes as two halves, each truncated on its own (a long article keeps its morphemes), their tokens joined
    into one list. With a ``memo`` dict, every text's morphemes are kept in it for the object's life (training
    sees the same passages every epoch); otherwise Kiwi's own memo for small batches applies. Everything but
    ``encode``/``encode_batch`` is delegated, so saving writes the real tokenizer."""

    def __init__(self, tokenizer, memo: dict[str, str] | None = None,
                 form: TextForm | str = TextForm.MORPHEMES) -> None:
        self._tokenizer = tokenizer
        self._memo = memo
        self.form = TextForm(form)

    def prime(self, texts: Sequence[str], morphemes: Sequence[list[str] | None]) -> int:
        """Remember texts whose morphemes are already known (an index build borrows make-pairs' Kiwi cache), so
        Kiwi skips them; returns how many were taken. ``None`` entries are left to Kiwi."""
        if self._memo is None:
            self._memo = {}
        return remember(self._memo, texts, morphemes)

    def known(self, texts: Sequence[str]) -> list[str | None]:
        """The remembered morphemes (joined) of ``texts``, None where there are none: what a spawned encoding
        worker is handed with its shard (:meth:`teach`), so Kiwi does not run again there."""
        memo = self._memo or {}
        return [memo.get(t) for t in texts]

    def teach(self, texts: Sequence[str], joined: Sequence[str | None]) -> None:
        """Remember what :meth:`known` gave (None entries are left to Kiwi)."""
        if self._memo is None:
            self._memo = {}
        self._memo.update((t, m) for t, m in zip(texts, joined, strict=True) if m is not None)

    def forget(self) -> None:
        """Drop the remembered morphemes (an index build's passages, once they are encoded)."""
        if self._memo is not None:
            self._memo = {}

    def encode_batch(self, inputs, add_special_tokens: bool = True, **kwargs):
        inputs = list(inputs)
        if self.form is not TextForm.BOTH:
            return self._tokenizer.encode_batch(as_morphemes(inputs, self._memo, self.form),
                                                add_special_tokens=add_special_tokens, **kwargs)
        morphs = morphemes_of(inputs, self._memo)
        # one call for both halves: tokenizers spreads a batch over its threads, and two calls wait twice
        both = self._tokenizer.encode_batch([*inputs, *(m for m in morphs if m)],
                                            add_special_tokens=add_special_tokens, **kwargs)
        texts, halves = both[:len(inputs)], iter(both[len(inputs):])
        # ids and tokens only: tokenizers' Encoding.merge also joins the halves' overflowing (truncated) parts,
        # pair by pair, which took a training past 24 GB
        return [Joined(t, next(halves)) if m else t for t, m in zip(texts, morphs, strict=True)]

    def encode(self, text: str, *args, **kwargs):
        return self.encode_batch([text], *args, **kwargs)[0]

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_tokenizer", "_memo", "form"):  # copy/pickle before __init__ ran
            raise AttributeError(name)
        return getattr(self._tokenizer, name)


def morpheme_tokenizer(model) -> MorphemeTokenizer | None:
    """The :class:`MorphemeTokenizer` of a static model that reads morphemes, else None."""
    holder = model if hasattr(model, "weights") else (model[0] if hasattr(model, "__getitem__") else None)
    tokenizer = getattr(holder, "tokenizer", None)
    return tokenizer if isinstance(tokenizer, MorphemeTokenizer) else None


def read_morphemes(model, memo: dict[str, str] | None = None, form: TextForm | str = TextForm.MORPHEMES):
    """Make a static model (sentence-transformers' or :class:`~lex_dpr.models.static.NumpyStaticEncoder`) read
    morphemes (or both views); returns it. Installing twice is a no-op."""
    if TextForm(form) is TextForm.TEXT:
        return model
    holder = model if hasattr(model, "weights") else model[0]
    if not isinstance(holder.tokenizer, MorphemeTokenizer):
        holder.tokenizer = MorphemeTokenizer(holder.tokenizer, memo, form)
    return model
