from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared" / "data" / "lexdpr"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "precedents").is_dir():
        pytest.skip("../shared/data/lexdpr is not present")
    return SHARED


@pytest.fixture(scope="session")
def sample_passages(tmp_path_factory) -> dict[str, Path]:
    """The sample preprocessed once per session (article unit)."""
    from lex_dpr.data.preprocess import preprocess

    out = tmp_path_factory.mktemp("sample")
    paths = {k: out / f"{k}.jsonl" for k in ("law", "admin", "prec")}
    preprocess(SAMPLE, paths["law"], paths["admin"], paths["prec"], as_of="20251121")
    return paths
