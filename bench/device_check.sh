#!/usr/bin/env bash
# The GPU paths in one run (bf16 LoRA training, bf16 and 8-bit generation, vLLM + rag batch, torchrun), figures
# in OUT_DIR/figures.json; without a GPU it runs the CPU parts and says what it skipped. See bench/device_check.py.
# Usage: bash bench/device_check.sh [OUT_DIR=out/device_check]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}
exec timeout 900 "$PY" bench/device_check.py "${1:-out/device_check}"
