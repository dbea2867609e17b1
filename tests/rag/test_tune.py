"""`rag tune`: every mode scored on validation pairs, the best stored in the index and used by ask."""

import orjson

from lex_dpr.rag.tune import BONUSES
from tests._cli import lex_dpr


def test_tune_writes_the_index_settings_that_ask_then_uses(index_copy, sample_training_data, tmp_path):
    valid = sample_training_data["valid_pairs"]
    done = lex_dpr(["rag", "tune", "--index", str(index_copy), "--pairs", str(valid), "--json",
                    str(tmp_path / "tune.json"), "--quiet"])
    assert done.exit_code == 0, done.output
    result = orjson.loads((tmp_path / "tune.json").read_bytes())
    labels = [c["method"] for c in result["candidates"]]
    assert labels.count("weighted") == 11 * len(BONUSES) and labels.count("rrf") == 1
    assert labels.count("independent") == 5
    bonuses = {c["bonus"] for c in result["candidates"] if c["method"] == "weighted"}
    assert bonuses == set(BONUSES)  # training pairs given: every weight with every uncited bonus
    best = result["best"]
    assert best["recall"] == max(c["recall"] for c in result["candidates"])
    assert result["seen_queries"] + result["unseen_queries"] == result["queries"] > 0
    assert result["unseen_queries"] > 0  # the training pairs (the _valid file's sibling) were found
    stored = orjson.loads((index_copy / "retrieval.json").read_bytes())
    assert stored["retrieval"]["method"] == best["method"]
    asked = lex_dpr(["rag", "ask", "불법행위 손해배상", "--index", str(index_copy), "--json"])
    name = orjson.loads(asked.stdout)["settings"]["retrieval"]
    expected = {"weighted": f"w={best['weight']:.2f}" if best["weight"] is not None else "", "rrf": "rrf",
                "independent": "independent"}[best["method"]]
    assert expected in name
    # a flag still wins over the tuned mode
    forced = lex_dpr(["rag", "ask", "불법행위 손해배상", "--index", str(index_copy), "--json", "--retrieval", "rrf"])
    assert "rrf" in orjson.loads(forced.stdout)["settings"]["retrieval"]


def test_no_bonus_scores_the_weights_alone_and_stores_none(index_copy, sample_training_data, tmp_path):
    (index_copy / "cited.json").write_text('{"passages": []}')  # from an earlier tune that chose a bonus
    done = lex_dpr(["rag", "tune", "--index", str(index_copy), "--pairs", str(sample_training_data["valid_pairs"]),
                    "--no-bonus", "--json", str(tmp_path / "tune.json"), "--quiet"])
    assert done.exit_code == 0, done.output
    result = orjson.loads((tmp_path / "tune.json").read_bytes())
    assert {c["bonus"] for c in result["candidates"]} == {0.0} and result["unseen_queries"] > 0
    assert "uncited_bonus" not in orjson.loads((index_copy / "retrieval.json").read_bytes())["retrieval"]
    assert not (index_copy / "cited.json").exists()


def test_tune_needs_both_halves(sample_training_data, tmp_path):
    from lex_dpr.retrieval.index import build_index

    build_index(sample_training_data["passages"], tmp_path / "bm25", dense=False)
    done = lex_dpr(["rag", "tune", "--index", str(tmp_path / "bm25"), "--pairs",
                    str(sample_training_data["valid_pairs"]), "--quiet"])
    assert done.exit_code == 1 and "this index has only BM25" in done.stderr
    assert not (tmp_path / "bm25" / "retrieval.json").exists()


def test_a_broken_settings_file_is_named(index_copy):
    (index_copy / "retrieval.json").write_text("[1, 2]")
    done = lex_dpr(["rag", "ask", "불법행위", "--index", str(index_copy)])
    assert done.exit_code == 1 and "retrieval.json: not a retrieval settings file" in done.stderr


def test_the_k_tuned_for_is_the_default_and_a_flag_still_wins(index_copy, sample_training_data):
    done = lex_dpr(["rag", "tune", "--index", str(index_copy), "--pairs", str(sample_training_data["valid_pairs"]),
                    "--k", "4", "--quiet"])
    assert done.exit_code == 0, done.output
    asked = lex_dpr(["rag", "ask", "불법행위 손해배상", "--index", str(index_copy), "--json"])
    assert len(orjson.loads(asked.stdout)["contexts"]) == 4
    wider = lex_dpr(["rag", "ask", "불법행위 손해배상", "--index", str(index_copy), "--json", "--k", "6"])
    assert len(orjson.loads(wider.stdout)["contexts"]) == 6


