#!/usr/bin/env bash
# The whole data flow as a user's shell script:
#   preprocess laws + admin rules (+ precedents) → make-pairs → merge-corpus → validate → stats
# Usage: scripts/pipeline.sh [SRC_DIR=data/sample] [OUT_DIR=out/<name of SRC_DIR>] [extra make-pairs flags...]
#   scripts/pipeline.sh data/sample
#   scripts/pipeline.sh ../shared/data/lexdpr out/shared --hn-per-q 32
set -euo pipefail
SRC=${1:-data/sample}
OUT=${2:-out/$(basename "$SRC")}
shift $(( $# > 2 ? 2 : $# )) || true
LEX=${LEX_DPR:-lex-dpr}

$LEX preprocess --src-dir "$SRC" --glob "laws/**/*.json" --out-law "$OUT/law_passages.jsonl" --workers 2
$LEX preprocess --src-dir "$SRC" --glob "admin_rules/**/*.json" --out-admin "$OUT/admin_passages.jsonl" --workers 2
$LEX make-pairs --law "$OUT/law_passages.jsonl" --admin "$OUT/admin_passages.jsonl" --use-admin-for-prec \
  --prec-json-dir "$SRC/precedents" --out "$OUT/pairs_train.jsonl" "$@"
$LEX merge-corpus --law "$OUT/law_passages.jsonl" --admin "$OUT/admin_passages.jsonl" \
  --prec "$OUT/prec_fallback_passages.jsonl" --out "$OUT/merged_corpus.jsonl"
$LEX validate --pairs "$OUT/pairs_train.jsonl" --pairs "$OUT/pairs_train_valid.jsonl" \
  --passages "$OUT/merged_corpus.jsonl" --json "$OUT/validate.json"
$LEX stats --passages "$OUT/merged_corpus.jsonl" --pairs "$OUT/pairs_train.jsonl" --out-dir "$OUT/stats"
echo "done: $OUT"
