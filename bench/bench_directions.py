"""Directions of issue #17 measured and not made default: each prints what it would add to the default path.

    poetry run python bench/bench_directions.py [--index out/shared/index_default] [--pairs-dir out/shared]
        [--synthetic synthetic.jsonl] [--only bridge,headings,statements,synthetic,prf,features,params]

- bridge: precedents as a bridge. BM25 over the 판시사항 of the training precedents that cite a law or admin
  article; a question's top 30 precedents vote for the articles they cite (score share / √citations). Scored
  alone, as extra candidates (its top 20 beside the fused top 50) and as three more reranker features.
- headings: BM25 over article headings (law name + heading) with the lexicon-expanded question, as a third
  candidate list beside the fused top 50.
- statements: a LambdaMART reranker for statements (판시사항 queries) trained on the valid pairs (5-fold CV,
  grouped by precedent), with and without the citation-count feature, scored on the held-out articles.
- synthetic: the question reranker trained on the dev questions plus offline synthetic questions
  (`lex-dpr synth --llm none`), scored on the test questions.
- prf: pseudo-relevance feedback for questions: the 8 terms with the highest tf·idf in the question's BM25
  top 5 (terms it already has left out) put before it, then BM25 and the fused lists again.

- features: five more reranker features, each alone and all together: the IDF-weighted share of the question's
  morphemes (with its lexicon terms; or its own only) the passage holds, the cosine of the question with the
  passage's law name + heading as the index's model encodes them (raw, and less the best of the 50), and the
  share of its chapter and section morphemes the question names. Dev CV chooses, test only reports.

- params: the question reranker's own features and LambdaMART settings: the 17 features it had before the
  article ones (number, 정의/목적 heading), then all of them with each of seven settings (rounds, leaves,
  minimum questions a leaf, learning rate); dev CV chooses, test only reports.

Questions come from `data/questions/questions.jsonl` (dev trains, test scores). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]


def _jsonl(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


class Setup:
    def __init__(self, index: str, pairs_dir: Path, questions: Path) -> None:
        from lex_dpr.rag.answer import build_retriever, question_filter
        from lex_dpr.rag.config import load_rag_config, read_index_settings
        from lex_dpr.retrieval.index import open_index
        from lex_dpr.retrieval.questions import load_lexicon
        from lex_dpr.retrieval.rerank import PassageInfo

        self.cfg = load_rag_config(None, [], read_index_settings(index))
        self.index = open_index(index)
        self.fused = build_retriever(self.index, self.cfg, rerank=False)
        self.keep = question_filter(self.index.corpus, self.cfg.retrieval.question_types)
        self.lexicon = load_lexicon(self.cfg.retrieval.lexicon)
        self.train = _jsonl(pairs_dir / "pairs_train.jsonl")
        self.valid = _jsonl(pairs_dir / "pairs_train_valid.jsonl")
        held = pairs_dir / "pairs_train_heldout.jsonl"
        self.heldout = _jsonl(held) if held.is_file() else []
        rows = _jsonl(questions)
        self.dev = [(r["question"], set(r["positive_passages"])) for r in rows if r["split"] == "dev"]
        self.test = [(r["question"], set(r["positive_passages"])) for r in rows if r["split"] == "test"]
        popularity = Counter(pid for p in self.train for pid in p["positive_passages"])
        self.info = PassageInfo(self.index.corpus, self.index.bm25.index, dict(sorted(popularity.items())))
        self.info.warm(self.index.corpus.ids)

    def terms(self, q: str) -> list[str]:
        return self.lexicon.terms(q) if self.lexicon is not None else []

    def candidates(self, texts: list[str]):
        from lex_dpr.retrieval.rerank import CANDIDATES, Candidates

        a, b = self.fused.first.rank(texts, 100), self.fused.second.rank(texts, 100)
        return [Candidates(q, x, y, self.fused.combine(x, y, CANDIDATES, self.fused.weight_for(q)))
                for q, x, y in zip(texts, a, b, strict=True)]


def _fit(rows):
    import lightgbm

    from lex_dpr.retrieval.rerank import PARAMS

    X, y, groups = [], [], []
    for pids, F, rel in rows:
        labels = [int(p in rel) for p in pids]
        if any(labels):
            X.append(F)
            y += labels
            groups.append(len(labels))
    model = lightgbm.LGBMRanker(**PARAMS)
    model.fit(np.vstack(X), np.asarray(y), group=groups)
    return model


def _order(model, pids, F) -> list[str]:
    return [pids[i] for i in np.argsort(-model.predict(F), kind="stable")]


def _mean_recall(orders, rels, k) -> float:
    from lex_dpr.evaluation.metrics import recall_at_k

    return float(np.mean([recall_at_k(o, r, k) for o, r in zip(orders, rels, strict=True)]))


def _cv(rows, folds=5, key=None) -> list[list[str]]:
    """Each row's order by a model trained on the other folds."""
    fold = [key(i) % folds if key else i % folds for i in range(len(rows))]
    out: list[list[str] | None] = [None] * len(rows)
    for f in range(folds):
        model = _fit([r for r, g in zip(rows, fold, strict=True) if g != f])
        for i, g in enumerate(fold):
            if g == f:
                out[i] = _order(model, rows[i][0], rows[i][1])
    return out  # type: ignore[return-value]


