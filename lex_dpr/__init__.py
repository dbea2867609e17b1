"""lex-dpr: Korean legal dense passage retrieval toolchain.

Importing the package is cheap: heavy libraries (torch, transformers,
sentence-transformers) are imported only inside the functions that need them.
"""

__version__ = "0.1.0"
