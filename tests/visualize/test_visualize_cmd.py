"""`lex-dpr visualize`: four PNGs with Korean text and the JSON numbers beside them, consistent with the model."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from _cli import lex_dpr
from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.models.loading import load_query_encoder
from lex_dpr.visualize.sample import encode_sample, sample_pairs, similarities
from lex_dpr.visualize.stats import auc, similarity_summary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = ["--n-samples", "12", "--max-points", "30", "--heatmap-queries", "5"]


def _png(path: Path) -> tuple[int, int]:
    from PIL import Image

    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def test_all_four_figures_with_numbers_that_match_the_model(sample_training_data, trained_run, tmp_path):
    out = tmp_path / "viz"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = lex_dpr(["visualize", "--model", str(trained_run), "--output", str(out), "--method", "tsne",
                          *SMALL, "--json"])  # corpus and pairs come from the run's record
    assert result.exit_code == 0, result.output
    assert not [w for w in caught if "Glyph" in str(w.message)]  # Hangul found in the font: no boxes
    names = {"embedding_space_tsne", "similarity_distribution", "similarity_heatmap", "before_after_comparison"}
    assert {p.name for p in out.iterdir()} == {f"{n}.{ext}" for n in names for ext in ("png", "json")}
    for name in names:
        width, height = _png(out / f"{name}.png")
        assert width > 400 and height > 300
    corpus = read_corpus(sample_training_data["passages"])
    pairs = read_pairs(sample_training_data["valid_pairs"], corpus)
    sample = sample_pairs(pairs, corpus, n_queries=12, seed=42)
    assert json.loads(result.stdout)["sample"]["queries"] == len(sample) == min(12, len(pairs)) >= 5
    sims = similarities(sample, encode_sample(load_query_encoder(trained_run), sample, corpus))
    sim = json.loads((out / "similarity_distribution.json").read_text())
    assert sim["positive"]["count"] == len(sims["positive"])
    assert sim["positive"]["mean"] == pytest.approx(np.mean(sims["positive"]), abs=1e-5)
    assert sim["hard_negative"]["mean"] == pytest.approx(np.mean(sims["hard_negative"]), abs=1e-5)
    assert sim["auc_vs_hard"] == pytest.approx(auc(sims["positive"], sims["hard_negative"]), abs=1e-6)
    assert sim["separation_vs_hard"] == pytest.approx(sim["positive"]["mean"] - sim["hard_negative"]["mean"],
                                                      abs=1e-5)

    comparison = json.loads((out / "before_after_comparison.json").read_text())
    assert comparison["after"] == {k: sim[k] for k in comparison["after"]}  # the same sample, the same numbers
    assert comparison["before_model"].startswith("untrained static")
    assert comparison["delta"]["auc_vs_hard"] == pytest.approx(
        comparison["after"]["auc_vs_hard"] - comparison["before"]["auc_vs_hard"], abs=1e-6)

    heat = json.loads((out / "similarity_heatmap.json").read_text())
    matrix = np.array(heat["matrix"])
    assert matrix.shape == (5, len(heat["passage_ids"])) and np.all(np.abs(matrix) <= 1 + 1e-6)
    space = json.loads((out / "embedding_space_tsne.json").read_text())
    assert space["projection"]["method"] == "tsne" and 0 <= space["projection"]["trustworthiness"] <= 1
    assert space["queries"] == min(len(sample), 10) and space["projection"]["points"] == space["queries"] + space["passages"]


def test_an_explicit_before_model(sample_training_data, trained_run, tmp_path):
    out = tmp_path / "viz"
    result = lex_dpr(["visualize", "-m", str(trained_run), "-p", str(sample_training_data["passages"]),
                      "-e", str(sample_training_data["valid_pairs"]), "-o", str(out), "--type", "comparison",
                      "--model-before", str(trained_run), *SMALL])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.png")) == ["before_after_comparison.png"]
    comparison = json.loads((out / "before_after_comparison.json").read_text())
    assert comparison["before"] == comparison["after"] and set(comparison["delta"].values()) == {0.0}


@pytest.mark.slow  # numba compiles UMAP on first use: about a minute on a busy 2-core machine
def test_umap_space_map(sample_training_data, trained_run, tmp_path):
    pytest.importorskip("umap", reason="umap-learn is an extra (pip install 'lex-dpr[umap]')")
    out = tmp_path / "viz"
    result = lex_dpr(["visualize", "-m", str(trained_run), "-o", str(out), "--type", "embedding-space", "--method", "umap",
                      *SMALL])
    assert result.exit_code == 0, result.output
    _png(out / "embedding_space_umap.png")
    space = json.loads((out / "embedding_space_umap.json").read_text())
    assert space["projection"]["method"] == "umap" and 0 <= space["projection"]["trustworthiness"] <= 1


def test_a_model_without_a_record_needs_inputs_and_a_before_model(sample_training_data, trained_run, tmp_path):
    final = shutil.copytree(trained_run / "bi_encoder" / "final", tmp_path / "model")
    no_inputs = lex_dpr(["visualize", "--model", str(final), "--output", str(tmp_path / "v")])
    assert no_inputs.exit_code == 2 and "--passages and --eval-pairs needed" in no_inputs.output
    no_before = lex_dpr(["visualize", "--model", str(final), "--passages", str(sample_training_data["passages"]),
                         "--eval-pairs", str(sample_training_data["valid_pairs"]), "--type", "comparison",
                         "--output", str(tmp_path / "v"), *SMALL])
    assert no_before.exit_code == 1 and "pass --model-before" in no_before.output
    assert "Traceback" not in no_before.output


@pytest.mark.parametrize(("args", "message"), [
    (["--type", "pca"], "--type 'pca' is not one of all, space"),
    (["--method", "pca"], "--method 'pca' is not one of umap, tsne"),
    (["--max-points", "3"], "--max-points 3 must be at least 12"),
    (["--model-before", "./old/run"], "--model-before ./old/run: no such folder"),
])
def test_bad_options_are_one_line_before_any_model_loads(args, message, tmp_path):
    result = lex_dpr(["visualize", "--model", str(tmp_path / "nowhere"), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert "--model /" in result.output  # every problem at once: the missing model folder too


def test_missing_pairs_file_is_one_line(sample_training_data, trained_run, tmp_path):
    result = lex_dpr(["visualize", "--model", str(trained_run), "--eval-pairs", str(tmp_path / "nope.jsonl"),
                      "--output", str(tmp_path / "v")])
    assert result.exit_code == 1 and "nope.jsonl: file not found" in result.output


def test_auc_matches_the_definition():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 200).round(1), rng.normal(0, 1, 300).round(1)  # rounded: ties included
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert auc(pos, neg) == pytest.approx(brute, abs=1e-6)
    s = similarity_summary(pos, neg, neg)
    assert s["auc_vs_hard"] == s["auc_vs_random"] and s["positive"]["count"] == 200


def test_the_korean_font_is_the_bundled_nanum_gothic():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    from lex_dpr.visualize.font import use_korean_font

    assert use_korean_font() == "NanumGothic"
    path = font_manager.findfont(font_manager.FontProperties(family=matplotlib.rcParams["font.family"]),
                                 fallback_to_default=False)
    assert Path(path).name == "NanumGothic.ttf"
    from matplotlib.ft2font import FT2Font

    font = FT2Font(path)
    assert all(font.get_char_index(ord(c)) for c in "임베딩 공간 질의 조문 유사도")  # glyphs, not boxes
