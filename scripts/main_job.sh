#!/usr/bin/env bash
# The main job on the embedded sample, end to end: data pipeline → train the static model → evaluate it
# against BM25, popularity and kNN-label → check the run → index it and answer a question (rag ask) →
# synthetic questions → a two-trial preset sweep. Outputs under out/sample/.
# Usage: scripts/main_job.sh [SRC_DIR=data/sample] [OUT_DIR=out/sample]
set -euo pipefail
SRC=${1:-data/sample}
OUT=${2:-out/sample}
LEX=${LEX_DPR:-lex-dpr}

bash "$(dirname "$0")/pipeline.sh" "$SRC" "$OUT" --hn-per-q 8
rm -rf "$OUT/run"  # a fresh demo run each time; real runs refuse to overwrite and offer --resume
$LEX train --config configs/train.yaml --out-dir "$OUT/run" --quiet \
  data.pairs="$OUT/pairs_train.jsonl" data.valid_pairs="$OUT/pairs_train_valid.jsonl" \
  data.passages="$OUT/merged_corpus.jsonl" trainer.logging_steps=1
$LEX eval --passages "$OUT/merged_corpus.jsonl" --pairs "$OUT/pairs_train_valid.jsonl" \
  --train-pairs "$OUT/pairs_train.jsonl" --model "$OUT/run" --k 1 3 5 10 \
  --output "$OUT/eval_report.json" --markdown "$OUT/eval_report.md" --quiet
$LEX runs check "$OUT/run"
$LEX runs plot "$OUT/run" --out "$OUT/run/curves.png"
# Put it to work: an index over the corpus, a question answered from it (retrieval only: no LLM needed), and
# synthetic plain-language questions for the next training run (data.extra_pairs).
$LEX index build --passages "$OUT/merged_corpus.jsonl" --model "$OUT/run" --out "$OUT/index" --quiet
$LEX rag tune --index "$OUT/index" --pairs "$OUT/pairs_train_valid.jsonl" --questions data/questions/questions.jsonl --quiet
$LEX rag ask "고의나 과실로 남에게 손해를 입히면 배상해야 하나요?" --index "$OUT/index"
$LEX synth --passages "$OUT/merged_corpus.jsonl" --passage-types law,admin --llm none --n 12 \
  --out "$OUT/synthetic.jsonl" --force --quiet
# The command users type first: the preset sweep (the static family when no transformer model is at hand),
# created and run offline on Optuna; two trials here, on the sample.
rm -rf "$OUT/sweeps" "$OUT/sweep.yaml"
HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} $LEX sweep preset --output "$OUT/sweep.yaml" --sweeps-dir "$OUT/sweeps" \
  --count 2 --run-cap 2 --pairs "$OUT/pairs_train.jsonl" --passages "$OUT/merged_corpus.jsonl"
$LEX sweep best --config "$OUT/sweep.yaml" --sweeps-dir "$OUT/sweeps" --export "$OUT/sweep_best.yaml"
# Serve the index: start the HTTP service on a free loopback port, ask it one question, stop it (SIGTERM: 143).
PORT=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
$LEX serve --index "$OUT/index" --port "$PORT" > "$OUT/serve.log" 2>&1 &
SERVER=$!
python - "$PORT" <<'PY'
import json, sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(120):  # up to 60 s for the index to open
    try:
        urllib.request.urlopen(url + "/health", timeout=2)
        break
    except OSError:
        time.sleep(0.5)
else:
    sys.exit(f"serve did not answer /health at {url} within 60 s (see its log)")
ask = urllib.request.Request(url + "/search", data=json.dumps({"question": "남에게 손해를 입히면 배상해야 하나요?", "k": 3}).encode(),
                             headers={"content-type": "application/json"})
for hit in json.load(urllib.request.urlopen(ask, timeout=30))["results"]:
    print(f"  /search {hit['rank']}. {hit['law']} {hit['article']} ({hit['id']}) {hit['score']:.4f}")
PY
kill -TERM "$SERVER"
wait "$SERVER" || [ $? -eq 143 ]
echo "done: $OUT (model: $OUT/run/bi_encoder/final, report: $OUT/eval_report.md, index: $OUT/index, best sweep trial: $OUT/sweep_best.yaml, served and stopped: $OUT/serve.log)"
