"""The two records every lex-dpr file holds: passages and training pairs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

PassageType = Literal["law", "admin", "prec"]


@dataclass
class Passage:
    """One retrievable unit: an article (or paragraph) of a law or rule, or a precedent item.

    Example:
        >>> p = Passage(id="LAW_001706_제750조", parent_id="LAW_001706", type="law",
        ...             source_id="001706", title="민법", article="제750조",
        ...             heading="불법행위의 내용", text="제750조(불법행위의 내용) 고의 또는 과실로 ...")
        >>> p.to_dict()["article"]
        '제750조'
    """

    id: str
    parent_id: str
    type: PassageType
    source_id: str
    title: str
    text: str
    article: str = ""
    heading: str = ""
    paragraph: str = ""
    effective_date: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Pair:
    """A training query with its positive passage ids and mined hard negatives."""

    query_id: str
    query_text: str
    positive_passages: list[str]
    hard_negatives: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
