"""The four pictures, each a PNG with a JSON of its numbers beside it (same name, ``.json``).

Every figure has a title that says what is drawn and for which model, labelled axes, Korean text in NanumGothic
(:mod:`lex_dpr.visualize.font`), and its key numbers written on the plot, so it reads without a legend hunt.
File names are the predecessor's (``embedding_space_umap.png``, ``similarity_distribution.png``,
``similarity_heatmap.png``, ``before_after_comparison.png``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lex_dpr.data.corpus import Corpus
from lex_dpr.utils.io import atomic_open, write_json
from lex_dpr.visualize.projection import project_2d
from lex_dpr.visualize.sample import PairSample, SampleVectors, similarities
from lex_dpr.visualize.stats import similarity_summary

SPACE = "embedding_space_{method}.png"
SIMILARITY = "similarity_distribution.png"
HEATMAP = "similarity_heatmap.png"
COMPARISON = "before_after_comparison.png"

_COLOURS = {"query": "#1f77b4", "positive": "#2ca02c", "hard_negative": "#d62728", "random": "#7f7f7f"}
_NAMES = {"positive": "정답 조문 (positive)", "hard_negative": "어려운 오답 (hard negative)",
          "random": "무작위 조문 (random)"}
_DPI = 120
_METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lex_dpr.visualize.font import use_korean_font

    use_korean_font()
    return plt


def _save(fig, png: Path, numbers: dict) -> dict:
    with atomic_open(png) as fh:
        fig.savefig(fh, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    write_json(png.with_suffix(".json"), numbers)
    return {**numbers, "png": str(png), "json": str(png.with_suffix(".json"))}


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ----------------------------------------------------------------------------------------------- space


def plot_space(sample: PairSample, vectors: SampleVectors, out_dir: Path, model_name: str, method: str = "tsne",
               max_points: int = 450, seed: int = 42) -> dict:
    """Queries, their positives and hard negatives mapped to 2-D, each query joined to its positive by a line.

    At most ``max_points`` points: a third queries, a third their first positives, a third their first hard
    negatives (a random passage where a query has none). The JSON has the projection's time and
    trustworthiness, and how often a query is nearer (cosine, in the model's space) its positive than its
    hard negative.
    """
    plt = _pyplot()
    m = max(2, min(len(sample), max_points // 3))
    qv = vectors.queries[:m]
    pos_ids = [sample.positives[i][0] for i in range(m)]
    neg_ids = [(sample.hard[i] or sample.random[i] or [sample.positives[i][0]])[0] for i in range(m)]
    passage_ids = list(dict.fromkeys(pos_ids + neg_ids))
    role = {pid: "positive" for pid in pos_ids}
    for pid in neg_ids:
        role.setdefault(pid, "hard_negative")
    points = np.vstack([qv, vectors.passage(passage_ids)])
    xy, info = project_2d(points, method, seed=seed)
    q_xy, p_xy = xy[:m], xy[m:]
    row = {pid: i for i, pid in enumerate(passage_ids)}
    pos_cos = np.einsum("ij,ij->i", qv, vectors.passage(pos_ids))
    neg_cos = np.einsum("ij,ij->i", qv, vectors.passage(neg_ids))
    d_pos = np.linalg.norm(q_xy - p_xy[[row[p] for p in pos_ids]], axis=1)
    d_neg = np.linalg.norm(q_xy - p_xy[[row[p] for p in neg_ids]], axis=1)

    fig, ax = plt.subplots(figsize=(10, 8))
    for i in range(m):
        a, b = q_xy[i], p_xy[row[pos_ids[i]]]
        ax.plot([a[0], b[0]], [a[1], b[1]], color=_COLOURS["positive"], alpha=0.25, linewidth=0.7, zorder=1)
    kinds = np.array([role[p] for p in passage_ids])
    ax.scatter(*p_xy[kinds == "hard_negative"].T, s=22, marker="x", color=_COLOURS["hard_negative"], alpha=0.7,
               label=f"{_NAMES['hard_negative']} ({int((kinds == 'hard_negative').sum())})", zorder=2)
    ax.scatter(*p_xy[kinds == "positive"].T, s=26, marker="^", color=_COLOURS["positive"], alpha=0.8,
               label=f"{_NAMES['positive']} ({int((kinds == 'positive').sum())})", zorder=3)
    ax.scatter(*q_xy.T, s=18, marker="o", color=_COLOURS["query"], alpha=0.8, label=f"질의 (query) ({m})", zorder=4)
    shown = _METHOD_NAMES.get(method, method)
    ax.set_title(f"임베딩 공간 ({shown}): 질의와 정답·오답 조문 — {model_name}\n"
                 "초록 선 = 질의와 그 정답 조문 (짧을수록 좋음)", fontsize=13)
    ax.set_xlabel(f"{shown} 축 1 (2차원 투영)")
    ax.set_ylabel(f"{shown} 축 2 (2차원 투영)")
    ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    nearer = float(np.mean(pos_cos > neg_cos))
    ax.text(0.01, 0.01, f"정답이 오답보다 가까운 질의: {nearer:.1%}\n신뢰도 (trustworthiness@{info['trustworthiness_k']}): "
            f"{info['trustworthiness']:.3f}", transform=ax.transAxes, fontsize=9, va="bottom",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})
    ax.grid(alpha=0.2)
    numbers = {"figure": "space", "model": model_name, "projection": info, "queries": m,
               "passages": len(passage_ids), "query_nearer_positive_than_hard_negative": round(nearer, 6),
               "mean_cosine_query_positive": round(float(pos_cos.mean()), 6),
               "mean_cosine_query_hard_negative": round(float(neg_cos.mean()), 6),
               "median_2d_distance_query_positive": round(float(np.median(d_pos)), 6),
               "median_2d_distance_query_hard_negative": round(float(np.median(d_neg)), 6)}
    result = _save(fig, out_dir / SPACE.format(method=method), numbers)
    plt.close(fig)
    return result


# ----------------------------------------------------------------------------------------------- similarity


def _histograms(ax, sims: dict[str, list[float]], summary: dict, bins: np.ndarray) -> None:
    for name in ("random", "hard_negative", "positive"):
        values = sims[name]
        if not values:
            continue
        ax.hist(values, bins=bins, density=True, alpha=0.45, color=_COLOURS[name],
                label=f"{_NAMES[name]}: 평균 {np.mean(values):.3f} (n={len(values)})")
        ax.axvline(float(np.mean(values)), color=_COLOURS[name], linestyle="--", linewidth=1.5)
    ax.set_xlabel("코사인 유사도 (질의 · 조문)")
    ax.set_ylabel("밀도 (density)")
    ax.legend(loc="upper left", fontsize=9, framealpha=0.9)
    ax.text(0.99, 0.98, f"분리도 (정답-오답 평균): {summary['separation_vs_hard']:.3f}\n"
            f"AUC 정답 vs 어려운 오답: {summary['auc_vs_hard']:.3f}\n"
            f"AUC 정답 vs 무작위: {summary['auc_vs_random']:.3f}", transform=ax.transAxes, fontsize=9,
            ha="right", va="top", bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})
    ax.grid(alpha=0.2)


def _bins(*groups: dict[str, list[float]]) -> np.ndarray:
    values = [v for g in groups for vs in g.values() for v in vs]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max(1e-3, (hi - lo) * 0.02)
    return np.linspace(lo - pad, hi + pad, 41)


def plot_similarity(sample: PairSample, vectors: SampleVectors, out_dir: Path, model_name: str) -> dict:
    """Histograms of query–positive, query–hard-negative and query–random cosine similarity, with means,
    separation and AUCs (:func:`~lex_dpr.visualize.stats.similarity_summary`) on the plot and in the JSON."""
    plt = _pyplot()
    sims = similarities(sample, vectors)
    summary = similarity_summary(sims["positive"], sims["hard_negative"], sims["random"])
    fig, ax = plt.subplots(figsize=(10, 6))
    _histograms(ax, sims, summary, _bins(sims))
    ax.set_title(f"정답 vs 오답 유사도 분포 — {model_name}\n(질의 {len(sample)}개; 정답이 오른쪽에 떨어져 있을수록 좋음)",
                 fontsize=13)
    result = _save(fig, out_dir / SIMILARITY, {"figure": "similarity", "model": model_name, "queries": len(sample),
                                               **summary})
    plt.close(fig)
    return result


# ----------------------------------------------------------------------------------------------- heatmap


def _passage_label(corpus: Corpus, pid: str) -> str:
    record = corpus.records[corpus.index[pid]]
    title = record.get("title") or ""
    article = record.get("article") or ""
    label = f"{_short(title, 14)} {article}".strip() if title else pid
    return _short(label, 24)


def plot_heatmap(sample: PairSample, vectors: SampleVectors, corpus: Corpus, out_dir: Path, model_name: str,
                 n_queries: int = 15) -> dict:
    """Cosine similarity of ``n_queries`` queries (rows, their text) to their first positives (columns, law
    title and article), positive cells outlined. The JSON has the matrix and how often a row's best column is
    one of its positives."""
    plt = _pyplot()
    n = max(1, min(n_queries, len(sample)))
    columns = list(dict.fromkeys(sample.positives[i][0] for i in range(n)))
    matrix = vectors.queries[:n] @ vectors.passage(columns).T
    positive = np.array([[pid in set(sample.positives[i]) for pid in columns] for i in range(n)])
    best_is_positive = float(np.mean(positive[np.arange(n), matrix.argmax(axis=1)]))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.55 * len(columns) + 4), max(6.0, 0.45 * n + 3)))
    image = ax.imshow(matrix, cmap="YlOrRd", aspect="auto")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("코사인 유사도")
    for i, j in zip(*np.nonzero(positive), strict=True):
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#1f3fbf", linewidth=2))
    ax.set_xticks(range(len(columns)), [_passage_label(corpus, p) for p in columns], rotation=60, ha="right",
                  fontsize=8)
    ax.set_yticks(range(n), [_short(t, 28) for t in sample.query_texts[:n]], fontsize=8)
    ax.set_xlabel("조문 (각 질의의 정답; 법령명·조)")
    ax.set_ylabel("질의 (query)")
    ax.set_title(f"질의–조문 유사도 히트맵 — {model_name}\n파란 테두리 = 정답; 행의 최댓값이 정답인 비율 {best_is_positive:.0%}",
                 fontsize=13)
    numbers = {"figure": "heatmap", "model": model_name, "query_ids": sample.query_ids[:n], "passage_ids": columns,
               "matrix": matrix.astype(np.float64).round(6).tolist(),
               "mean_positive_cell": round(float(matrix[positive].mean()), 6),
               "mean_other_cell": round(float(matrix[~positive].mean()), 6) if (~positive).any() else None,
               "row_best_is_positive": round(best_is_positive, 6)}
    result = _save(fig, out_dir / HEATMAP, numbers)
    plt.close(fig)
    return result


# ----------------------------------------------------------------------------------------------- comparison


def plot_comparison(sample: PairSample, before: SampleVectors, after: SampleVectors, out_dir: Path,
                    before_name: str, after_name: str) -> dict:
    """The similarity distributions of two models side by side on one x-axis (before left, after right), with
    each one's separation and AUCs, and the change in the JSON (``delta``: after minus before)."""
    plt = _pyplot()
    sims = {"before": similarities(sample, before), "after": similarities(sample, after)}
    summaries = {k: similarity_summary(s["positive"], s["hard_negative"], s["random"]) for k, s in sims.items()}
    bins = _bins(sims["before"], sims["after"])
    fig, axes = plt.subplots(1, 2, figsize=(15, 6), sharex=True)
    for ax, key, name, label in ((axes[0], "before", before_name, "학습 전 (before)"),
                                 (axes[1], "after", after_name, "학습 후 (after)")):
        _histograms(ax, sims[key], summaries[key], bins)
        ax.set_title(f"{label}: {name}", fontsize=12)
    delta = {k: round(summaries["after"][k] - summaries["before"][k], 6)
             for k in ("separation_vs_hard", "separation_vs_random", "auc_vs_hard", "auc_vs_random")}
    fig.suptitle(f"학습 전후 유사도 분포 비교 (질의 {len(sample)}개): AUC 정답 vs 어려운 오답 "
                 f"{summaries['before']['auc_vs_hard']:.3f} → {summaries['after']['auc_vs_hard']:.3f}", fontsize=14)
    fig.tight_layout()
    numbers = {"figure": "comparison", "queries": len(sample), "before_model": before_name,
               "after_model": after_name, "before": summaries["before"], "after": summaries["after"], "delta": delta}
    result = _save(fig, out_dir / COMPARISON, numbers)
    plt.close(fig)
    return result
