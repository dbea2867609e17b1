"""Every `from lex_dpr.x import y` in the package names something that exists, function-level imports included:
a rename that misses one of them otherwise fails only when that code path first runs (as `eval --index` did).
Read from the source (no module is imported), so it costs a fraction of a second."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lex_dpr"


def _file(module: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _bound(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody"):
                names |= _bound(getattr(node, part, []) or [])
            for handler in getattr(node, "handlers", []):
                names |= _bound(handler.body)
    return names


@lru_cache(maxsize=None)
def _names(module: str) -> frozenset[str]:
    path = _file(module)
    return frozenset(_bound(ast.parse(path.read_text(encoding="utf-8")).body)) if path else frozenset()


def _imports() -> list[tuple[str, int, str, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lex_dpr"):
                out += [(str(path.relative_to(PACKAGE.parent)), node.lineno, node.module, a.name)
                        for a in node.names if a.name != "*"]
    return out


def test_every_name_imported_from_a_lex_dpr_module_exists():
    imports = _imports()
    assert len(imports) > 500
    missing = [f"{where}:{line}: {module} has no {name}" for where, line, module, name in imports
               if _file(module) is None or (name not in _names(module) and _file(f"{module}.{name}") is None)]
    assert not missing


def test_test_modules_have_unique_names():
    # the test folders are not packages: two test files of one name stop pytest at collection
    from collections import Counter

    names = Counter(p.name for p in Path(__file__).resolve().parent.rglob("test_*.py"))
    assert not [n for n, c in names.items() if c > 1]
