"""The embedded default encoder: a StaticEmbedding over a WordPiece vocabulary learnt from your own corpus.

Needs no download, trains in minutes on a CPU, and is what the README's main job and the tests run.

Example:
    >>> model = build_static_model(["제750조(불법행위의 내용) 고의 또는 과실로 인한 위법행위로"] * 3,
    ...                            vocab_size=500, embedding_dim=16, max_seq_length=64, seed=0)
    >>> model.encode(["불법행위"]).shape
    (1, 16)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def train_wordpiece(texts: Sequence[str], vocab_size: int):
    """A BERT-style WordPiece tokenizer (NFKC, split on spaces and punctuation) trained on ``texts``.

    The same texts always give the same tokenizer. tokenizers' trainer numbers the "##" continuation
    pieces in hash-map order and breaks ties between equally frequent merges by those numbers
    (huggingface/tokenizers#1794), so the vocabulary changes from run to run. Declaring every
    continuation piece up front, in sorted order, fixes their numbers and so the merges.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    chars = sorted({c for t in texts for c in normalizer.normalize_str(t) if not c.isspace()})
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, show_progress=False,
                                        special_tokens=["[UNK]", *(f"##{c}" for c in chars)])
    trained = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trained.normalizer = normalizer
    trained.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trained.train_from_iterator(texts, trainer=trainer)
    # Rebuild without the declared pieces as "special" tokens, numbered in sorted order.
    vocab = sorted(trained.get_vocab(), key=lambda t: (t != "[UNK]", t))
    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def build_static_model(texts: list[str], vocab_size: int, embedding_dim: int, max_seq_length: int, seed: int):
    """A randomly initialised SentenceTransformer([StaticEmbedding]) whose vocabulary comes from ``texts``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    tokenizer = train_wordpiece(texts, vocab_size)
    tokenizer.enable_truncation(max_seq_length)
    torch.manual_seed(seed)
    module = StaticEmbedding(tokenizer, embedding_dim=embedding_dim)
    return SentenceTransformer(modules=[module], device="cpu")


def distill_static_model(teacher: str, embedding_dim: int, max_seq_length: int, trust_remote_code: bool = False):
    """A SentenceTransformer([StaticEmbedding]) whose token vectors come from a transformer, by model2vec's recipe.

    Every token of the teacher's vocabulary goes through the teacher once; the outputs are reduced to
    ``embedding_dim`` by PCA (at most the teacher's width) and weighted by SIF (model2vec's ``distill``). The
    teacher's sentence pooling is followed where its folder says (``1_Pooling/config.json``: CLS → the first
    token's state, mean → the mean). Training then starts from these vectors instead of random ones, so a
    CPU-only static model inherits what a GPU transformer knows (#17: KURE-v1 → static).

    ``teacher`` is a local folder or a hub id already in the cache (HF_HUB_OFFLINE is honoured). Deterministic:
    the same teacher and dimension give the same vectors.
    """
    from model2vec.distill import distill
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    from lex_dpr.errors import InputError
    from lex_dpr.models.run_folder import resolve_model_dir

    if Path(teacher).is_dir():  # a lex-dpr run folder teaches with its final model
        teacher = str(resolve_model_dir(teacher))
    if Path(teacher).is_dir() and not (Path(teacher) / "config.json").is_file():
        raise InputError(f"model.teacher={teacher}: the folder has no config.json; pass a transformers model folder "
                         "(the base of a sentence-transformers model, or one saved with save_pretrained)")
    try:
        distilled = distill(model_name=teacher, pca_dims=embedding_dim, trust_remote_code=trust_remote_code,
                            quantize_to="float32", pooling=_teacher_pooling(teacher))
    except (OSError, ValueError) as exc:
        hint = " (no network? pass a local folder, or set HF_HUB_OFFLINE=0)" if not Path(teacher).exists() else ""
        raise InputError(f"model.teacher={teacher}: cannot load it: {str(exc).splitlines()[0]}{hint}") from None
    except AttributeError as exc:  # e.g. a tokenizer without a fast (Rust) version: model2vec needs its backend
        raise InputError(f"model.teacher={teacher}: model2vec cannot distil it ({exc}); a teacher needs a fast "
                         "tokenizer (tokenizer.json)") from None
    tokenizer = distilled.tokenizer
    tokenizer.enable_truncation(max_seq_length)
    vectors = np.asarray(distilled.embedding, dtype=np.float32)
    if getattr(distilled, "token_mapping", None) is not None:  # a vocabulary-quantised model: one row per token
        vectors = vectors[distilled.token_mapping]
    if getattr(distilled, "weights", None) is not None:  # SIF: model2vec applies them as it encodes; fold them in
        vectors = vectors * np.asarray(distilled.weights, dtype=np.float32)[:, None]
    module = StaticEmbedding(tokenizer, embedding_weights=np.ascontiguousarray(vectors, dtype=np.float32))
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(modules=[module], device="cpu")


def _teacher_pooling(teacher: str) -> str:
    """model2vec's pooling for a sentence-transformers teacher: ``first`` for CLS pooling, else ``mean``."""
    import orjson

    path: Path | None = Path(teacher) / "1_Pooling" / "config.json"
    if not path.is_file() and not Path(teacher).is_dir():
        try:  # a hub id: the file from the cache, or downloaded (HF_HUB_OFFLINE: the cache only)
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(teacher, "1_Pooling/config.json"))
        except Exception:  # not a repo id, no such file, or offline without it: no pooling to read
            path = None
    config = {}
    if path is not None and path.is_file():
        try:
            config = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            config = {}
    pooling = ("first" if config.get("pooling_mode_cls_token") else "last" if config.get("pooling_mode_lasttoken")
               else "mean")
    log.info("model.teacher=%s: distilled with %s pooling%s", teacher, pooling,
             "" if config else " (no 1_Pooling/config.json found)")
    return pooling


