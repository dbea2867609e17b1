"""Training-pair mining: reference parsing, citation resolution, queries, negatives, splits and their file names."""