def bridge(s: Setup) -> None:
    from lex_dpr.retrieval.bm25 import BM25Index
    from lex_dpr.retrieval.rerank import Candidates, features
    from lex_dpr.data.tokenize import tokenize_many

    docs: dict[str, tuple[list[str], set[str]]] = defaultdict(lambda: ([], set()))
    for p in s.train:
        cited = [x for x in p["positive_passages"] if s.keep is None or s.keep(x)]
        if cited:
            texts, arts = docs[p["query_id"].rsplit("_Q", 1)[0]]
            if p["query_text"] not in texts:
                texts.append(p["query_text"])
            arts.update(cited)
    names = sorted(docs)
    cites = [sorted(docs[n][1]) for n in names]
    index = BM25Index.from_texts([" ".join(docs[n][0]) for n in names])
    print(f"bridge: {len(names)} precedents citing {len({a for c in cites for a in c})} law/admin articles")

    def votes(texts):
        out = []
        for ids, scores in index.search(tokenize_many([s.lexicon.expand(q) if s.lexicon else q for q in texts]), 30):
            v: dict[str, float] = defaultdict(float)
            top = scores[0] if len(scores) and scores[0] > 0 else 1.0
            for d, sc in zip(ids.tolist(), scores.tolist(), strict=True):
                for a in cites[d] if sc > 0 else ():
                    v[a] += sc / top / math.sqrt(len(cites[d]))
            out.append(sorted(v.items(), key=lambda x: (-x[1], x[0])))
        return out

    def rows(items, with_bridge):
        texts = [q for q, _ in items]
        out = []
        for c, b, (q, rel) in zip(s.candidates(texts), votes(texts), items, strict=True):
            fused = list(c.fused)
            if with_bridge:
                have = {p for p, _ in fused}
                fused += [(p, 0.0) for p, _ in b[:20] if p not in have]
            F = features(Candidates(q, c.dense, c.bm25, fused), s.info, s.terms(q))
            if with_bridge:
                where = {p: (i, v) for i, (p, v) in enumerate(b)}
                top = b[0][1] if b else 1.0
                F = np.hstack([F, [[where.get(p, (150, 0.0))[1] / top, where.get(p, (150, 0.0))[0],
                                    where.get(p, (150, 0.0))[1]] for p, _ in fused]])
            out.append(([p for p, _ in fused], F, rel))
        return out

    for name, items in (("dev", s.dev), ("test", s.test)):
        b = votes([q for q, _ in items])
        rels = [r for _, r in items]
        print(f"  bridge alone, {name}: R@6 {_mean_recall([[p for p, _ in x] for x in b], rels, 6):.4f}, "
              f"R@20 {_mean_recall([[p for p, _ in x] for x in b], rels, 20):.4f}")
    for with_bridge in (False, True):
        dev, test = rows(s.dev, with_bridge), rows(s.test, with_bridge)
        cv = _mean_recall(_cv(dev), [r for *_, r in dev], 6)
        model = _fit(dev)
        got = _mean_recall([_order(model, p, F) for p, F, _ in test], [r for *_, r in test], 6)
        print(f"  reranker {'with' if with_bridge else 'without'} the bridge: dev CV R@6 {cv:.4f}, test R@6 {got:.4f}")


