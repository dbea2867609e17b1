"""`lex-dpr train` and `lex-dpr config` check the whole config before any heavy import or work."""

import subprocess
import sys



_NO_TORCH = """
import sys
from lex_dpr.cli.main import main
sys.argv = ["lex-dpr", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
print("EXIT", code, "HEAVY", heavy)
"""


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-c", _NO_TORCH, *args], capture_output=True, text=True, cwd=cwd,
                          env={"COLUMNS": "60", "PATH": "/usr/bin:/bin"})


def test_bad_values_fail_at_once_without_torch(tmp_path):
    done = _run("train", "data.pairs=p.jsonl", "data.passages=c.jsonl", "trainer.precision=bf61",
                "wandb.mode=offlne", "lora.r=0", cwd=tmp_path)
    assert "EXIT 2 HEAVY []" in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: overrides: 3 problems: ")
    assert not list(tmp_path.iterdir())  # no run folder, no record left saying "running"


def test_missing_inputs_are_named_before_training(tmp_path):
    done = _run("train", f"data.pairs={tmp_path / 'nope.jsonl'}", cwd=tmp_path)
    assert "EXIT 2 HEAVY []" in done.stdout
    assert "'data.passages' is not set" in done.stderr and "nope.jsonl: file not found" in done.stderr


def test_train_check_prints_the_reproducing_command(sample_training_data, tmp_path):
    done = _run("train", "--config", "train", "--check", f"data.pairs={sample_training_data['pairs']}",
                f"data.passages={sample_training_data['passages']}", "trainer.lr=0.05", cwd=tmp_path)
    assert "EXIT 0 HEAVY []" in done.stdout, done.stderr
    assert f"validation pairs: {sample_training_data['valid_pairs']}" in done.stderr
    command = next(line for line in done.stdout.splitlines() if line.startswith("lex-dpr train "))
    assert "trainer.lr=0.05" in command and f"data.valid_pairs={sample_training_data['valid_pairs']}" in command
    assert not list(tmp_path.iterdir())


def test_config_check_and_show(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  lrr: 1\n  precison: bf16\ndata:\n  hard_negative_ratio: 2\n", encoding="utf-8")
    done = _run("config", "check", str(bad))
    assert "EXIT 2 HEAVY []" in done.stdout and "bad.yaml: 3 problems: unknown key 'trainer.lrr'" in done.stderr
    done = _run("config", "show", "train_lora", "lora.r=16")
    assert "EXIT 0 HEAVY []" in done.stdout and "  r: 16\n" in done.stdout and "name: multilingual-e5-small" in done.stdout
