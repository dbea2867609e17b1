"""Pictures of a model's embeddings: the 2-D space, similarity distributions, a heatmap, before vs after."""

from __future__ import annotations

from lex_dpr.visualize.font import use_korean_font
from lex_dpr.visualize.projection import project_2d
from lex_dpr.visualize.run import parse_kinds, visualize
from lex_dpr.visualize.sample import PairSample, encode_sample, sample_pairs
from lex_dpr.visualize.stats import auc, similarity_summary

__all__ = ["PairSample", "auc", "encode_sample", "parse_kinds", "project_2d", "sample_pairs", "similarity_summary",
           "use_korean_font", "visualize"]