def headings(s: Setup) -> None:
    from lex_dpr.retrieval.bm25 import BM25Index
    from lex_dpr.data.tokenize import tokenize_many

    corpus = s.index.corpus
    rows = [i for i, pid in enumerate(corpus.ids) if s.keep is None or s.keep(pid)]
    index = BM25Index.from_texts([f"{corpus.records[i].get('title', '')} {corpus.records[i].get('heading') or ''}"
                                  for i in rows])
    for name, items in (("dev", s.dev), ("test", s.test)):
        texts, rels = [q for q, _ in items], [r for _, r in items]
        fused = [[p for p, _ in c.fused] for c in s.candidates(texts)]
        found = index.search(tokenize_many([s.lexicon.expand(q) if s.lexicon else q for q in texts]), 20)
        heads = [[corpus.ids[rows[d]] for d, v in zip(ids, sc, strict=True) if v > 0] for ids, sc in found]
        union = [f + [p for p in h if p not in f] for f, h in zip(fused, heads, strict=True)]
        print(f"headings, {name}: fused top 50 R@50 {_mean_recall(fused, rels, 50):.4f}; + heading top 20 "
              f"{_mean_recall(union, rels, 70):.4f}; headings alone R@6 {_mean_recall(heads, rels, 6):.4f}")


def statements(s: Setup) -> None:
    from lex_dpr.evaluation.metrics import ndcg_at_k
    from lex_dpr.retrieval.citations import CitationFinder
    from lex_dpr.retrieval.rerank import FEATURES, features

    finder = CitationFinder.from_records(s.index.corpus.records)

    def rows(pairs, drop):
        cands = s.candidates([p["query_text"] for p in pairs])
        return [([x for x, _ in c.fused], np.delete(features(c, s.info, []), drop, axis=1),
                 set(p["positive_passages"])) for c, p in zip(cands, pairs, strict=True)]

    def cited(order, query):
        first = finder.find(query)
        return first + [p for p in order if p not in first]

    vq, hq = [p["query_text"] for p in s.valid], [p["query_text"] for p in s.heldout]
    for label, drop in (("all features", []), ("without citation counts", [FEATURES.index("popularity")])):
        valid, held = rows(s.valid, drop), rows(s.heldout, drop)
        key = [zlib.crc32(p["query_id"].rsplit("_Q", 1)[0].encode()) for p in s.valid]
        cv = _cv(valid, key=lambda i: key[i])
        model = _fit(valid)
        base_v = np.mean([ndcg_at_k(cited(p, q), r, 10) for (p, _, r), q in zip(valid, vq, strict=True)])
        cv_v = np.mean([ndcg_at_k(cited(o, q), r, 10) for o, (_, _, r), q in zip(cv, valid, vq, strict=True)])
        base_h = _mean_recall([cited(p, q) for (p, _, _), q in zip(held, hq, strict=True)], [r for *_, r in held], 10)
        got_h = _mean_recall([cited(_order(model, p, F), q) for (p, F, _), q in zip(held, hq, strict=True)],
                             [r for *_, r in held], 10)
        print(f"statement reranker, {label}: valid nDCG@10 {base_v:.4f} → CV {cv_v:.4f}; "
              f"held-out R@10 {base_h:.4f} → {got_h:.4f}")


