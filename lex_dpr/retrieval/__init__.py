"""Sparse retrieval shared by mining, evaluation and RAG: Kiwi morphemes and BM25."""
