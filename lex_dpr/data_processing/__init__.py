"""Module entry points for pipeline scripts: ``python -m lex_dpr.data_processing.<step>``.

Each takes exactly the flags of the matching ``lex-dpr`` command and calls the same function.
"""
