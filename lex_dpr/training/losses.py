"""MultipleNegativesRankingLoss that does not punish the model for ranking a true positive high.

Only ~1,400 distinct articles are positives in the shared data, so in a batch of 1,024 the passage
of another row is often also a positive of this query (민법 제750조 is cited everywhere). The
NO_DUPLICATES sampler keeps identical texts apart, but not a query's *other* positives; this loss
masks those logits using the passage indices in the ``label`` column (see training/data.py).
"""

from __future__ import annotations

import torch
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.util import cos_sim


class MaskedMultipleNegativesRankingLoss(MultipleNegativesRankingLoss):
    """MNRL (query→document, cosine × scale) with a false-negative mask.

    ``labels[i]`` = [own positive idx, own negative idx × n, all positive idx of query i, padded with -1].
    """

    def __init__(self, model, scale: float = 20.0, n_negatives: int = 0, mask: bool = True) -> None:
        super().__init__(model, scale=scale, similarity_fct=cos_sim)
        self.n_negatives = n_negatives
        self.mask = mask

    def forward(self, sentence_features, labels: torch.Tensor | None = None) -> torch.Tensor:
        reps = [self.model(f)["sentence_embedding"] for f in sentence_features]
        queries, docs = reps[0], torch.cat(reps[1:])
        scores = cos_sim(queries, docs) * self.scale
        batch = queries.size(0)
        if self.mask and labels is not None:
            scores = scores.masked_fill(false_negative_mask(labels, batch, self.n_negatives), float("-inf"))
        target = torch.arange(batch, device=scores.device)
        return torch.nn.functional.cross_entropy(scores, target)


def false_negative_mask(labels: torch.Tensor, batch: int, n_negatives: int) -> torch.Tensor:
    """[batch, batch × (1 + n)] booleans: column is a positive of the row's query, but not its own target.

    Columns are ordered like ``torch.cat(docs)``: all rows' positives, then all rows' negative_1, ...
    """
    labels = labels.to(torch.long)
    column_ids = labels[:, : 1 + n_negatives].T.reshape(-1)
    query_positives = labels[:, 1 + n_negatives:]
    mask = (column_ids[None, :, None] == query_positives[:, None, :]) & (query_positives[:, None, :] >= 0)
    mask = mask.any(-1)
    own = torch.arange(batch, device=labels.device)
    mask[own, own] = False
    return mask
