"""Data-parallel training against one process at the same global batch, on the shared data.

    poetry run python bench/bench_ddp.py --work /tmp/ddp [--pairs-dir out/shared] [--batch 1024] [--runs one ddp ddp-nogather]

Three runs of the shipped config (`lex-dpr train --config train`), in WORK:

  one           one process, trainer.batch_size=B
  ddp           torchrun --standalone --nproc_per_node 2, trainer.batch_size=B/2 on each rank (global B); each
                query's negatives are both ranks' passages (trainer.gather_across_devices, the default)
  ddp-nogather  the same, trainer.gather_across_devices=false: each rank's own B/2 passages only

then `lex-dpr eval --no-fusion --baseline bm25 --k 10` of the three models on the valid pairs and on the held-out
articles (make-pairs --heldout-articles). Prints each run's wall time and the eval tables; asserts nothing. A run
whose final/ exists is not trained again. On CPU the ranks use gloo, one thread each (OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--pairs-dir", default="out/shared")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--runs", nargs="+", default=["one", "ddp", "ddp-nogather"])
    args = ap.parse_args()
    work, data = Path(args.work), Path(args.pairs_dir)
    base = ["train", "--config", "train", "--quiet", f"data.pairs={data / 'pairs_train.jsonl'}",
            f"data.passages={data / 'merged_corpus.jsonl'}", "wandb.mode=disabled"]
    bindir = Path(sys.executable).parent
    lex = str(bindir / "lex-dpr") if (bindir / "lex-dpr").exists() else "lex-dpr"
    torchrun = shutil.which("torchrun", path=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}") or "torchrun"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    commands = {
        "one": [lex, *base, "--out-dir", str(work / "one"), f"trainer.batch_size={args.batch}"],
        "ddp": [torchrun, "--standalone", "--nproc_per_node=2", "-m", "lex_dpr.cli.main", *base,
                "--out-dir", str(work / "ddp"), f"trainer.batch_size={args.batch // 2}"],
        "ddp-nogather": [torchrun, "--standalone", "--nproc_per_node=2", "-m", "lex_dpr.cli.main", *base,
                         "--out-dir", str(work / "ddp-nogather"), f"trainer.batch_size={args.batch // 2}",
                         "trainer.gather_across_devices=false"],
    }
    for name in args.runs:
        final = work / name / "bi_encoder" / "final"
        if final.is_dir():
            print(f"{name}: {final} exists, not trained again")
            continue
        run_env = {**env, "OMP_NUM_THREADS": "1"} if name != "one" else env
        print("$", " ".join(commands[name]), flush=True)
        start = time.perf_counter()
        subprocess.run(commands[name], check=True, env=run_env)
        print(f"{name}: {time.perf_counter() - start:.1f} s wall", flush=True)
    models = [x for name in args.runs for x in ("--model", str(work / name))]
    for pairs in ("pairs_train_valid.jsonl", "pairs_train_heldout.jsonl"):
        if (data / pairs).is_file():
            command = [lex, "eval", "--passages", str(data / "merged_corpus.jsonl"), "--pairs", str(data / pairs),
                       *models, "--baseline", "bm25", "--no-fusion", "--k", "10", "--output", str(work / f"eval_{pairs}.json")]
            print("$", " ".join(command), flush=True)
            subprocess.run(command, check=True, env=env)


if __name__ == "__main__":
    main()
