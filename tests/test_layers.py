"""The packages form layers: a module imports only from its own layer or lower ones (function-level imports too).

The README's "Layers" section is this table in prose; a new package gets a row here first.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lex_dpr"

LAYERS = {
    "utils": 0, "errors": 0, "resources": 0, "__init__": 0,
    "data": 1,
    "models": 2,
    "retrieval": 3,
    "mining": 4,
    "runs": 5,
    "evaluation": 6, "visualize": 6,
    "training": 7,
    "sweep": 8,
    "llm": 9,
    "rag": 10,
    "synth": 11,
    "audit": 12, "serve": 12,
    "cli": 13, "data_processing": 13,
}


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lex_dpr"):
            names = [node.module] if node.module != "lex_dpr" else [
                f"lex_dpr.{a.name}" if (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").is_file()
                else "lex_dpr" for a in node.names]
            yield from ((node.lineno, n) for n in names)
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("lex_dpr."))


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_up_the_layers(path):
    rel = path.relative_to(PACKAGE)
    own = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else "__init__"
    assert own in LAYERS, f"{rel}: package {own!r} has no layer; add it to LAYERS and the README"
    for line, target in _imports(path):
        other = _top(target)
        assert other in LAYERS, f"{rel}:{line} imports {target}, which has no layer"
        if own == other:
            continue
        assert LAYERS[other] <= LAYERS[own], (
            f"{rel}:{line} imports {target}: layer {own} ({LAYERS[own]}) must not import {other} ({LAYERS[other]})")


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert packages | modules <= set(LAYERS)