def synthetic(s: Setup, path: Path) -> None:
    from lex_dpr.retrieval.rerank import features

    syn = [(p["query_text"], set(p["positive_passages"])) for p in _jsonl(path)]

    def rows(items):
        cands = s.candidates([q for q, _ in items])
        return [([p for p, _ in c.fused], features(c, s.info, s.terms(q)), rel)
                for c, (q, rel) in zip(cands, items, strict=True)]

    dev, test, more = rows(s.dev), rows(s.test), rows(syn)
    rels = [r for *_, r in test]
    print(f"synthetic: fused test R@6 {_mean_recall([p for p, _, _ in test], rels, 6):.4f}")
    for label, train in (("dev", dev), *((f"dev + {n} synthetic", dev + more[:n]) for n in (300, 1000, 3000)),
                         ("3000 synthetic only", more[:3000])):
        model = _fit(train)
        print(f"  reranker trained on {label}: test R@6 "
              f"{_mean_recall([_order(model, p, F) for p, F, _ in test], rels, 6):.4f}")


def prf(s: Setup, feedback: int = 5, n_terms: int = 8) -> None:
    from lex_dpr.retrieval.bm25 import search_text
    from lex_dpr.retrieval.token_cache import TokenCache
    from lex_dpr.data.tokenize import tokenize_many

    corpus, bm25 = s.index.corpus, s.fused.second
    docs = TokenCache(Path(s.index.folder) / "tokens").get_many(
        [search_text({**r, "text": t}) for r, t in zip(corpus.records, corpus.texts, strict=True)])
    df: Counter = Counter()
    for toks in docs:
        df.update(set(toks or []))

    def expand(q: str) -> str:
        have = set(tokenize_many([s.lexicon.expand(q) if s.lexicon else q])[0])
        weight: Counter = Counter()
        for pid, _ in bm25.rank([q], feedback)[0]:
            toks = docs[corpus.index[pid]] or []
            for w, c in Counter(toks).items():
                if w not in have and len(w) > 1:
                    weight[w] += c / len(toks) * math.log(len(docs) / (1 + df[w]))
        return " ".join(w for w, _ in weight.most_common(n_terms)) + " " + q  # still ends as a question

    for name, items in (("dev", s.dev), ("test", s.test)):
        texts, rels = [q for q, _ in items], [r for _, r in items]
        more = [expand(q) for q in texts]
        for label, queries in (("as asked", texts), ("with feedback terms", more)):
            b = [[p for p, _ in r] for r in bm25.rank(queries, 50)]
            f = [[p for p, _ in c.fused] for c in s.candidates(queries)]
            print(f"prf, {name}, {label}: BM25 R@6 {_mean_recall(b, rels, 6):.4f} R@50 {_mean_recall(b, rels, 50):.4f}; "
                  f"fused R@6 {_mean_recall(f, rels, 6):.4f} R@50 {_mean_recall(f, rels, 50):.4f}")


def more_features(s: Setup) -> None:
    from lex_dpr.data.tokenize import tokenize_many
    from lex_dpr.retrieval.rerank import features

    corpus, bm25 = s.index.corpus, s.index.bm25.index
    indptr, vocab, n = bm25._bm25.scores["indptr"], bm25._bm25.vocab_dict, len(corpus.ids)

    def idf(term: str) -> float:
        t = vocab.get(term)
        df = 0 if t is None else int(indptr[t + 1] - indptr[t])
        return math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else 0.0

    heads = [" ".join(v for v in (r.get("title"), r.get("heading")) if isinstance(v, str) and v) for r in corpus.records]
    unique = sorted(set(heads))
    vectors = np.asarray(s.index.dense.encoder.encode_document(unique, batch_size=256, normalize_embeddings=True),
                         dtype=np.float32)
    head_row = {h: i for i, h in enumerate(unique)}

    def chapter(pid: str) -> str:
        meta = corpus.records[corpus.index[pid]].get("meta")
        meta = meta if isinstance(meta, dict) else {}
        return " ".join(v for v in (meta.get("chapter"), meta.get("section")) if isinstance(v, str))

    def rows(items):
        texts = [q for q, _ in items]
        qv = s.index.dense.encode_queries(texts)
        out = []
        for c, (q, rel), qe in zip(s.candidates(texts), items, qv, strict=True):
            terms = s.terms(q)
            pids = [p for p, _ in c.fused]
            own, *term_lists = tokenize_many([q, *terms])
            words = sorted(set(own) | {w for t in term_lists for w in t})
            weights = np.array([idf(t) for t in words])
            held = bm25.holds(np.array([corpus.index[p] for p in pids]), words) if words else None
            mine = np.array([t in set(own) for t in words], dtype=bool)
            cov = (held * weights).sum(1) / max(weights.sum(), 1e-9) if words else np.zeros(len(pids))
            cov_own = ((held[:, mine] * weights[mine]).sum(1) / max(weights[mine].sum(), 1e-9)
                       if words and mine.any() else np.zeros(len(pids)))
            sim = np.array([float(vectors[head_row[heads[corpus.index[p]]]] @ qe) for p in pids])
            named = set(words)
            chap = np.array([len(set(w) & named) / max(1, len(set(w))) for w in tokenize_many([chapter(p) for p in pids])])
            out.append((pids, features(c, s.info, terms), np.column_stack([cov, cov_own, sim, sim - sim.max(), chap]),
                        rel))
        return out

    dev, test = rows(s.dev), rows(s.test)
    names = ["IDF share held", "IDF share held, the question's own", "heading cosine", "heading cosine − best",
             "chapter share"]
    for label, picked in [("the 20 features", []), *((f"+ {m}", [i]) for i, m in enumerate(names)),
                          ("+ all five", list(range(5)))]:
        d = [(p, np.hstack([F, X[:, picked]]), r) for p, F, X, r in dev]
        t = [(p, np.hstack([F, X[:, picked]]), r) for p, F, X, r in test]
        cv = _mean_recall(_cv(d), [r for *_, r in d], 6)
        model = _fit(d)
        got = _mean_recall([_order(model, p, F) for p, F, _ in t], [r for *_, r in t], 6)
        print(f"reranker features, {label}: dev CV R@6 {cv:.4f}, test R@6 {got:.4f}")


