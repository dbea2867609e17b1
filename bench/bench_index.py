"""Times `lex-dpr index build|update` and `open_index` on the shared corpus; prints the figures the README quotes.

    poetry run python bench/bench_index.py [out/shared] [--model out/shared/run] [--work out/bench_index] [--repeat 1]

``out/shared`` is what ``scripts/pipeline.sh ../shared/data/lexdpr out/shared`` writes (run here when
``merged_corpus.jsonl`` is missing); the model is the static run folder ``out/shared/run`` (trained here with
``configs/train.yaml``, 3 epochs, when missing). Measured, each build from scratch (no staging, no Kiwi cache):

  build          dense only (--no-bm25), BM25 only (--no-dense), both (the default index)
  update         1% of the passages edited (every 100th, an amendment sentence appended) against a fresh
                 build on the edited file; the two indexes are checked equal (ids, vectors, BM25 and dense top-10)
  open_index     BM25 only, and BM25 + dense with the model (torch already imported in this process)

torch and sentence-transformers are imported once before the clock starts (their import is reported apart):
an index build is a long job, and what it pays for the import does not depend on the corpus.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["불법행위로 인한 손해배상 청구권의 소멸시효", "개인정보를 제3자에게 제공할 때 정보주체의 동의", "임대차 보증금 반환",
           "사용자의 피용자 행위에 대한 배상책임", "계약의 해제와 원상회복", "하도급대금의 지급"]


def ensure_data(data: Path, model: Path) -> None:
    lex = str(Path(sys.executable).with_name("lex-dpr"))
    if not (data / "merged_corpus.jsonl").is_file():
        print(f"{data / 'merged_corpus.jsonl'} missing: running scripts/pipeline.sh", flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "pipeline.sh"), str(ROOT.parent / "shared" / "data" / "lexdpr"),
                        str(data)], check=True, env={**os.environ, "LEX_DPR": lex})
    if not model.is_dir():
        print(f"{model} missing: training the static model (configs/train.yaml, 3 epochs)", flush=True)
        subprocess.run([lex, "train", "--config", "train", "--out-dir", str(model), "--quiet",
                        f"data.pairs={data / 'pairs_train.jsonl'}", f"data.passages={data / 'merged_corpus.jsonl'}",
                        "trainer.epochs=3", "wandb.mode=disabled"], check=True)


def amended(corpus: Path, out: Path, every: int = 100) -> int:
    """``corpus`` with every ``every``-th passage's text amended; returns how many were changed."""
    import orjson

    from lex_dpr.utils.io import write_jsonl

    recs = [orjson.loads(line) for line in corpus.read_bytes().splitlines() if line.strip()]
    changed = 0
    for i, rec in enumerate(recs):
        if i % every == every // 2:
            rec["text"] += " 다만, 대통령령으로 정하는 경우에는 그러하지 아니하다. <개정 2025. 1. 31.>"
            changed += 1
    write_jsonl(out, recs)
    return changed


