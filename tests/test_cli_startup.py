import subprocess
import sys

import pytest

DATA_COMMANDS = ["preprocess", "make-pairs", "merge-corpus", "validate", "stats", "parse-refs"]


@pytest.mark.parametrize("argv", [["--help"], *([c, "--help"] for c in DATA_COMMANDS)])
def test_help_and_data_commands_do_not_import_torch(argv):
    code = ("import sys; from lex_dpr.cli.main import app\n"
            f"try: app({argv!r})\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_module_entry_points_accept_the_cli_flags(tmp_path, sample_dir):
    cmd = [sys.executable, "-m", "lex_dpr.data_processing.preprocess_auto", "--src-dir", str(sample_dir / "laws"),
           "--out-law", str(tmp_path / "l.jsonl"), "--out-admin", str(tmp_path / "a.jsonl"),
           "--out-prec", str(tmp_path / "p.jsonl"), "-q"]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert (tmp_path / "l.jsonl").stat().st_size > 0
    missing = subprocess.run([*cmd[:4], "/nope", *cmd[5:]], capture_output=True, text=True)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "not a directory" in missing.stderr
