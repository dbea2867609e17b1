"""A metric's name and direction: one home for every spelling of a validation metric.

A metric is spelled four ways, and :meth:`MetricName.parse` reads each of them:

========================================  ================================  =================================
where                                     spelling                          :class:`MetricName` gives it as
========================================  ================================  =================================
the training's ``eval.metric``            ``ndcg_at_10``                    :attr:`~MetricName.canonical`
``metrics.jsonl``, a sweep file, W&B      ``eval/ndcg_at_10``               :attr:`~MetricName.key`
sentence-transformers' trainer logs       ``eval_valid_cosine_ndcg@10``     :meth:`~MetricName.trainer_key`
the predecessor (LexDPR)                  ``cosine_ndcg@10``                (read only)
========================================  ================================  =================================

Ranking metrics (ndcg, recall, precision, hit, mrr, map at a cut-off k) are better larger, losses
(``eval/loss``, ``train/loss``) smaller: :attr:`~MetricName.greater_is_better` is the one direction test,
and :attr:`~MetricName.goal` / :attr:`~MetricName.mode` give it in Optuna's, W&B's and the predecessor's
words. A loss has no bare form (``loss`` alone could be either), so its canonical spelling is its key.

The trainer key follows sentence-transformers' ``InformationRetrievalEvaluator``:
``{metric_key_prefix}_{evaluator name}_{score function}_{metric}@{k}``, with ``accuracy`` for lex-dpr's ``hit``;
lex-dpr's trainer names its evaluator :data:`EVALUATOR` and scores with :data:`SCORE_FUNCTION`.

Example:
    >>> m = MetricName.parse("cosine_ndcg@10")
    >>> m.canonical, m.key, m.trainer_key(), m.greater_is_better, m.goal
    ('ndcg_at_10', 'eval/ndcg_at_10', 'eval_valid_cosine_ndcg@10', True, 'maximize')
    >>> MetricName.parse("eval_valid_cosine_accuracy@1").canonical, MetricName.parse("val_loss").goal
    ('hit_at_1', 'minimize')
    >>> MetricName.parse("ndgc_at_10")
    Traceback (most recent call last):
    ...
    lex_dpr.errors.ConfigError: metric 'ndgc_at_10' is not one lex-dpr knows (did you mean 'ndcg_at_10'?): use ndcg, recall, precision, hit, mrr or map at a cut-off k (ndcg_at_10, eval/recall_at_5, eval_valid_cosine_ndcg@10 or cosine_ndcg@10), eval/loss or train/loss
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from lex_dpr.errors import ConfigError

RANKING = ("ndcg", "recall", "precision", "hit", "mrr", "map")  # lex-dpr's names, each at a cut-off k
LOSS = "loss"
SPLITS = ("eval", "train")  # a loss is logged for both; ranking metrics only on the validation set
EVALUATOR = "valid"  # the name the trainer gives its InformationRetrievalEvaluator (the trainer key's middle)
SCORE_FUNCTION = "cosine"  # the evaluator's main score function
_ST_NAMES = {"hit": "accuracy"}  # lex-dpr → sentence-transformers, where they differ
_FROM_ST = {st: ours for ours, st in _ST_NAMES.items()}

KNOWN = (f"{', '.join(RANKING[:-1])} or {RANKING[-1]} at a cut-off k (ndcg_at_10, eval/recall_at_5, "
         f"eval_{EVALUATOR}_{SCORE_FUNCTION}_ndcg@10 or {SCORE_FUNCTION}_ndcg@10), eval/loss or train/loss")

# Every spelling at once: an optional split (eval/, eval_), an optional evaluator (val/, val_, valid_ ...) and
# score function (cosine_), then the metric at k (@k or _at_k) or the loss. Prefixes are each optional, so the
# predecessor's ``cosine_ndcg@10`` and W&B's ``eval_recall@5`` read as well as the trainer's own keys.
_SPELLING = re.compile(
    rf"(?:eval[/_])?(?:(?:{'|'.join(dict.fromkeys(('val', 'valid', EVALUATOR)))})[/_])?(?:{SCORE_FUNCTION}_)?"
    rf"(?:(?P<name>{'|'.join(RANKING)}|{'|'.join(_FROM_ST)})(?:@|_at_)(?P<k>\d+)|(?P<loss>{LOSS}))")
# The trainer's own log keys: ``eval_valid_cosine_ndcg@10``, ``eval_loss``, ``loss`` (the training loss).
_TRAINER_KEY = re.compile(rf"eval_[^_]+_{SCORE_FUNCTION}_(?P<name>[a-z]+)@(?P<k>\d+)|(?P<eval>eval_)?{LOSS}")


@dataclass(frozen=True)
class MetricName:
    """One validation metric (``name`` at ``k``) or a loss (``name="loss"``, ``k=None``, ``split`` eval or train).

    Build one with :meth:`parse`; the fields are lex-dpr's names (``hit``, not sentence-transformers' ``accuracy``).

    Example:
        >>> MetricName.parse("eval/MRR@10")
        MetricName(name='mrr', k=10, split='eval')
        >>> MetricName.parse("train/loss").key, MetricName.parse("train/loss").greater_is_better
        ('train/loss', False)
    """

    name: str
    k: int | None = None
    split: str = "eval"

    def __post_init__(self) -> None:
        if self.name == LOSS:
            ok = self.k is None and self.split in SPLITS
        else:
            ok = self.name in RANKING and isinstance(self.k, int) and self.k >= 1 and self.split == "eval"
        if not ok:
            raise ConfigError(f"MetricName({self.name!r}, {self.k!r}, {self.split!r}) is not a metric: use "
                              f"{KNOWN}")

    @classmethod
    def parse(cls, text: Any) -> MetricName:
        """Any spelling of a metric (case and spaces around ``@`` do not matter).

        Raises:
            ConfigError: ``text`` is no metric lex-dpr knows (the message lists the known ones), or is ``loss``
                alone, which could be the training or the validation loss.
        """
        spelled = re.sub(r"\s*@\s*", "@", str(text).strip().lower())
        if spelled in ("train/loss", "train_loss"):
            return cls(LOSS, None, "train")
        m = _SPELLING.fullmatch(spelled)
        if spelled == LOSS:
            raise ConfigError(f"metric {text!r} could be the training or the validation loss: write eval/loss "
                              "or train/loss")
        if m is not None and m["k"] is not None and int(m["k"]) < 1:
            raise ConfigError(f"metric {text!r}: the cut-off k must be 1 or more (e.g. {m['name']}@10)")
        if m is None:
            raise ConfigError(f"metric {text!r} is not one lex-dpr knows{_did_you_mean(spelled)}: use {KNOWN}")
        if m["loss"]:
            return cls(LOSS)
        return cls(_FROM_ST.get(m["name"], m["name"]), int(m["k"]))

    @classmethod
    def from_trainer_key(cls, key: str) -> MetricName | None:
        """A key the trainer logs (``eval_valid_cosine_ndcg@10``, ``eval_loss``, ``loss``), or None for the others.

        In the trainer's logs an unprefixed ``loss`` is the training loss.

        Example:
            >>> MetricName.from_trainer_key("loss").key, MetricName.from_trainer_key("learning_rate")
            ('train/loss', None)
        """
        m = _TRAINER_KEY.fullmatch(key)
        if m is None:
            return None
        if m["name"] is None:
            return cls(LOSS, None, "eval" if m["eval"] else "train")
        name = _FROM_ST.get(m["name"], m["name"])
        return cls(name, int(m["k"])) if name in RANKING and int(m["k"]) >= 1 else None

    @property
    def is_loss(self) -> bool:
        return self.name == LOSS

    @property
    def canonical(self) -> str:
        """The training's ``eval.metric`` spelling: ``ndcg_at_10``; a loss's is its key (``eval/loss``)."""
        return self.key if self.is_loss else f"{self.name}_at_{self.k}"

    @property
    def key(self) -> str:
        """The ``metrics.jsonl``, sweep-file and W&B key: ``eval/ndcg_at_10``, ``eval/loss``, ``train/loss``."""
        return f"{self.split}/{self.name}" if self.is_loss else f"eval/{self.canonical}"

    def trainer_key(self, evaluator: str = EVALUATOR) -> str:
        """The key sentence-transformers' trainer logs it under (its ``metric_for_best_model``).

        Example:
            >>> MetricName.parse("hit_at_10").trainer_key(), MetricName.parse("eval/loss").trainer_key()
            ('eval_valid_cosine_accuracy@10', 'eval_loss')
        """
        if self.is_loss:
            return "eval_loss" if self.split == "eval" else LOSS
        return f"eval_{evaluator}_{SCORE_FUNCTION}_{_ST_NAMES.get(self.name, self.name)}@{self.k}"

    @property
    def eval_metric(self) -> str | None:
        """The ``eval.metric`` that makes training pick its best checkpoint by this metric (None: a loss)."""
        return None if self.is_loss else self.canonical

    @property
    def greater_is_better(self) -> bool:
        """False for losses, True for every ranking metric."""
        return not self.is_loss

    @property
    def goal(self) -> str:
        """``maximize`` or ``minimize``: Optuna's and W&B's words for the direction."""
        return "maximize" if self.greater_is_better else "minimize"

    @property
    def mode(self) -> str:
        """``max`` or ``min``: the predecessor's ``early_stopping.mode`` words for the direction."""
        return "max" if self.greater_is_better else "min"


DEFAULT = MetricName("ndcg", 10)  # the training's eval.metric when nothing sets it


def _did_you_mean(spelled: str) -> str:
    """A close known spelling, in the form the user wrote (``ndgc_at_10`` → ``ndcg_at_10``)."""
    m = re.fullmatch(r"(?P<head>.*?)(?P<name>[a-z]+)(?P<tail>(?:@|_at_)\d+)", spelled)
    if m is None:
        return ""
    close = difflib.get_close_matches(m["name"], [*RANKING, *_FROM_ST], n=1, cutoff=0.5)
    return f" (did you mean '{m['head']}{close[0]}{m['tail']}'?)" if close and close[0] != m["name"] else ""
