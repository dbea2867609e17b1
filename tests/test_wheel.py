"""The built wheel works outside the checkout: package data (models.yaml, bundled configs) ships inside it."""

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_trains_outside_the_checkout(sample_training_data, tmp_path):
    poetry = shutil.which("poetry")
    if poetry is None:
        pytest.skip("poetry is not on PATH (scripts/install.sh installs it)")
    dist = tmp_path / "dist"
    subprocess.run([poetry, "build", "-f", "wheel", "-o", str(dist)], cwd=ROOT, check=True, capture_output=True)
    wheel = next(dist.glob("lex_dpr-*.whl"))
    venv = tmp_path / "venv"
    # a venv without its own copy of pip (bootstrapping one costs seconds) where this environment's pip can install
    # into it; otherwise the venv's own
    own_pip = importlib.util.find_spec("pip") is None
    subprocess.run([sys.executable, "-m", "venv", *([] if own_pip else ["--without-pip"]), str(venv)], check=True,
                   capture_output=True)
    py = venv / "bin" / "python"
    pip = [py, "-m", "pip"] if own_pip else [sys.executable, "-m", "pip", "--python", str(py)]
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    # The dependencies come from the project's environment (a plain path entry: its editable lex_dpr.pth,
    # which points at this checkout, is not processed), so nothing is downloaded.
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args):
        return subprocess.run([venv / "bin" / "lex-dpr", *args], cwd=elsewhere, capture_output=True, text=True)

    where = subprocess.run([py, "-c", "import lex_dpr; print(lex_dpr.__file__)"], cwd=elsewhere, check=True,
                           capture_output=True, text=True).stdout
    assert where.startswith(str(site)), where  # the installed wheel, not the checkout
    assert run("--help").returncode == 0
    shown = run("config", "show", "train_lora")
    assert shown.returncode == 0 and "multilingual-e5-small" in shown.stdout
    done = run("train", "--config", "train", "--quiet", "--out-dir", "run", f"data.pairs={sample_training_data['pairs']}",
               f"data.passages={sample_training_data['passages']}", "model.vocab_size=400", "model.embedding_dim=16",
               "trainer.batch_size=8", "trainer.epochs=1", "wandb.mode=disabled")
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "run" / "bi_encoder" / "final" / "model.safetensors").is_file()
    assert "validation pairs:" in done.stderr  # the _valid sibling of data.pairs, found without any cwd default
