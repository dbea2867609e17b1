"""The masked loss under two gloo processes, each ranking its queries against both ranks' passages, gives the
gradients of one process over the whole batch (what DDP then averages), its mask reading the other rank's ids."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from lex_dpr.training.losses import MaskedMultipleNegativesRankingLoss

SETUP = """
import torch
from lex_dpr.training.losses import MaskedMultipleNegativesRankingLoss


class Bag(torch.nn.Module):  # what the loss calls: features in, {"sentence_embedding": ...} out
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(40, 8)

    def forward(self, f):
        return {"sentence_embedding": self.emb(f["ids"]).mean(1)}


def batch():
    g = torch.Generator().manual_seed(1)
    queries, positives, negatives = (torch.randint(0, 40, (4, 3), generator=g) for _ in range(3))
    # passage ids: positive of row i is 10 + i, its negative 20 + i; row 0's query also has row 3's positive (13),
    # row 2's also row 1's negative (21): false negatives across the two halves, to be masked
    labels = torch.tensor([[10, 20, 10, 13], [11, 21, 11, -1], [12, 22, 12, 21], [13, 23, 13, -1]])
    return [{"ids": queries}, {"ids": positives}, {"ids": negatives}], labels


def loss_fn(model, gather):
    return MaskedMultipleNegativesRankingLoss(model, scale=20.0, n_negatives=1, gather_across_devices=gather)
"""

RANK = """
import os, sys
import torch.distributed as dist
rank = int(sys.argv[1])
dist.init_process_group("gloo", init_method="file://" + sys.argv[2], rank=rank, world_size=2)
model = Bag()
features, labels = batch()
half = slice(2 * rank, 2 * rank + 2)
loss = loss_fn(model, True)([{"ids": f["ids"][half]} for f in features], labels[half])
loss.backward()
grad = model.emb.weight.grad.clone()
dist.all_reduce(grad)  # what DDP does with the parameters' gradients: their mean over ranks
dist.all_reduce(loss.detach())
if rank == 0:
    torch.save({"grad": grad / 2, "loss": loss.detach() / 2}, sys.argv[3])
dist.destroy_process_group()
"""


def test_two_ranks_gathering_passages_match_one_process_over_the_whole_batch(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(textwrap.dedent(SETUP) + textwrap.dedent(RANK), encoding="utf-8")
    out = tmp_path / "ddp.pt"
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(tmp_path / "init"), str(out)],
                              stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()[-2000:]
    ddp = torch.load(out, weights_only=True)

    scope: dict = {}
    exec(textwrap.dedent(SETUP), scope)  # the same model and batch, one process
    model = scope["Bag"]()
    features, labels = scope["batch"]()
    loss = scope["loss_fn"](model, True)(features, labels)  # no process group: gathers nothing
    loss.backward()
    assert torch.allclose(ddp["loss"], loss.detach(), atol=1e-6)
    assert torch.allclose(ddp["grad"], model.emb.weight.grad, atol=1e-6)

    unmasked = MaskedMultipleNegativesRankingLoss(scope["Bag"](), scale=20.0, n_negatives=1, mask=False)
    assert not torch.allclose(unmasked(features, labels), loss)  # the false negatives were masked
