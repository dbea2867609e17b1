"""Two sweep agents on a real PostgreSQL server (a throwaway cluster started by the test as `nobody`)."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    if not (PG_BIN / "initdb").is_file():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as an unprivileged user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        as_user = ["runuser", "-u", "nobody", "--"]
    base = Path(tempfile.mkdtemp(prefix="lexdpr-pg-"))  # pytest's tmp folders are root-only: nobody cannot enter
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_user:
        shutil.chown(base, "nobody")
        shutil.chown(sock, "nobody")
    init = subprocess.run([*as_user, str(PG_BIN / "initdb"), "-D", str(data), "-U", "lexdpr", "--auth=trust",
                           "--no-sync"], capture_output=True, text=True)
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}")
    port = _free_port()
    start = subprocess.run([*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "30",
                            "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                           capture_output=True, text=True)
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {(base / 'log').read_text()[-300:]}")
    try:
        created = subprocess.run([*as_user, str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "lexdpr",
                                  "sweeps"], capture_output=True, text=True)
        assert created.returncode == 0, created.stderr
        yield f"postgresql://lexdpr@127.0.0.1:{port}/sweeps"
    finally:
        subprocess.run([*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_two_agents_share_a_postgres_study(postgres, sample_training_data, tmp_path):
    fixed = {"model.vocab_size": 400, "model.embedding_dim": 16, "trainer.batch_size": 8, "wandb.mode": "disabled",
             "data.pairs": sample_training_data["pairs"], "data.passages": sample_training_data["passages"],
             "data.valid_pairs": sample_training_data["valid_pairs"]}
    config = tmp_path / "sweep.yaml"
    config.write_text("method: random\nmetric:\n  name: eval/ndcg_at_10\nrun_cap: 2\nparameters:\n"
                      "  trainer.lr:\n    distribution: log_uniform_values\n    min: 0.02\n    max: 0.3\n"
                      "  trainer.epochs:\n    values: [1, 2]\n"
                      "fixed:\n" + "".join(f"  {k}: {v}\n" for k, v in fixed.items()), encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cli = [sys.executable, "-m", "lex_dpr.cli.main", "sweep"]
    made = subprocess.run([*cli, "create", "--config", str(config), "--storage", postgres, "--no-run-agent"], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    # the second agent works from another folder, as on another machine: only the database is shared
    other = tmp_path / "machine2"
    other.mkdir()
    sweep_id = next(line.split(": ", 1)[1] for line in config.read_text().splitlines() if line.startswith("sweep_id:"))
    agents = [subprocess.Popen([*cli, "agent", "--config", str(config)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True),
              subprocess.Popen([*cli, "agent", sweep_id, "--storage", postgres], cwd=other, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    for a in agents:
        _, err = a.communicate(timeout=400)
        assert a.returncode == 0, err
    status = subprocess.run([*cli, "status", sweep_id, "--storage", postgres, "--json", "t.json"], cwd=other, env=env,
                            capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    trials = orjson.loads((other / "t.json").read_bytes())
    assert [t["state"] for t in trials].count("complete") == 2 and len({t["number"] for t in trials}) == len(trials)
    runs = list((tmp_path / "sweeps" / sweep_id / "runs").glob("trial-*")) + list(
        (other / "sweeps" / sweep_id / "runs").glob("trial-*"))
    assert len(runs) == 2
