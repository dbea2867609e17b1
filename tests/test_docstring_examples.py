"""The examples in lex_dpr's docstrings run and print what they say (those marked +SKIP need real files)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lex_dpr

MODULES = sorted(m.name for m in pkgutil.walk_packages(lex_dpr.__path__, "lex_dpr.")
                 if ".cli" not in m.name)


def _has_examples(name: str) -> bool:
    finder = doctest.DocTestFinder()
    return any(t.examples for t in finder.find(importlib.import_module(name)))


@pytest.mark.parametrize("name", [m for m in MODULES if _has_examples(m)])
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (run pytest -s to see them)"
