"""Retrieval evaluation: metrics, baseline systems, fusion, and the comparison report."""
