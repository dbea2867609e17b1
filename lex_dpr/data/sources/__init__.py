"""Parsers for the law.go.kr Open API JSON layouts: laws, administrative rules, precedents."""

from lex_dpr.data.sources.detect import SourceKind, detect_kind

__all__ = ["SourceKind", "detect_kind"]
