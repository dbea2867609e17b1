"""The question reranker: its trees score as LightGBM does, its file is data and deterministic, bad files are one line."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from lex_dpr.data.corpus import Corpus
from lex_dpr.errors import InputError
from lex_dpr.retrieval.rerank import FEATURES, Candidates, PassageInfo, Reranker, Trees, features, train


def _ranker_data(seed: int, queries: int = 60, per_query: int = 20):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(queries * per_query, len(FEATURES)))
    X[:, 5] = np.round(X[:, 5])  # ties on a split threshold
    y = (X[:, 0] + 0.5 * X[:, 3] + rng.normal(scale=0.5, size=len(X)) > 1).astype(int)
    return X, y, [per_query] * queries


@pytest.mark.parametrize("leaves,rounds", [(3, 50), (7, 30), (31, 20)])
def test_trees_score_every_row_as_lightgbm_does(leaves, rounds):
    import lightgbm

    X, y, groups = _ranker_data(leaves)
    model = lightgbm.LGBMRanker(objective="lambdarank", n_estimators=rounds, num_leaves=leaves, min_child_samples=5,
                                verbose=-1, random_state=0, deterministic=True, num_threads=1).fit(X, y, group=groups)
    booster = model.booster_
    fresh = np.random.default_rng(99).normal(size=(500, len(FEATURES)))
    fresh[:10, 5] = X[:10, 5]  # values equal to a threshold go left, as LightGBM sends them
    ours = Trees(booster.dump_model()["tree_info"]).predict(fresh)
    np.testing.assert_allclose(ours, booster.predict(fresh), rtol=0, atol=1e-9)


def test_an_unsupported_split_is_refused():
    tree = {"tree_structure": {"split_feature": 0, "threshold": 1.0, "decision_type": "==", "missing_type": "None",
                               "left_child": {"leaf_value": 1.0}, "right_child": {"leaf_value": 0.0}}}
    with pytest.raises(InputError, match="only numerical '<=' splits"):
        Trees([tree])


def _corpus() -> Corpus:
    ids = [f"LAW_1_제{i}조" for i in range(1, 9)]
    texts = [f"제{i}조 본문 혼인 {'임대인 ' * i}" for i in range(1, 9)]
    records = [{"id": pid, "title": "민법", "heading": ("혼인적령" if i == 3 else f"조문{i}"), "type": "law"}
               for i, pid in enumerate(ids, start=1)]
    return Corpus(ids, texts, records)


def _cands(corpus: Corpus, n: int = 40) -> tuple[list[Candidates], list[set[str]]]:
    rng = np.random.default_rng(0)
    out, rel = [], []
    for q in range(n):
        order = list(rng.permutation(corpus.ids))
        fused = [(pid, 1.0 - i / 10) for i, pid in enumerate(order)]
        out.append(Candidates(f"질문 {q} 결혼 가능해요?", fused[::-1], fused, fused))
        rel.append({corpus.ids[2]})  # the article whose heading the lexicon term names
    return out, rel


def test_the_file_is_deterministic_data_that_loads_back_with_the_same_scores(tmp_path):
    corpus = _corpus()
    info = PassageInfo(corpus, None, {corpus.ids[2]: 7})
    cands, rel = _cands(corpus)
    terms = [["혼인적령"]] * len(cands)
    first = Reranker.from_booster(train(cands, rel, info, terms, {"min_child_samples": 5}), info, {"k": 6})
    second = Reranker.from_booster(train(cands, rel, info, terms, {"min_child_samples": 5}), info, {"k": 6})
    a, b = first.save(tmp_path / "a.json"), second.save(tmp_path / "b.json")
    assert a.read_bytes() == b.read_bytes()
    doc = orjson.loads(a.read_bytes())
    assert doc["features"] == list(FEATURES) and doc["popularity"] == {corpus.ids[2]: 7} and doc["k"] == 6
    loaded = Reranker.load(a, corpus)
    top = loaded.rerank(cands[0], terms[0])
    assert top == first.rerank(cands[0], terms[0])
    assert top[0][0] == corpus.ids[2]  # learnt: the heading the lexicon term names comes first
    np.testing.assert_allclose(loaded.trees.predict(features(cands[0], loaded.info, terms[0])),
                               first.trees.predict(features(cands[0], info, terms[0])))


@pytest.mark.parametrize("content,needle", [(b"{not json", "cannot read the question reranker"),
                                            (b'{"features": []}', "cannot read the question reranker (KeyError"),
                                            (b'{"features": ["x"], "trees": []}', "trained on other features")])
def test_a_bad_reranker_file_is_one_line_naming_it_and_the_fix(tmp_path, content, needle):
    path = tmp_path / "rerank.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match="rerank.json") as err:
        Reranker.load(path, _corpus())
    assert needle in str(err.value) and "rag tune --questions" in str(err.value) and "\n" not in str(err.value)


def test_too_few_answerable_questions_train_nothing():
    corpus = _corpus()
    cands, rel = _cands(corpus, n=5)
    with pytest.raises(InputError, match="only 5 questions have an answering passage"):
        train(cands, rel, PassageInfo(corpus), [[]] * 5)


def test_an_articles_place_and_kind_are_read_from_its_record():
    ids = ["LAW_1_제2조", "LAW_1_제750조의2", "ADM_9_제1조", "PREC_1_요지1", "LAW_1_별표1", "LAW_1_제3조",
           "LAW_1_제585조", "LAW_1_제9조", "LAW_1_제8조"]
    records = [{"id": ids[0], "article": "제2조", "heading": "정의"},
               {"id": ids[1], "article": "제750조의2", "heading": "불법행위의 내용"},
               {"id": ids[2], "article": "제 1 조", "heading": "목적"},
               {"id": ids[3], "type": "prec"},  # no article: not a numbered article
               {"id": ids[4], "article": "별표 1", "heading": None},
               {"id": ids[5], "article": "제3조", "heading": "용어의 정의"},
               # the letters inside other words: not a definition, not the purpose
               {"id": ids[6], "article": "제585조", "heading": "매도인의 목적물의 공탁, 경매권"},
               {"id": ids[7], "article": "제9조", "heading": "위임에 관한 규정의 준용"},
               {"id": ids[8], "article": "제8조", "heading": "영리목적의 광고성 정보 전송"}]
    info = PassageInfo(Corpus(ids, ["본문"] * len(ids), records))
    assert [info.article(pid) for pid in ids] == [
        (pytest.approx(np.log(3)), 1.0, 0.0), (pytest.approx(np.log(751)), 0.0, 0.0),
        (pytest.approx(np.log(2)), 0.0, 1.0), (-1.0, 0.0, 0.0), (-1.0, 0.0, 0.0),
        (pytest.approx(np.log(4)), 1.0, 0.0), (pytest.approx(np.log(586)), 0.0, 0.0),
        (pytest.approx(np.log(10)), 0.0, 0.0), (pytest.approx(np.log(9)), 0.0, 0.0)]
    cands = Candidates("정의가 뭐예요?", [], [], [(pid, 1.0) for pid in ids])
    F = features(cands, info)
    columns = [FEATURES.index(name) for name in ("article_number", "defines", "purpose")]
    assert F[:, columns].tolist() == [list(info.article(pid)) for pid in ids]
