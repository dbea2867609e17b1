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


def _help(argv: list[str]) -> tuple[str, str]:
    """Run ``lex-dpr ARGV`` in a fresh interpreter; its output and the ``EXIT <code>`` / ``HEAVY [...]`` lines."""
    code = ("import sys; from lex_dpr.cli.main import app\n"
            f"try:\n    app({argv!r}, prog_name='lex-dpr')\n    code = 'none'\nexcept SystemExit as e:\n    code = e.code\n"
            f"print('EXIT', code)\nprint('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout, done.stdout.splitlines()[-2]


@pytest.mark.parametrize("argv", [["--help"], *([c, "--help"] for c in DATA_COMMANDS)])
def test_help_and_data_commands_do_not_import_torch(argv):
    out, exit_line = _help(argv)
    assert exit_line == "EXIT 0"  # --help exits 0 through SystemExit, as click does
    assert out.splitlines()[-1] == "HEAVY []"
    usage = " ".join(["Usage: lex-dpr", *argv[:-1]])
    assert usage + " [OPTIONS]" in out, out


def test_every_command_is_found():
    paths = [" ".join(p) for p in _command_paths()]
    assert {"train", "eval", "inspect", "audit-adapter", "runs", "runs list", *DATA_COMMANDS} <= set(paths)


def _summary(path: list[str]) -> str:
    """The first line of the help that ``lex-dpr PATH --help`` shows, whitespace collapsed."""
    import typer

    from lex_dpr.cli.main import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return " ".join((command.help or "").strip().split("\n\n")[0].split())


@pytest.mark.parametrize("argv", [[*p, "--help"] for p in _command_paths()], ids=lambda a: " ".join(a[:-1]) or "app")
def test_every_help_runs_without_heavy_imports(argv):
    out, exit_line = _help(argv)
    assert exit_line == "EXIT 0" and out.splitlines()[-1] == "HEAVY []", out
    assert " ".join(["Usage: lex-dpr", *argv[:-1]]) + " [OPTIONS]" in out, out
    summary = _summary(argv[:-1])  # the command's own first line of help, wrapped to the terminal
    assert summary and summary in " ".join(out.split()), (summary, out)


def test_module_entry_points_accept_the_cli_flags(tmp_path, sample_dir):
    cmd = [sys.executable, "-m", "lex_dpr.data_processing.preprocess_auto", "--src-dir", str(sample_dir / "laws"),
           "--out-law", str(tmp_path / "l.jsonl"), "--out-admin", str(tmp_path / "a.jsonl"),
           "--out-prec", str(tmp_path / "p.jsonl"), "-q"]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert (tmp_path / "l.jsonl").stat().st_size > 0
    missing = subprocess.run([*cmd[:4], "/nope", *cmd[5:]], capture_output=True, text=True)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "not a directory" in missing.stderr
