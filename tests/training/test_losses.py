"""The false-negative mask: another row's passage that is also a positive of this query is not a negative."""

import pytest
import torch

from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.training.data import build_examples
from lex_dpr.training.losses import MaskedMultipleNegativesRankingLoss, false_negative_mask

# batch 3, one negative each: labels[i] = [own positive, own negative, all positives of query i, -1 padding]
LABELS = torch.tensor([
    [10, 20, 10, 11, -1],  # query 0 has two positives: 10 (its target) and 11 (row 1's target)
    [11, 21, 11, -1, -1],  # query 1: only 11, which is also row 2's negative
    [12, 11, 12, 10, -1],  # query 2: 12 and 10 (row 0's target); its negative is 11
])
# columns as the loss concatenates them: every row's positive, then every row's negative_1
COLUMNS = [10, 11, 12, 20, 21, 11]


def test_mask_is_true_exactly_at_other_positives():
    mask = false_negative_mask(LABELS, batch=3, n_negatives=1)
    assert mask.shape == (3, 6) and mask.dtype == torch.bool
    assert mask.tolist() == [
        [False, True, False, False, False, True],  # 11 as row 1's positive and as row 2's negative
        [False, False, False, False, False, True],  # its own 11 again, as row 2's negative; col 1 is its target
        [True, False, False, False, False, False],  # 10, row 0's positive
    ]
    assert not mask[torch.arange(3), torch.arange(3)].any()  # never a row's own target
    want = [[COLUMNS[c] in set(LABELS[i, 2:].tolist()) - {-1} and c != i for c in range(6)] for i in range(3)]
    assert mask.tolist() == want


def test_mask_without_negatives_and_padding_never_matches():
    labels = torch.tensor([[5, 5, 6], [6, 6, -1], [-1, -1, -1]])  # the third row's own passage index is -1
    assert false_negative_mask(labels, 3, 0).tolist() == [[False, True, False], [False, False, False],
                                                          [False, False, False]]


def test_mask_matches_the_label_column_that_training_builds(sample_training_data):
    corpus = read_corpus(sample_training_data["passages"])
    pairs = read_pairs(sample_training_data["pairs"], corpus)
    cols = build_examples(pairs, corpus, 2, 1, seed=0).columns
    batch = 16
    labels = torch.tensor(cols["label"][:batch])
    # the same passages, from the texts: a column's text is one of the query's positives' texts
    positives = [{corpus.texts[corpus.index[pid]] for pid in p["positive_passages"]}
                 for p in pairs for _ in p["positive_passages"]][:batch]
    column_texts = [cols[c][row] for c in ("positive", "negative_1", "negative_2") for row in range(batch)]
    want = [[text in positives[i] and c != i for c, text in enumerate(column_texts)] for i in range(batch)]
    mask = false_negative_mask(labels, batch, 2)
    assert mask.tolist() == want
    assert mask.any()  # the sample's first rows include a query with two positives: each masks the other


class _Identity(torch.nn.Module):
    """A "model" whose embedding is the input itself."""

    def forward(self, features):
        return {"sentence_embedding": features["emb"]}


def _unit(*rows):
    v = torch.tensor(rows, dtype=torch.float32)
    return v / v.norm(dim=1, keepdim=True)


# query 0's second positive (row 1's target) scores even higher for it than its own target: unmasked, the
# loss pushes a true positive away
QUERIES = _unit([1.0, 0.1, 0.0], [0.3, 1.0, 0.0], [0.0, 0.0, 1.0])
POSITIVES = _unit([1.0, 0.0, 0.0], [1.0, 0.12, 0.0], [0.1, 0.0, 1.0])
NEGATIVES = _unit([-1.0, 0.0, 0.2], [0.0, -1.0, 0.1], [0.3, 0.2, -1.0])


def _loss(labels, mask=True, queries=QUERIES):
    loss = MaskedMultipleNegativesRankingLoss(_Identity(), scale=20.0, n_negatives=1, mask=mask)
    q = queries.clone().requires_grad_(True)
    value = loss([{"emb": q}, {"emb": POSITIVES}, {"emb": NEGATIVES}], labels)
    value.backward()
    assert torch.isfinite(q.grad).all()  # -inf logits give no NaN gradients
    return float(value.detach())


def test_masked_loss_is_lower_when_a_false_negative_scores_high():
    masked, plain = _loss(LABELS), _loss(LABELS, mask=False)
    assert masked < plain - 0.2
    scores = 20.0 * QUERIES @ torch.cat([POSITIVES, NEGATIVES]).T
    assert scores[0, 1] > scores[0, 0]  # the false negative outscores query 0's own target
    assert _loss(None) == pytest.approx(plain)  # no labels: nothing to mask
    # the masked loss is cross-entropy over the unmasked columns only
    keep = ~false_negative_mask(LABELS, 3, 1)
    target = [int(keep[i, :i].sum()) for i in range(3)]  # where column i lands once masked columns are dropped
    by_hand = sum(-torch.log_softmax(scores[i][keep[i]], 0)[target[i]] for i in range(3)) / 3
    assert masked == pytest.approx(float(by_hand), rel=1e-5)
    unmasked = torch.nn.functional.cross_entropy(scores, torch.arange(3))
    assert plain == pytest.approx(float(unmasked), rel=1e-5)


def test_without_false_negatives_the_mask_changes_nothing():
    distinct = torch.tensor([[10, 20, 10, -1], [11, 21, 11, -1], [12, 22, 12, 13]])
    assert not false_negative_mask(distinct, 3, 1).any()
    assert _loss(distinct) == pytest.approx(_loss(distinct, mask=False), rel=1e-6)