class CachedTokenizer:
    """Wraps a ``tokenizers.Tokenizer`` so each distinct text is tokenised once per training run.

    Training sees the same passages every epoch, and tokenising long articles is what a static-model
    step spends most of its time on (bench/bench_train.py). Everything but ``encode_batch`` is delegated,
    so checkpoints save the real tokenizer.
    """

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self._cache: dict[tuple[str, bool], object] = {}

    def encode_batch(self, inputs, add_special_tokens: bool = True):
        missing = list(dict.fromkeys(t for t in inputs if (t, add_special_tokens) not in self._cache))
        if missing:
            for text, enc in zip(missing, self._tokenizer.encode_batch(missing, add_special_tokens=add_special_tokens),
                                 strict=True):
                self._cache[(text, add_special_tokens)] = enc
        return [self._cache[(t, add_special_tokens)] for t in inputs]

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_tokenizer", "_cache"):  # copy/pickle before __init__ ran
            raise AttributeError(name)
        return getattr(self._tokenizer, name)


def cache_tokenization(model) -> object | None:
    """Install a :class:`CachedTokenizer` on a static model; returns the original tokenizer (or None)."""
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    module = model[0]
    if not isinstance(module, StaticEmbedding) or isinstance(module.tokenizer, CachedTokenizer):
        return None
    original = module.tokenizer
    module.tokenizer = CachedTokenizer(original)
    return original


STATIC_MODULE = "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding"


def is_static_folder(folder) -> bool:
    """A saved static model: one ``StaticEmbedding`` module (what ``train`` writes for ``model.name=static``)."""
    import orjson

    path = Path(folder) / "modules.json"
    try:
        modules = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    return (isinstance(modules, list) and len(modules) == 1 and isinstance(modules[0], dict)
            and modules[0].get("type") == STATIC_MODULE and modules[0].get("path", "") == ""
            and (Path(folder) / "model.safetensors").is_file() and (Path(folder) / "tokenizer.json").is_file())


class NumpyStaticEncoder:
    """A saved static model run with numpy and ``tokenizers`` alone: the vectors sentence-transformers gives
    (the mean of the token embeddings, as ``StaticEmbedding``'s EmbeddingBag computes it), without importing
    torch or sentence-transformers (about 12 s on a 2-core machine). ``rag`` and ``index`` open static models
    with it; ``tests/models/test_static_numpy.py`` checks the vectors against sentence-transformers'.

    Example:
        >>> enc = NumpyStaticEncoder.load("out/sample/run/bi_encoder/final")  # doctest: +SKIP
        >>> enc.encode_query(["불법행위"]).shape  # doctest: +SKIP
        (1, 512)
    """

    def __init__(self, weights: np.ndarray, tokenizer, prompts: dict[str, str] | None = None) -> None:
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.prompts = dict(prompts or {})

    @classmethod
    def load(cls, folder) -> NumpyStaticEncoder:
        import orjson
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        weights = load_file(str(folder / "model.safetensors"))["embedding.weight"]
        prompts = {}
        config = folder / "config_sentence_transformers.json"
        if config.is_file():
            prompts = orjson.loads(config.read_bytes()).get("prompts") or {}
        return cls(weights, Tokenizer.from_file(str(folder / "tokenizer.json")), prompts)

    def get_embedding_dimension(self) -> int:
        return int(self.weights.shape[1])

    get_sentence_embedding_dimension = get_embedding_dimension  # the name before sentence-transformers 6

    def encode(self, texts: Sequence[str], prompt: str | None = None, normalize_embeddings: bool = False,
               **_: object) -> np.ndarray:
        texts = [prompt + t for t in texts] if prompt else list(texts)
        out = np.zeros((len(texts), self.weights.shape[1]), dtype=np.float32)
        for i, enc in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = enc.ids  # a new list at each read of a tokenizers Encoding
            if ids:
                out[i] = self.weights[ids].mean(axis=0, dtype=np.float32)
        if normalize_embeddings:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.maximum(norms, 1e-12)  # torch.nn.functional.normalize's eps
        return out

    def encode_query(self, texts: Sequence[str], **kwargs) -> np.ndarray:
        return self.encode(texts, prompt=self.prompts.get("query") or None, **kwargs)

    def encode_document(self, texts: Sequence[str], **kwargs) -> np.ndarray:
        return self.encode(texts, prompt=self.prompts.get("document") or None, **kwargs)
