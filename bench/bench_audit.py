"""Times the static adapter audit as users run it: whole processes, no torch import.

    poetry run python bench/bench_audit.py

Builds 5 Qwen2-layout bases with real depth (28 layers, as Qwen2.5-1.5B; tiny widths so files stay small)
and 20 peft LoRA adapters on all 7 projections (392 LoRA tensors each), then times
`lex-dpr audit-adapter ADAPTER --base BASE` (one adapter) and `--matrix` over 20 × 5, as subprocesses.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTHS = [32, 48, 64, 32, 48]
LAYERS = [28, 28, 28, 36, 36]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build(root: Path) -> tuple[list[Path], list[Path]]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    bases, adapters = [], []
    for i, (width, layers) in enumerate(zip(WIDTHS, LAYERS, strict=True)):
        torch.manual_seed(i)
        folder = root / f"base-{i}-{width}x{layers}"
        config = Qwen2Config(vocab_size=1000, hidden_size=width, intermediate_size=width * 2,
                             num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2)
        Qwen2ForCausalLM(config).save_pretrained(folder)
        bases.append(folder)
        for j in range(4):
            model = Qwen2ForCausalLM.from_pretrained(folder)
            out = root / f"adapter-{i}-{j}"
            get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS,
                                             task_type="CAUSAL_LM")).save_pretrained(out)
            adapters.append(out)
    return bases, adapters


def timed(cmd: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    rc = subprocess.run(cmd, capture_output=True).returncode
    return time.perf_counter() - start, rc


def main() -> None:
    cli = [sys.executable, "-m", "lex_dpr.cli.main", "audit-adapter"]
    with tempfile.TemporaryDirectory() as tmp:
        bases, adapters = build(Path(tmp))
        one = [timed([*cli, str(adapters[0]), "--base", str(bases[0])]) for _ in range(5)]
        print(f"one adapter, whole process: median {statistics.median(t for t, _ in one):.3f} s "
              f"(5 runs, exit {one[0][1]})")
        matrix = [*cli, "--matrix", *(x for a in adapters for x in ("--adapters", str(a))),
                  *(x for b in bases for x in ("--bases", str(b))), "--csv", str(Path(tmp) / "m.csv")]
        runs = [timed(matrix) for _ in range(3)]
        print(f"20 x 5 matrix, whole process: median {statistics.median(t for t, _ in runs):.3f} s "
              f"(3 runs, exit {runs[0][1]})")
        code = ("import sys, time; t = time.perf_counter(); from lex_dpr.audit.checks import audit; "
                f"r = audit({str(adapters[0])!r}, {str(bases[0])!r}); "
                "print(f'{time.perf_counter() - t:.3f}', r.verdict, 'torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
        print(f"in-process audit: {out[0]} s, verdict {out[1]}, torch imported: {out[2]}")


if __name__ == "__main__":
    main()