CPU: list[float] = []  # process CPU seconds (all threads) of each timed() run: less swayed by other jobs than wall time


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        CPU.append(time.process_time() - cpu)
    return statistics.median(times), times, result


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(folder.with_name(f".{folder.name}.staging"), ignore_errors=True)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?", default="out/shared")
    ap.add_argument("--model", default=None)
    ap.add_argument("--work", default="out/bench_index")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    data, work = Path(args.data), Path(args.work)
    model = Path(args.model or data / "run")
    ensure_data(data, model)
    work.mkdir(parents=True, exist_ok=True)
    corpus = data / "merged_corpus.jsonl"

    print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    start = time.perf_counter()
    import sentence_transformers  # noqa: F401
    import torch

    print(f"import torch + sentence-transformers: {time.perf_counter() - start:.1f} s "
          f"({torch.get_num_threads()} threads, {os.cpu_count()} cores)")

    import numpy as np

    from lex_dpr.data.corpus import read_corpus
    from lex_dpr.retrieval.index import build_index, open_index, update_index

    n = len(read_corpus(corpus))
    print(f"corpus: {corpus} ({n} passages), model: {model}\n")
    rows = []

    def build(folder: Path, **kw):
        return lambda: build_index(corpus, fresh(folder), model=str(model), **kw)

    t, ts, m = timed(build(work / "dense", bm25=False), args.repeat)
    rows.append(("build, dense only (flat)", t, ts, m.build["seconds"]))
    t, ts, m = timed(build(work / "bm25", dense=False), args.repeat)
    rows.append(("build, BM25 only", t, ts, m.build["seconds"]))
    t, ts, m = timed(build(work / "index"), args.repeat)
    rows.append(("build, dense + BM25", t, ts, m.build["seconds"]))
    for kind in ("hnsw", "ivf"):
        t, ts, m = timed(build(work / f"dense-{kind}", bm25=False, faiss_kind=kind), args.repeat)
        rows.append((f"build, dense only ({kind} {m.dense.params})", t, ts, m.build["seconds"]))

    new_corpus = work / "amended_corpus.jsonl"
    changed = amended(corpus, new_corpus)
    updates = []

    def update():
        folder = work / "updated"
        fresh(folder)
        shutil.copytree(work / "index", folder)
        start, cpu = time.perf_counter(), time.process_time()
        summary = update_index(folder, new_corpus)
        updates.append(summary)
        CPU.append(time.process_time() - cpu)
        return time.perf_counter() - start

    ts = [update() for _ in range(args.repeat)]
    summary = updates[-1]
    rows.append((f"update, {changed} passages changed ({100 * changed / n:.1f}%)", statistics.median(ts), ts,
                 read_manifest_timings(work / "updated")))
    t, ts, m = timed(lambda: build_index(new_corpus, fresh(work / "rebuilt"), model=str(model)), args.repeat)
    rows.append(("fresh build on the changed corpus", t, ts, m.build["seconds"]))

    a, b = open_index(work / "updated"), open_index(work / "rebuilt")
    same = (a.corpus.ids == b.corpus.ids
            and np.allclose(np.load(work / "updated" / "embeddings.npy"), np.load(work / "rebuilt" / "embeddings.npy"),
                            atol=1e-6)
            and a.bm25.rank(QUERIES, 10) == b.bm25.rank(QUERIES, 10)
            and [[p for p, _ in r] for r in a.dense.rank(QUERIES, 10)] == [[p for p, _ in r] for r in b.dense.rank(QUERIES, 10)])
    assert summary["encoded"] == summary["changed"] == changed, summary

    t, ts, _ = timed(lambda: open_index(work / "index", dense=False), max(3, args.repeat))
    rows.append(("open_index, BM25 only", t, ts, {}))
    t, ts, idx = timed(lambda: open_index(work / "index"), max(3, args.repeat))
    rows.append(("open_index, BM25 + dense (model loaded)", t, ts, {}))
    t, ts, _ = timed(lambda: idx.dense.rank(QUERIES, 10) and idx.bm25.rank(QUERIES, 10), 3)
    rows.append((f"rank {len(QUERIES)} questions, dense + BM25 top-10", t, ts, {}))

    print(f"{'step':<52} {'median s':>9} {'CPU s':>7}  runs            where the time goes (s)")
    cpu = iter(CPU)
    for name, t, ts, parts in rows:
        runs = ", ".join(f"{x:.2f}" for x in ts)
        used = statistics.median([next(cpu) for _ in ts])
        detail = ", ".join(f"{k} {v:.2f}" for k, v in parts.items() if v >= 0.05)
        print(f"{name:<52} {t:9.2f} {used:7.2f}  [{runs}]  {detail}")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nupdate: {summary['unchanged']} unchanged, {summary['changed']} changed, {summary['encoded']} encoded, "
          f"{summary['tokenized']} tokenised; equal to the fresh build: {same}")
    sizes = {p.name: p.stat().st_size for p in (work / "index").iterdir() if p.is_file()}
    sizes["bm25/"] = sum(p.stat().st_size for p in (work / "index" / "bm25").iterdir())
    sizes["tokens/"] = sum(p.stat().st_size for p in (work / "index" / "tokens").iterdir())
    print("index size: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))


def read_manifest_timings(folder: Path) -> dict:
    from lex_dpr.retrieval.index import read_manifest

    return read_manifest(folder).updates[-1].get("timings", {})


if __name__ == "__main__":
    main()
