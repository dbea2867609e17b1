"""MultipleNegativesRankingLoss that does not punish the model for ranking a true positive high.

Only ~1,400 distinct articles are positives in the shared data, so in a batch of 1,024 the passage
of another row is often also a positive of this query (민법 제750조 is cited everywhere). The
NO_DUPLICATES sampler keeps identical texts apart, but not a query's *other* positives; this loss
masks those logits using the passage indices in the ``label`` column (see training/data.py).
"""

from __future__ import annotations

import torch
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.util import all_gather, all_gather_with_grad, cos_sim, get_rank, is_dist_initialized


class MaskedMultipleNegativesRankingLoss(MultipleNegativesRankingLoss):
    """MNRL (query→document, cosine × scale) with a false-negative mask.

    ``labels[i]`` = [own positive idx, own negative idx × n, all positive idx of query i, padded with -1].
    """

    def __init__(self, model, scale: float = 20.0, n_negatives: int = 0, mask: bool = True,
                 gather_across_devices: bool = False) -> None:
        super().__init__(model, scale=scale, similarity_fct=cos_sim, gather_across_devices=gather_across_devices)
        self.n_negatives = n_negatives
        self.mask = mask

    def forward(self, sentence_features, labels: torch.Tensor | None = None) -> torch.Tensor:
        reps = [self.model(f)["sentence_embedding"] for f in sentence_features]
        queries, docs = reps[0], reps[1:]
        batch = queries.size(0)
        offset, columns = 0, labels
        if self.gather_across_devices and is_dist_initialized():
            # every rank's passages (with gradients back to their rank, as sentence-transformers' MNRL does), this
            # rank's queries; the mask reads the gathered passages' ids (ranks hold batches of one size under DDP)
            docs = [all_gather_with_grad(d) for d in docs]
            if labels is not None:
                columns = all_gather(labels[:, : 1 + self.n_negatives].contiguous())
            offset = get_rank() * batch
        scores = cos_sim(queries, torch.cat(docs)) * self.scale
        if self.mask and labels is not None:
            scores = scores.masked_fill(false_negative_mask(labels, batch, self.n_negatives, columns, offset),
                                        float("-inf"))
        target = torch.arange(offset, offset + batch, device=scores.device)
        return torch.nn.functional.cross_entropy(scores, target)


def false_negative_mask(labels: torch.Tensor, batch: int, n_negatives: int, columns: torch.Tensor | None = None,
                        offset: int = 0) -> torch.Tensor:
    """[batch, columns × (1 + n)] booleans: column is a positive of the row's query, but not its own target.

    Columns are ordered like ``torch.cat(docs)``: all rows' positives, then all rows' negative_1, ...; with
    ``columns`` (the labels' first 1 + n columns of every rank, gathered) they are every rank's, and row i's own
    target is column ``offset + i``.
    """
    labels = labels.to(torch.long)
    columns = labels if columns is None else columns.to(torch.long)
    column_ids = columns[:, : 1 + n_negatives].T.reshape(-1)
    query_positives = labels[:, 1 + n_negatives:]
    mask = (column_ids[None, :, None] == query_positives[:, None, :]) & (query_positives[:, None, :] >= 0)
    mask = mask.any(-1)
    own = torch.arange(batch, device=labels.device)
    mask[own, own + offset] = False
    return mask