def test_questions_tune_the_question_weight_on_their_dev_split_only(index_copy, sample_training_data, tmp_path):
    from pathlib import Path

    from lex_dpr.rag.answer import open_answerer, question_views
    from lex_dpr.rag.config import load_rag_config
    from lex_dpr.retrieval.fusion import fuse

    rows = [orjson.loads(x) for x in (Path(__file__).parents[2] / "data" / "questions" / "questions.jsonl")
            .read_bytes().splitlines()]
    sample = [r for r in rows if r.get("in_sample")]
    assert {r["split"] for r in sample} == {"dev", "test"}
    questions = tmp_path / "questions.jsonl"
    questions.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in sample) + b"not json\n")
    done = lex_dpr(["rag", "tune", "--index", str(index_copy), "--pairs", str(sample_training_data["valid_pairs"]),
                    "--questions", str(questions), "--json", str(tmp_path / "tune.json"), "--quiet"])
    assert done.exit_code == 0, done.output
    assert "no question reranker: 25 questions to train it on, fewer than 30" in done.stdout
    assert not (index_copy / "rerank.json").exists()
    result = orjson.loads((tmp_path / "tune.json").read_bytes())
    assert len(result["questions"]) == 11 and result["question_best"]["recall"] == max(
        c["recall"] for c in result["questions"])
    # the chosen weight is the best on the dev questions, computed here independently
    answerer = open_answerer(index_copy)
    dev = [(r["question"], set(r["positive_passages"])) for r in sample if r["split"] == "dev"]
    dense_view, bm25_view = question_views(answerer.index, load_rag_config())  # as questions see the halves
    dense, bm25 = dense_view.rank([q for q, _ in dev], 100), bm25_view.rank([q for q, _ in dev], 100)
    k = result["k"]

    def recall(w):
        hits = [len(rel & {p for p, _ in fuse(a, b, w)[:k]}) / len(rel) for a, b, (_, rel) in zip(dense, bm25, dev, strict=True)]
        return sum(hits) / len(hits)

    assert abs(recall(result["question_best"]["weight"]) - result["question_best"]["recall"]) < 1e-9
    stored = orjson.loads((index_copy / "retrieval.json").read_bytes())["retrieval"]
    if stored["method"] == "weighted":
        assert stored["question_weight"] == result["question_best"]["weight"]
        assert answerer.cfg.retrieval.question_weight == stored["question_weight"]
    # a file with nothing to tune on is one line
    only_test = tmp_path / "test_only.jsonl"
    only_test.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in sample if r["split"] == "test"))
    done = lex_dpr(["rag", "tune", "--index", str(index_copy), "--pairs", str(sample_training_data["valid_pairs"]),
                    "--questions", str(only_test), "--quiet"])
    assert done.exit_code == 1 and "no question to tune on (3 test split)" in done.stderr


def test_an_uncited_bonus_is_stored_with_the_passages_training_cited_and_ask_uses_it(index_copy, sample_training_data,
                                                                                    tmp_path):
    from lex_dpr.data.corpus import read_pairs
    from lex_dpr.rag.answer import open_answerer
    from lex_dpr.rag.config import read_cited
    from lex_dpr.rag.tune import Candidate, TuneResult, write_settings

    train = read_pairs(sample_training_data["pairs"])
    cited = {pid for p in train for pid in p["positive_passages"]}
    result = TuneResult(6, 10, 5, 5, cited=cited)
    result.best = Candidate("weighted", weight=0.7, bonus=0.3)
    write_settings(index_copy, result, sample_training_data["valid_pairs"], "f")
    assert orjson.loads((index_copy / "retrieval.json").read_bytes())["retrieval"]["uncited_bonus"] == 0.3
    assert read_cited(index_copy) == cited
    statement = "임대차 계약의 해지와 손해배상의 범위"
    with_bonus = open_answerer(index_copy).retriever.rank([statement], 10)[0]
    without = open_answerer(index_copy, overrides=["retrieval.uncited_bonus=0"]).retriever.rank([statement], 100)[0]
    assert [pid for pid, _ in with_bonus] != [pid for pid, _ in without[:10]]  # the bonus reordered them
    # the bonus's order, recomputed here from the list without it (scores are the fused ones + 0.3 where uncited)
    lifted = sorted(((pid, s + 0.3 * (pid not in cited)) for pid, s in without), key=lambda kv: (-kv[1], kv[0]))
    assert [pid for pid, _ in with_bonus][:3] == [pid for pid, _ in lifted][:3]
    asked = lex_dpr(["rag", "ask", statement, "--index", str(index_copy), "--json"])
    assert asked.exit_code == 0 and "uncited +0.30" in orjson.loads(asked.stdout)["settings"]["retrieval"]
    for flag in (["--weight", "0.7"], ["--retrieval", "weighted"]):  # a mode or weight given is used as given
        given = lex_dpr(["rag", "ask", statement, "--index", str(index_copy), "--json", *flag])
        assert "uncited" not in orjson.loads(given.stdout)["settings"]["retrieval"]
    # settings that name a bonus without the passages it skips: one line that says what to do
    (index_copy / "cited.json").unlink()
    broken = lex_dpr(["rag", "ask", statement, "--index", str(index_copy)])
    assert broken.exit_code == 1 and "cited.json: missing" in broken.stderr and "Traceback" not in broken.output
    assert lex_dpr(["rag", "ask", statement, "--index", str(index_copy), "--set", "retrieval.uncited_bonus=0"]
                   ).exit_code == 0
    # tuned again without a bonus: the file goes with it
    write_settings(index_copy, result, sample_training_data["valid_pairs"], "f")
    result.best = Candidate("weighted", weight=0.7)
    write_settings(index_copy, result, sample_training_data["valid_pairs"], "f")
    assert not (index_copy / "cited.json").exists()
    assert "uncited_bonus" not in orjson.loads((index_copy / "retrieval.json").read_bytes())["retrieval"]