def params(s: Setup) -> None:
    import lex_dpr.retrieval.rerank as R

    def rows(items, columns):
        texts = [q for q, _ in items]
        return [([p for p, _ in c.fused], R.features(c, s.info, s.terms(q))[:, :columns], rel)
                for c, (q, rel) in zip(s.candidates(texts), items, strict=True)]

    base = dict(R.PARAMS)
    settings = [(50, 3, 50, 0.1), (100, 3, 50, 0.1), (200, 3, 50, 0.05), (50, 7, 50, 0.1), (100, 7, 20, 0.05),
                (50, 3, 20, 0.1), (100, 5, 30, 0.05)]
    try:
        for columns, grid in ((17, settings[:1]), (len(R.FEATURES), settings)):
            dev, test = rows(s.dev, columns), rows(s.test, columns)
            for rounds, leaves, min_child, rate in grid:
                R.PARAMS.update(n_estimators=rounds, num_leaves=leaves, min_child_samples=min_child,
                                learning_rate=rate)
                cv = _mean_recall(_cv(dev), [r for *_, r in dev], 6)
                model = _fit(dev)
                got = _mean_recall([_order(model, p, F) for p, F, _ in test], [r for *_, r in test], 6)
                print(f"reranker, {columns} features, {rounds} rounds, {leaves} leaves, {min_child} a leaf, rate "
                      f"{rate}: dev CV R@6 {cv:.4f}, test R@6 {got:.4f}")
    finally:
        R.PARAMS.clear()
        R.PARAMS.update(base)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="out/shared/index_default")
    ap.add_argument("--pairs-dir", default="out/shared")
    ap.add_argument("--questions", default=str(ROOT / "data" / "questions" / "questions.jsonl"))
    ap.add_argument("--synthetic", help="Synthetic pairs from `lex-dpr synth --llm none` (for `synthetic`).")
    ap.add_argument("--only", default="bridge,headings,statements,synthetic,prf,features,params")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    s = Setup(args.index, Path(args.pairs_dir), Path(args.questions))
    only = set(args.only.split(","))
    if "bridge" in only:
        bridge(s)
    if "headings" in only:
        headings(s)
    if "statements" in only and s.heldout:
        statements(s)
    if "synthetic" in only and args.synthetic:
        synthetic(s, Path(args.synthetic))
    if "prf" in only:
        prf(s)
    if "features" in only:
        more_features(s)
    if "params" in only:
        params(s)


if __name__ == "__main__":
    main()
