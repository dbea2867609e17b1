#!/usr/bin/env bash
# Installs Poetry (with the PyPI-mirror plugin) and every locked dependency into ./.venv.
# The mirror URL is pip's own PyPI index, read from pip at run time: no registry host is written here.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check "poetry>=2.1,<2.6" "poetry-plugin-pypi-mirror>=0.6"
POETRY_PYPI_MIRROR_URL=$(python3 -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)")
export POETRY_PYPI_MIRROR_URL
poetry install --no-interaction
# Bytecode for everything installed, lex_dpr included: where PYTHONDONTWRITEBYTECODE is set (as on the machines
# this project is built on) every process would otherwise compile what it imports again (lex-dpr --help: 0.40 s
# without, 0.16 s with). Files that are not Python 3.11 (templates shipped in some packages) are skipped.
SITE=$(poetry run python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
poetry run python -m compileall -q -j 0 "$SITE" lex_dpr > /dev/null 2>&1 || true
# bm25s' numba scoring, compiled once into numba's disk cache (lex_dpr.retrieval.bm25.numba_cached): every later
# process loads it in about 0.1 s instead of compiling for about 5 s on its first BM25 search.
poetry run python -c "from lex_dpr.retrieval.bm25 import warm_numba; warm_numba()" || true
