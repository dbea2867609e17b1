"""Times reading sweep and config files: PyYAML's pure-Python safe_load against lex-dpr's bounded reader
(libyaml's parser, a nesting check, alias expansion counted before anything is built), and how fast the
reader refuses hostile files.

    poetry run python bench/bench_yaml.py

Prints one line a case: the file, its size, and the median of five reads.
"""

from __future__ import annotations

import statistics
import time

import yaml

from lex_dpr.errors import ConfigError
from lex_dpr.utils.config import parse_yaml

SWEEP = "method: random\nparameters:\n  trainer.lr: {values: [0.05, 0.1]}\n"


def _ladder(levels: int) -> str:
    lines = ["description:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + SWEEP


def _median(read, text: str) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        try:
            read(text)
        except ConfigError:
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    comments = ("# " + "c" * 98 + "\n") * 40_000 + SWEEP  # 4.0 MB of comments, just under the bound
    print(f"4.0 MB of comments ({len(comments):,} bytes): pure-Python yaml.safe_load "
          f"{_median(yaml.safe_load, comments):.3f} s, parse_yaml {_median(lambda t: parse_yaml(t, 'f'), comments):.3f} s")
    for levels in (6, 9):
        text = _ladder(levels)
        print(f"alias ladder of {levels} levels ({len(text)} bytes, 9^{levels} = {9 ** levels:,} values): parse_yaml "
              f"refuses it in {_median(lambda t: parse_yaml(t, 'f'), text) * 1000:.2f} ms")
    deep = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"
    print(f"100,000 nested lists ({len(deep):,} bytes; libyaml's composer would overflow the C stack): parse_yaml "
          f"refuses it in {_median(lambda t: parse_yaml(t, 'f'), deep) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
