"""Retrieval evaluation: metrics and metric names, baseline systems, fusion, and the comparison report."""
