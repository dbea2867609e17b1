import subprocess
import sys

import pytest

DATA_COMMANDS = ["preprocess", "make-pairs", "merge-corpus", "validate", "stats", "parse-refs"]
HEAVY = ("torch", "transformers", "sentence_transformers", "peft", "faiss", "optuna", "wandb", "lightgbm", "sklearn",
         "umap", "numba", "matplotlib", "fastapi", "uvicorn")


def _command_paths() -> list[list[str]]:
    """Every command and sub-command registered on the app (``["runs", "list"]``, ...), found by walking it."""
    import typer

    from lex_dpr.cli.main import app

    def walk(command, prefix: list[str]) -> list[list[str]]:
        paths = [prefix]
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths += walk(sub, [*prefix, name])
        return paths

    return walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("argv", [["--help"], *([c, "--help"] for c in DATA_COMMANDS)])
def test_help_and_data_commands_do_not_import_torch(argv):
    code = ("import sys; from lex_dpr.cli.main import app\n"
            f"try: app({argv!r})\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_every_command_is_found():
    paths = [" ".join(p) for p in _command_paths()]
    assert {"train", "eval", "inspect", "audit-adapter", "runs", "runs list", *DATA_COMMANDS} <= set(paths)


@pytest.mark.parametrize("argv", [[*p, "--help"] for p in _command_paths()], ids=lambda a: " ".join(a[:-1]) or "app")
def test_every_help_runs_without_heavy_imports(argv):
    code = ("import sys; from lex_dpr.cli.main import app\n"
            f"try: app({argv!r}, prog_name='lex-dpr')\nexcept SystemExit as e: assert not e.code, e.code\n"
            f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage: lex-dpr" in done.stdout and "HEAVY []" in done.stdout


def test_module_entry_points_accept_the_cli_flags(tmp_path, sample_dir):
    cmd = [sys.executable, "-m", "lex_dpr.data_processing.preprocess_auto", "--src-dir", str(sample_dir / "laws"),
           "--out-law", str(tmp_path / "l.jsonl"), "--out-admin", str(tmp_path / "a.jsonl"),
           "--out-prec", str(tmp_path / "p.jsonl"), "-q"]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert (tmp_path / "l.jsonl").stat().st_size > 0
    missing = subprocess.run([*cmd[:4], "/nope", *cmd[5:]], capture_output=True, text=True)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "not a directory" in missing.stderr
