"""Tell a law, an administrative rule and a precedent apart by their JSON content."""

from __future__ import annotations

from enum import Enum
from typing import Any


class SourceKind(str, Enum):
    LAW = "law"
    ADMIN = "admin"
    PREC = "prec"


_PREC_KEYS = {"판례일련번호", "판시사항", "판결요지", "참조조문", "사건번호"}


def detect_kind(doc: Any) -> SourceKind | None:
    """Return the document's kind, or None when the layout is unknown.

    Example:
        >>> detect_kind({"법령": {"기본정보": {}}})
        <SourceKind.LAW: 'law'>
    """
    if not isinstance(doc, dict):
        return None
    if "법령" in doc:
        return SourceKind.LAW
    if "AdmRulService" in doc:
        return SourceKind.ADMIN
    if "PrecService" in doc or len(_PREC_KEYS & doc.keys()) >= 2:
        return SourceKind.PREC
    return None
