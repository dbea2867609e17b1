"""A static model that reads Kiwi content morphemes instead of raw text, or both (``model.text_form``).

Korean glues particles and endings to its stems: "주웠는데", "주운", "줍고" are one verb, 줍다, and a WordPiece
vocabulary learnt from raw text gives each form its own pieces. Read as the content morphemes BM25 already
uses (lemmas; particles and endings dropped), a question in everyday words and the article that answers it
share more tokens. Measured on the shared data with the default config (``bench/bench_quality.py``, an index of
each model, ``rag tune --questions`` on each): the model alone, plain-language test questions Recall@6 0.2611 →
0.3842; the whole default path 0.5821 → 0.5862 (the lexicon and the reranker already bridge most of it), valid
nDCG@10 0.8453 → 0.8112. So it is an option, not the default.

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
    """What a static model reads: the text, its Kiwi content morphemes, or both (the text, a line break, then
    its morphemes: one bag of tokens with both views)."""

    TEXT = "text"
    MORPHEMES = "morphemes"
    BOTH = "both"


def as_morphemes(texts: Sequence[str], memo: dict[str, str] | None = None,
                 form: TextForm | str = TextForm.MORPHEMES) -> list[str]:
    """Each text as its content morphemes joined by spaces (a text with none, such as punctuation or emoji, stays
    as it is); with ``form="both"``, the text followed by a line with its morphemes.

    Example:
        >>> as_morphemes(["길에서 지갑을 주웠어요", "?!"])
        ['길 지갑 줍', '?!']
        >>> as_morphemes(["지갑을 주웠어요"], form="both")
        ['지갑을 주웠어요\\n지갑 줍']
    """
    from lex_dpr.data.tokenize import tokenize_many

    both = TextForm(form) is TextForm.BOTH
    if memo is None:
        return [(f"{x}\n{' '.join(t)}" if both else " ".join(t)) if t else x
                for t, x in zip(tokenize_many(list(texts)), texts, strict=True)]
    missing = list(dict.fromkeys(t for t in texts if t not in memo))
    if missing:
        memo.update(zip(missing, as_morphemes(missing, form=form), strict=True))
    return [memo[t] for t in texts]


class MorphemeTokenizer:
    """A ``tokenizers.Tokenizer`` that first turns each text into its morphemes. With a ``memo`` dict, every text's
    morphemes are kept in it for the object's life (training sees the same passages every epoch); otherwise
    Kiwi's own memo for small batches applies. Everything but ``encode``/``encode_batch`` is delegated, so saving
    writes the real tokenizer."""

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
        both = self.form is TextForm.BOTH
        taken = 0
        for text, toks in zip(texts, morphemes, strict=True):
            if toks is not None:
                self._memo[text] = (f"{text}\n{' '.join(toks)}" if both else " ".join(toks)) if toks else text
                taken += 1
        return taken

    def encode_batch(self, inputs, add_special_tokens: bool = True, **kwargs):
        return self._tokenizer.encode_batch(as_morphemes(list(inputs), self._memo, self.form),
                                            add_special_tokens=add_special_tokens, **kwargs)

    def encode(self, text: str, *args, **kwargs):
        return self._tokenizer.encode(as_morphemes([text], self._memo, self.form)[0], *args, **kwargs)

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
