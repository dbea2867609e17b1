"""Data sources, passage records and the corpus-level tools (merge, validate, stats)."""

from lex_dpr.data.records import Pair, Passage

__all__ = ["Pair", "Passage"]
