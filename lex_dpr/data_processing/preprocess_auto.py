"""`python -m lex_dpr.data_processing.preprocess_auto`: same flags as `lex-dpr preprocess`."""

from lex_dpr.cli import preprocess
from lex_dpr.cli.main import run_single

if __name__ == "__main__":
    run_single(preprocess.command)
