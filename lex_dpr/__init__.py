"""lex-dpr: Korean legal dense passage retrieval toolchain.

Importing the package is cheap: heavy libraries (torch, transformers,
sentence-transformers) are imported only inside the functions that need them.
"""

__version__ = "0.1.0"

import logging as _logging

# bitsandbytes warns about an optional CPU kernel on every import (via peft); users cannot act on it.
_logging.getLogger("bitsandbytes").setLevel(_logging.ERROR)
