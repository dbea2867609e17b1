"""Synthetic plain-language questions for statute passages, as training pairs (``lex-dpr synth``)."""
