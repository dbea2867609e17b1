"""The ``lex-dpr`` command line: argument parsing and rendering only; logic lives in the library."""
