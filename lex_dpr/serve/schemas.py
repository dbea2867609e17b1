"""Request and response bodies of every endpoint (pydantic: a wrong type is a 422 naming the field).

The predecessor's ``/embed/passage``, ``/embed/query`` and ``/health`` bodies are kept field for field
(``texts``, ``normalize``, ``batch_size`` in; ``embeddings``, ``shape``, ``count`` out; ``status``,
``model_loaded``); ``/v1/embeddings`` is OpenAI's embeddings API, so its clients work unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

Mode = Literal["weighted", "rrf", "independent"]
Weight = Annotated[float, Field(ge=0, le=1, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Strict):
    """One question; ``k``, ``retrieval`` and ``weight`` default to the index's tuned settings, as in ``rag ask``."""

    question: StrictStr = Field(description="The question, in Korean.", examples=["불법행위로 인한 손해배상 책임은?"])
    k: StrictInt | None = Field(None, ge=1, description="Passages to return (default: the index's k, 6).")
    retrieval: Mode | None = Field(None, description="weighted, rrf or independent (default: the index's tuned mode).")
    weight: Weight | None = Field(None, description="weighted: the weight on dense scores, 0-1.")


class SearchResult(BaseModel):
    rank: int
    id: str
    law: str
    article: str
    text: str
    score: float = Field(description="The fused score the ranking is by.")
    scores: dict[str, float | None] = Field(description="The dense and BM25 scores fused (None: not in that list's top).")


class SearchResponse(BaseModel):
    question: str
    retrieval: str
    k: int
    results: list[SearchResult]
    flags: list[str] = Field(default_factory=list, description="no_match: no word of the question occurs in the index")


class AnswerRequest(SearchRequest):
    """As :class:`SearchRequest`; the answer is ``rag ask --json``'s."""


class Context(BaseModel):
    id: str
    title: str
    article: str
    score: float
    text: str


class AnswerResponse(BaseModel):
    question: str
    qtype: str = Field(description="The question's type (the prompt it got).")
    contexts: list[Context]
    answer: str
    cited: list[str]
    flags: list[str] = Field(description="no_match, no_context, no_citation, not_korean, empty, refusal, error")
    error: str | None
    rule: str
    settings: dict[str, str]


class EmbedRequest(_Strict):
    texts: list[StrictStr] = Field(description="Texts to embed.", examples=[["민법 제750조 불법행위"]])
    kind: Literal["query", "passage"] = Field("passage", description="query: with the model's query prompt (what "
                                              "/search encodes a question with); passage: as the index stored passages.")
    normalize: StrictBool = Field(True, description="L2-normalise (what the index uses).")


class LegacyEmbedRequest(BaseModel):
    """The predecessor's body; ``batch_size`` is accepted and ignored (the server batches)."""

    texts: list[StrictStr]
    normalize: StrictBool | None = True
    batch_size: StrictInt | None = Field(64, ge=1)


class EmbedResponse(BaseModel):
    embeddings: list[list[float]]
    shape: list[int]
    count: int


class OpenAIEmbeddingRequest(BaseModel):
    """OpenAI's ``POST /v1/embeddings``. ``model`` ending in ``query`` embeds with the query prompt, anything
    else as passages; token-id inputs are refused (send text)."""

    input: StrictStr | list[StrictStr] | list[StrictInt] | list[list[StrictInt]]
    model: StrictStr = "lex-dpr"
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: StrictInt | None = Field(None, ge=1)
    user: StrictStr | None = None


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIUsage


class HealthResponse(BaseModel):
    status: str
    model_loaded: bool
    index: dict
    model: dict
    answerer: str
    retrieval: str
    llm: str
    reloads: int
    loaded_at: float
    lanes: dict = Field(description="Per lane (search, answer, embed): requests answered, batches run, requests "
                                    "dropped because their client left.")


class ErrorResponse(BaseModel):
    error: str
