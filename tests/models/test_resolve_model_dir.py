"""Run folder → model folder: one rule for every loader (``RUN``, ``RUN/bi_encoder``, ``final/``, any folder)."""

from lex_dpr.models.run_folder import FINAL, RUN_SUBDIR, resolve_model_dir, run_label


def test_a_run_folder_resolves_to_its_final_model(tmp_path):
    run = tmp_path / "runs" / "static"
    assert resolve_model_dir(run) == run  # nothing trained yet: the path itself
    (run / RUN_SUBDIR).mkdir(parents=True)
    assert resolve_model_dir(run) == run
    final = run / RUN_SUBDIR / FINAL
    final.mkdir()
    for given in (run, run / RUN_SUBDIR, final, str(run)):
        assert resolve_model_dir(given) == final
    fold = tmp_path / "kfold" / "ensemble"
    fold.mkdir(parents=True)
    assert resolve_model_dir(fold) == fold
    legacy = tmp_path / "old"
    (legacy / FINAL).mkdir(parents=True)
    assert resolve_model_dir(legacy) == legacy / FINAL


def test_run_label():
    assert run_label("runs/static/bi_encoder/final") == run_label("runs/static") == "static"
    assert run_label("BAAI/bge-m3") == "bge-m3" and run_label("static") == "static"
    assert run_label("bi_encoder/final") == "bi_encoder/final"  # nothing left: the name as given


def test_a_fingerprint_and_the_visualize_titles_use_the_same_rule(tmp_path):
    from lex_dpr.models.fingerprint import model_fingerprint, resolve_model_folder
    from lex_dpr.visualize.run import model_label

    assert resolve_model_folder is resolve_model_dir  # the name retrieval.index.encode imports
    run = tmp_path / "runs" / "static"
    final = run / RUN_SUBDIR / FINAL
    final.mkdir(parents=True)
    (final / "config.json").write_text('{"dim": 4}', encoding="utf-8")
    (run / RUN_SUBDIR / "metrics.jsonl").write_text("{}\n", encoding="utf-8")  # beside final/: not the model's
    assert model_fingerprint(run) == model_fingerprint(run / RUN_SUBDIR) == model_fingerprint(final)
    assert model_label(str(final)) == model_label(str(run)) == "static"
    assert model_label("no/such/model") == "no/such/model"
