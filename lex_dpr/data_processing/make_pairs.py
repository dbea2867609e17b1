"""`python -m lex_dpr.data_processing.make_pairs`: same flags as `lex-dpr make-pairs`."""

from lex_dpr.cli import make_pairs
from lex_dpr.cli.main import run_single

if __name__ == "__main__":
    run_single(make_pairs.command)
