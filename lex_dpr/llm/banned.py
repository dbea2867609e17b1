"""Banned strings and token ids: what each backend blocks while generating, and the check after it.

A string is blocked as token sequences (``bad_words_ids``): its tokens on their own and after a space,
since BPE vocabularies spell a word differently at the start of a line and after a space. Tokenizers can
still spell a string another way, so :func:`strip_banned` removes what slipped through from the answer.

Example:
    >>> strip_banned("답변 <image>입니다<image>", ["<image>"])
    '답변 입니다'
    >>> strip_banned("그대로", [])
    '그대로'
"""

from __future__ import annotations

from collections.abc import Sequence


def strip_banned(text: str, banned: Sequence[str]) -> str:
    """``text`` without any occurrence of the non-empty strings in ``banned`` (longest first)."""
    for word in sorted((b for b in banned if b), key=len, reverse=True):
        text = text.replace(word, "")
    return text


def bad_words_ids(tokenizer, strings: Sequence[str], token_ids: Sequence[int]) -> list[list[int]]:
    """Token sequences for transformers' ``bad_words_ids``: each string plain and after a space, each id alone.

    Sequences are de-duplicated and keep their first order; empty strings are skipped.
    """
    seen: dict[tuple[int, ...], None] = {}
    for word in strings:
        if not word:
            continue
        for variant in (word, " " + word):
            ids = tuple(tokenizer.encode(variant, add_special_tokens=False))
            if ids:
                seen.setdefault(ids, None)
    for token_id in token_ids:
        seen.setdefault((int(token_id),), None)
    return [list(ids) for ids in seen]
