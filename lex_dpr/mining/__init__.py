"""Training-pair mining: reference parsing, citation resolution, queries, negatives, splits."""
