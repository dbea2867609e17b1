"""`python -m lex_dpr.data_processing.merge_corpus`: same flags as `lex-dpr merge-corpus`."""

from lex_dpr.cli import merge_corpus
from lex_dpr.cli.main import run_single

if __name__ == "__main__":
    run_single(merge_corpus.command)
