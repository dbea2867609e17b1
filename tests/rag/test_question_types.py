"""A question is answered from statutes by default (`retrieval.question_types`); a statement from everything."""

from __future__ import annotations

QUESTION = "고의나 과실로 남에게 손해를 입히면 배상해야 하나요?"


def test_a_question_gets_statute_contexts_and_a_filter_that_would_empty_the_corpus_is_off(sample_index):
    from lex_dpr.rag.answer import open_answerer, question_filter

    answerer = open_answerer(sample_index)
    corpus = answerer.index.corpus
    keep = question_filter(corpus, ["law", "admin"])
    precedents = [pid for pid, rec in zip(corpus.ids, corpus.records, strict=True) if rec.get("type") == "prec"]
    assert precedents and not any(keep(pid) for pid in precedents)
    assert question_filter(corpus, ["nothing-like-this"]) is None  # would exclude every passage
    assert question_filter(corpus, None) is None
    contexts = answerer.answer([QUESTION])[0].contexts
    assert contexts and all(keep(c.pid) for c in contexts)
    everything = open_answerer(sample_index, overrides=["retrieval.question_types=null"])
    assert len(everything.answer([QUESTION])[0].contexts) == len(contexts)


def test_a_tuned_reranker_reorders_questions_only_and_can_be_switched_off(index_copy, sample_training_data):
    from pathlib import Path

    import orjson

    from lex_dpr.data.corpus import read_pairs
    from lex_dpr.rag.answer import build_retriever, open_answerer
    from lex_dpr.rag.config import load_rag_config
    from lex_dpr.rag.tune import tune_reranker, write_reranker
    from lex_dpr.retrieval.rerank import CANDIDATES, Candidates
    from lex_dpr.retrieval.index import open_index

    rows = [orjson.loads(x) for x in (Path(__file__).parents[2] / "data" / "questions" / "questions.jsonl")
            .read_bytes().splitlines()]
    dev = [(r["question"], set(r["positive_passages"])) for r in rows if r.get("in_sample") and r["split"] == "dev"]
    index = open_index(index_copy)
    cfg = load_rag_config()
    result = tune_reranker(index, dev, cfg, read_pairs(sample_training_data["pairs"]), k=6)
    assert result.questions == len(dev) and 0 <= result.recall_fused <= 1 and 0 <= result.recall_reranked <= 1
    result.recall_reranked = result.recall_fused + 0.1  # write it whatever the 22 sample questions say
    assert "questions are reranked" in write_reranker(index_copy, result)

    answerer = open_answerer(index_copy)
    reranker = answerer.retriever.reranker
    assert reranker is not None and "reranked" in answerer.retriever.name
    plain = build_retriever(answerer.index, answerer.cfg, rerank=False)
    question, statement = dev[0][0], "불법행위로 인한 손해배상청구권의 소멸시효 기산점"
    a, b = plain.first.rank([question], 100)[0], plain.second.rank([question], 100)[0]
    fused = plain.combine(a, b, CANDIDATES, plain.weight_for(question))
    want = [pid for pid, _ in reranker.reranker.rerank(Candidates(question, a, b, fused),
                                                      reranker.lexicon.terms(question))][:6]
    assert [c.pid for c in answerer.answer([question])[0].contexts] == want
    assert [c.pid for c in answerer.answer([statement])[0].contexts] == \
        [pid for pid, _ in plain.rank([statement], 6)[0]]  # statements are never reranked
    off = open_answerer(index_copy, overrides=["retrieval.rerank=false"])
    assert off.retriever.reranker is None
    assert [c.pid for c in off.answer([question])[0].contexts] == [pid for pid, _ in fused[:6]]
    assert off.fingerprint != answerer.fingerprint  # the rag cache keeps their answers apart

    result.recall_reranked = result.recall_fused - 0.1  # a reranker that does not help is removed
    assert "no reranker written" in write_reranker(index_copy, result)
    assert not (index_copy / "rerank.json").exists()


def test_a_question_nothing_in_the_index_matches_is_flagged_with_no_contexts(sample_index):
    import orjson

    from lex_dpr.rag.answer import open_answerer
    from tests._cli import lex_dpr

    answerer = open_answerer(sample_index)
    odd = ["😀😀🔥🙏", "*", "AND OR NOT", "ㅋㅋㅋ"]
    answers = answerer.answer([*odd, QUESTION])
    for ans in answers[:-1]:
        assert ans.flags == ["no_match"] and ans.contexts == [] and ans.cited == [] and ans.answer == "", ans.question
    assert answers[-1].contexts and answers[-1].flags == []  # a real question in the same batch is answered
    weightless = open_answerer(sample_index, overrides=["retrieval.weight=0"])  # BM25 only: no alphabetical six
    assert weightless.answer(["😀😀🔥🙏"])[0].flags == ["no_match"]
    done = lex_dpr(["rag", "ask", "😀😀🔥🙏", "--index", str(sample_index)])
    assert done.exit_code == 0 and done.stderr.strip().startswith("no match: no passage matches this question")
    assert len(done.stderr.strip().splitlines()) == 1 and "contexts" not in done.stdout
    shown = orjson.loads(lex_dpr(["rag", "ask", "AND OR NOT", "--index", str(sample_index), "--json"]).stdout)
    assert shown["flags"] == ["no_match"] and shown["contexts"] == [] and shown["cited"] == []


def test_searching_the_statute_rows_alone_finds_what_reading_deeper_and_filtering_did(sample_index):
    from pathlib import Path

    import orjson

    from lex_dpr.rag.answer import open_answerer

    rows = [orjson.loads(x) for x in (Path(__file__).parents[2] / "data" / "questions" / "questions.jsonl")
            .read_bytes().splitlines()]
    questions = [r["question"] for r in rows if r.get("in_sample")]
    answerer = open_answerer(sample_index)
    dense, bm25 = answerer.retriever.inner.first, answerer.retriever.inner.second
    keep = dense.keep
    assert keep is bm25.keep and keep.rows is not None and 0 < keep.rows.sum() < len(keep.rows)
    kept = [dense.rank(questions, 30), bm25.rank(questions, 30), answerer.retriever.rank(questions, 6)]
    keep.rows = None  # the other way: read 4×, 16×, … deeper and drop what the filter excludes
    deeper = [dense.rank(questions, 30), bm25.rank(questions, 30), answerer.retriever.rank(questions, 6)]
    assert kept[0] == deeper[0]  # dense: the same passages, order and scores
    for a, b in zip(kept[1], deeper[1], strict=True):  # BM25: the same; equal scores may come in another order
        assert sorted((round(s, 5), pid) for pid, s in a) == sorted((round(s, 5), pid) for pid, s in b)
    assert kept[2] == deeper[2]
    assert all(keep(pid) for ranking in kept[0] + kept[1] for pid, _ in ranking)
