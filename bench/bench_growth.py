"""Measured growth (#20): the real pipeline, step by step, on corpora of about 10k, 100k and 1M passages.

    python bench/bench_growth.py --work /tmp/growth --sizes 10000 100000 --workers 1 2 --out bench_growth

For each size S and each worker count W, in ``WORK/sizes/S/wW/``, every step is a ``lex-dpr`` subprocess, the
commands of ``scripts/pipeline.sh`` (its default make-pairs flags) plus the index and the questions:

  preprocess-laws   lex-dpr preprocess --src-dir SRC --glob "laws/**/*.json" --out-law law_passages.jsonl --workers W
  preprocess-admin  lex-dpr preprocess --src-dir SRC --glob "admin_rules/**/*.json" --out-admin admin_passages.jsonl --workers W
  make-pairs        lex-dpr make-pairs --law … --admin … --use-admin-for-prec --prec-json-dir SRC/precedents
                    --out pairs_train.jsonl --workers W            (its Kiwi cache removed first: a cold run)
  merge-corpus      lex-dpr merge-corpus --law … --admin … --prec prec_fallback_passages.jsonl --out merged_corpus.jsonl
  index-build       lex-dpr index build --passages merged_corpus.jsonl --model MODEL --out index --workers W
                    (flat FAISS + BM25; it borrows make-pairs' Kiwi cache, as the product does)
  rag-batch         lex-dpr rag batch --index index --input questions.jsonl --output answers.jsonl --llm none
                    (1,000 questions: make-pairs' train queries, evenly spaced; with W > 1, W processes
                    `--shard I/W` at once and `lex-dpr rag merge`, as docs/scale.md shows)

merge-corpus has no workers option: it runs once per (S, W) all the same. Each step is timed by wall clock
(``time.perf_counter`` around the child), its peak RSS is GNU time's ``%M`` (``/usr/bin/time -f "%e %M"``: the
largest single process of its tree, since the kernel folds reaped grandchildren in as a maximum, not a sum;
the child's ``ru_maxrss`` from ``os.wait4`` would start at this process's own size), and the whole
tree's resident memory is also sampled every 0.2 s with psutil (``tree_rss_mb``: the sum that matters with
worker processes). The 1-minute load average before and after each step is recorded: on a shared machine wall
times are noisy. ``OUT/growth.json`` holds one record per (size, workers, step) and is written after every
step; a (size, workers, step) already there, whose outputs still exist, is not run again (resume). ``OUT/growth.png``
plots wall time and peak RSS against passages (log-log, one line per step and workers).

The transformation (how a corpus of about S passages is made from the shared data, SRC = ``WORK/sizes/S/src``):

* The shared data (``../shared/data/lexdpr``: 49 laws, 20 admin rules, 20,237 precedents) gives
  ``PASSAGES_PER_COPY`` = 15,638 merged passages (6,472 law, 1,211 admin, 7,955 precedent fallback passages;
  ``scripts/pipeline.sh``). S is reached by copies 0..C of all three: ``floor(S / 15,638)`` full copies and one
  partial copy with the remaining fraction r (for S below one copy, copy 0 alone, partial). A partial copy takes
  ``round(n·r)`` of each kind's n files, evenly spaced over the laws and rules sorted by file size and over the
  precedents sorted by name (precedents citing a law left out become fallback pairs, so the passage count is
  only about S; the real count is measured).
* Copy 0 is the shared data unchanged. Copy c > 0 has a tag T = ``"CP" + letters(c)`` (CPB, CPC, …, CPBA: no
  digit, so the 참조조문 parser never reads it as an article number) and
    - renames each law (법령ID → ``9`` + c as 4 digits + the ID; 법령명_한글 and 법령명약칭 → ``T name``) and
      each admin rule (행정규칙일련번호 and 행정규칙ID the same way; 행정규칙명 → ``T name``). A *prefix*, not a suffix:
      the parser reads "같은 법 시행령" as the previous law's name + " 시행령", and "T 민법" + " 시행령" is the
      renamed "T 민법 시행령". `LawCatalog` keys names without spaces and middle dots, so "T민법" is a distinct law;
    - renames each precedent (판례일련번호 the same way) and rewrites its 참조조문: every name of a shared law or
      rule (full name or 약칭, matched spacing- and middle-dot-insensitively, not preceded by a letter or digit,
      longest first) gets the prefix ``T ``, so its citations resolve within copy c exactly as copy 0's do in
      copy 0 (and a name of a law outside the corpus stays outside it);
    - puts ``T `` at the start of every sentence of the texts the pipeline reads (law 조문/항/호/목내용 outside
      headings, admin 조문내용 and 별표내용, precedent 판시사항 and 판결요지 after their [n] labels), except
      before a deletion marker, a 제N장 heading line or a [n] label, so the parsers cut the same articles. Kiwi
      works sentence by sentence and skips sentences it has seen (``tokenize._tokenize``, the token cache): with
      texts equal across copies, tokenising would not grow with the corpus at all. Headings (조문제목) and
      precedent bodies (판결본문, read but unused by make-pairs) are unchanged.
  ``check.json`` in WORK records the check run after generating copy 1: copy 1's laws and rules parse to as many
  passages as copy 0's, each precedent's citations resolve in copy 1 for the same reasons as in copy 0, and with
  both copies in one catalog no citation crosses copies.
* Copies are generated once into ``WORK/copies/cNNN`` and hard-linked into each size's ``src``; an existing
  copy or size folder (with its ``.done`` file) is not generated again.

The text of copy c is copy 0's with a tag; dense vectors and BM25 scores of copies are therefore near-ties, so
nothing here says anything about retrieval quality at scale, only about time and memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "lexdpr"
PASSAGES_PER_COPY = 15_638
KINDS = ("laws", "admin_rules", "precedents")
STEPS = ("preprocess-laws", "preprocess-admin", "make-pairs", "merge-corpus", "index-build", "rag-batch")
NO_WORKERS = {"merge-corpus"}  # steps whose command has no workers option

# --- the transformation -------------------------------------------------------------------------------------------


def tag(c: int) -> str:
    """'' for copy 0, else 'CP' + c in base-26 letters (1 → CPB, 25 → CPZ, 26 → CPBA)."""
    if c == 0:
        return ""
    letters = ""
    while c:
        c, d = divmod(c, 26)
        letters = chr(ord("A") + d) + letters
    return "CP" + letters


def new_id(c: int, old: str) -> str:
    return old if c == 0 else f"9{c:04d}{old}"


_NAME_SEP = r"[\s·ㆍ・‧･]*"
# A sentence start (text start, line break, <br/>, after "…다.", before "2." or "나." after a full stop, after an
# [n] label run: where lex_dpr.data.tokenize cuts pieces), then an article head
# ("제3조(정의) ") the tag goes after, so that an admin rule's tag never ends the previous article's body.
_CUTS = re.compile(r"(?P<cut>^|\n+|<\s*br\s*/?\s*>|(?<=다\.)[ \t]+|(?<=[.?!])[ \t]+(?=\d+\.|[가-힣]\.)|(?:[\[〔]\s*\d+\s*[\]〕]\s*)+)"
                   r"(?P<head>[ \t]*제\s*\d+(?:-\d+)?\s*조(?:\s*의\s*\d+)?\s*\([^()\n]{1,80}\)[ \t]*)?", re.IGNORECASE)
# "제36조 삭제 <…> 제36조": deleted, but no deletion marker to lex_dpr's check; the tag would end up before 삭제.
_DELETED_HEAD = re.compile(r"\s*제\s*\d+(?:-\d+)?\s*조(?:\s*의\s*\d+)?\s*[<＜(]?\s*삭\s*제")
_LABEL_AHEAD = re.compile(r"\s*[\[〔]\s*\d+\s*[\]〕]")
_HEADING_LINE = re.compile(r"\s*제\s*\d+\s*(?:편|장|절|관)(?:\s|$)")
_LINE_END = re.compile(r"\n|<\s*br", re.IGNORECASE)


def mark(text: str, t: str) -> str:
    """``t + ' '`` at the start of every sentence of ``text`` (see the module docstring)."""
    from lex_dpr.utils.text import is_deletion_marker

    def add(m: re.Match) -> str:
        rest = text[m.end("cut"):]
        line = _LINE_END.split(rest, maxsplit=1)[0]
        after = _LINE_END.split(text[m.end():], maxsplit=1)[0]
        if (not after.strip() or _LABEL_AHEAD.match(rest) or _HEADING_LINE.match(line) or is_deletion_marker(line)
                or _DELETED_HEAD.match(line)):
            return m.group(0)
        return f"{m.group(0)}{t} "

    return _CUTS.sub(add, text)


def mark_value(value, t: str):
    if isinstance(value, str):
        return mark(value, t)
    if isinstance(value, list):
        return [mark_value(v, t) for v in value]
    return value


_LAW_TEXT_KEYS = {"조문내용", "항내용", "호내용", "목내용"}


def _mark_law_tree(node, t: str):
    if isinstance(node, list):
        return [_mark_law_tree(v, t) for v in node]
    if isinstance(node, dict):
        return {k: mark_value(v, t) if k in _LAW_TEXT_KEYS else _mark_law_tree(v, t) for k, v in node.items()}
    return node


def law_names(shared: Path) -> list[str]:
    """Every full name and 약칭 of the shared laws and admin rules."""
    names: list[str] = []
    for path in sorted((shared / "laws").glob("*.json")):
        law = json.loads(path.read_text(encoding="utf-8"))["법령"]
        for v in law if isinstance(law, list) else [law]:
            info = v.get("기본정보") or {}
            names += [str(info.get("법령명_한글") or ""), str(info.get("법령명약칭") or "")]
    for path in sorted((shared / "admin_rules").glob("*.json")):
        info = json.loads(path.read_text(encoding="utf-8"))["AdmRulService"].get("행정규칙기본정보") or {}
        names.append(str(info.get("행정규칙명") or ""))
    return [n.strip() for n in names if n.strip()]


def name_pattern(names: list[str]) -> re.Pattern:
    from lex_dpr.utils.text import law_name_key

    keys = sorted({law_name_key(n) for n in names if law_name_key(n)}, key=lambda k: (-len(k), k))
    alts = [_NAME_SEP.join(map(re.escape, k)) for k in keys]
    # not inside a word, except right after 현행 ("(현행자본시장과 금융투자업에 관한 법률 제176조 참조)")
    return re.compile(r"(?:(?<![0-9A-Za-z가-힣])|(?<=현행))(?:" + "|".join(alts) + ")")


def transform_law(doc: dict, c: int) -> dict:
    t = tag(c)
    law = doc["법령"]
    versions = law if isinstance(law, list) else [law]
    out = []
    for v in versions:
        v = dict(v)
        info = dict(v.get("기본정보") or {})
        info["법령ID"] = new_id(c, str(info["법령ID"]).strip())
        info["법령명_한글"] = f"{t} {str(info['법령명_한글']).strip()}"
        if str(info.get("법령명약칭") or "").strip():
            info["법령명약칭"] = f"{t} {str(info['법령명약칭']).strip()}"
        v["기본정보"] = info
        block = v.get("조문")
        if isinstance(block, dict):
            units = block.get("조문단위")
            units = units if isinstance(units, list) else [units]
            block = {**block, "조문단위": [_mark_law_tree(u, t) if isinstance(u, dict) and u.get("조문여부") != "전문" else u
                                       for u in units]}
            v["조문"] = block
        out.append(v)
    return {**doc, "법령": out if isinstance(law, list) else out[0]}


def transform_admin(doc: dict, c: int) -> dict:
    t = tag(c)
    svc = dict(doc["AdmRulService"])
    info = dict(svc["행정규칙기본정보"])
    info["행정규칙일련번호"] = new_id(c, str(info["행정규칙일련번호"]).strip())
    if str(info.get("행정규칙ID") or "").strip():
        info["행정규칙ID"] = new_id(c, str(info["행정규칙ID"]).strip())
    info["행정규칙명"] = f"{t} {str(info['행정규칙명']).strip()}"
    svc["행정규칙기본정보"] = info
    svc["조문내용"] = mark_value(svc.get("조문내용"), t)
    block = svc.get("별표")
    if isinstance(block, dict):
        units = block.get("별표단위")
        units = units if isinstance(units, list) else [units]
        svc["별표"] = {**block, "별표단위": [{**u, "별표내용": mark_value(u.get("별표내용"), t)} if isinstance(u, dict) else u
                                          for u in units]}
    return {**doc, "AdmRulService": svc}


def transform_precedent(doc: dict, c: int, names: re.Pattern) -> dict:
    t = tag(c)
    wrapped = "PrecService" in doc
    p = dict(doc["PrecService"] if wrapped else doc)
    for key in ("판례일련번호", "판례정보일련번호"):
        if str(p.get(key) or "").strip():
            p[key] = new_id(c, str(p[key]).strip())
    p["참조조문"] = names.sub(lambda m: f"{t} {m.group(0)}", str(p.get("참조조문") or ""))
    for key in ("판시사항", "판결요지"):
        if isinstance(p.get(key), str):
            p[key] = mark(p[key], t)
    return {**doc, "PrecService": p} if wrapped else p


def _files(shared: Path, kind: str) -> list[Path]:
    files = sorted((shared / kind).glob("*.json"))
    return sorted(files, key=lambda f: (f.stat().st_size, f.name)) if kind != "precedents" else files


def generate_copy(shared: Path, dest: Path, c: int) -> Path:
    """Copy c of the shared data into ``dest`` (skipped when ``dest/.done`` exists)."""
    import orjson

    if (dest / ".done").exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    names = name_pattern(law_names(shared))
    for kind in KINDS:
        (dest / kind).mkdir(parents=True)
        for src in _files(shared, kind):
            target = dest / kind / f"{new_id(c, src.stem)}.json"
            if c == 0:
                shutil.copyfile(src, target)
                continue
            doc = orjson.loads(src.read_bytes())
            doc = (transform_law(doc, c) if kind == "laws" else transform_admin(doc, c) if kind == "admin_rules"
                   else transform_precedent(doc, c, names))
            target.write_bytes(orjson.dumps(doc))
    (dest / ".done").write_text("ok\n")
    return dest


def plan(size: int) -> tuple[int, float]:
    """(full copies, fraction of one more copy) for about ``size`` passages."""
    full = size // PASSAGES_PER_COPY
    return full, round(size / PASSAGES_PER_COPY - full, 4)


def evenly(items: list, r: float) -> list:
    """``round(len(items) · r)`` of ``items``, evenly spaced."""
    return [x for i, x in enumerate(items) if math.floor((i + 1) * r) > math.floor(i * r)] if r < 1 else list(items)


def generate_size(work: Path, shared: Path, size: int, jobs: int) -> Path:
    src = work / "sizes" / str(size) / "src"
    if (src / ".done").exists():
        return src
    full, r = plan(size)
    copies = list(range(full + (1 if r > 0 else 0)))
    needed = [c for c in copies if not (work / "copies" / f"c{c:03d}" / ".done").exists()]
    if needed:
        print(f"generating copies {needed} of {shared} into {work / 'copies'}", flush=True)
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(needed)))) as pool:
            list(pool.map(generate_copy, [shared] * len(needed), [work / "copies" / f"c{c:03d}" for c in needed], needed))
        print(f"  {time.perf_counter() - start:.1f} s", flush=True)
    if 1 in copies and not (work / "check.json").exists():
        check = check_copies(work / "copies" / "c000", work / "copies" / "c001")
        (work / "check.json").write_text(json.dumps(check, ensure_ascii=False, indent=1))
    shutil.rmtree(src, ignore_errors=True)
    for c in copies:
        frac = r if c == full else 1.0
        for kind in KINDS:
            base = work / "copies" / f"c{c:03d}" / kind
            order = {f.stem: i for i, f in enumerate(_files(shared, kind))}
            files = sorted(base.glob("*.json"), key=lambda f: order[f.stem[5:] if c else f.stem])
            (src / kind / f"c{c:03d}").mkdir(parents=True)
            for f in evenly(files, frac):
                os.link(f, src / kind / f"c{c:03d}" / f.name)
    (src / ".done").write_text(json.dumps({"size": size, "full_copies": full, "fraction": r}) + "\n")
    return src


def check_copies(c0: Path, c1: Path) -> dict:
    """Copy 1 against copy 0: passages per source, citation outcomes, and no citation across copies."""
    import orjson

    from lex_dpr.data.sources.admin_rules import parse_admin_rule
    from lex_dpr.data.sources.laws import parse_law
    from lex_dpr.data.sources.precedents import read_precedent
    from lex_dpr.mining.refs import parse_references
    from lex_dpr.mining.resolve import LawCatalog
    from lex_dpr.data.tokenize import _PIECES

    def passages(folder: Path) -> list[dict]:
        out = []
        for f in sorted((folder / "laws").glob("*.json")):
            out += [p.to_dict() for p in parse_law(orjson.loads(f.read_bytes()), f.name).passages]
        for f in sorted((folder / "admin_rules").glob("*.json")):
            out += [p.to_dict() for p in parse_admin_rule(orjson.loads(f.read_bytes()), f.name).passages]
        return out

    def outcomes(folder: Path, catalog: LawCatalog) -> tuple[Counter, set[str]]:
        reasons, sources = Counter(), set()
        for f in sorted((folder / "precedents").glob("*.json")):
            prec = read_precedent(orjson.loads(f.read_bytes()))
            for ref in parse_references(prec.references):
                res = catalog.resolve(ref, prec.decided)
                reasons[res.reason] += 1
                if res.passage_ids:
                    sources.add(res.source_id)
        return reasons, sources

    p0, p1 = passages(c0), passages(c1)
    ids0 = {p["source_id"] for p in p0}
    ids1 = {p["source_id"] for p in p1}
    by0 = Counter(p["source_id"] for p in p0)
    by1 = Counter(p["source_id"][5:] for p in p1)
    r0, _ = outcomes(c0, LawCatalog.from_passages(p0))
    r1, _ = outcomes(c1, LawCatalog.from_passages(p1))
    both = LawCatalog.from_passages(p0 + p1)
    rb0, s0 = outcomes(c0, both)
    rb1, s1 = outcomes(c1, both)

    def pieces(ps: list[dict]) -> set[str]:
        return {x for p in ps for x in _PIECES.split(p["text"]) if x and not x.isspace()}

    k0, k1 = pieces(p0), pieces(p1)
    check = {
        "passages": [len(p0), len(p1)], "passages_per_source_equal": by0 == by1,
        "citation_reasons_equal": r0 == r1, "citation_reasons": dict(r0.most_common()),
        "two_copies_reasons_equal": rb0 == r0 and rb1 == r1,
        "citations_cross_copies": len((s0 & ids1) | (s1 & ids0)),
        "distinct_sentences": [len(k0), len(k1)], "copy1_sentences_also_in_copy0": len(k0 & k1),
    }
    print("check copy 1 against copy 0:", json.dumps(check, ensure_ascii=False)[:600], flush=True)
    return check


# --- running and measuring ----------------------------------------------------------------------------------------


def lex() -> str:
    exe = Path(sys.executable).with_name("lex-dpr")
    return str(exe) if exe.exists() else "lex-dpr"


def _tree_rss(pids: list[int]) -> int:
    import psutil

    total = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
    return total


# GNU time measures the peak RSS: a child forked from this process starts with this process's high-water mark
# (the kernel carries it over fork and exec), GNU time's own child does not.
TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None


def _size(folder: Path) -> int:
    try:
        return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    except OSError:
        return 0


def run_stages(stages: list[list[list[str]]], log: Path, timeout: float, watch: Path | None = None) -> dict:
    """Run stages one after another, each a list of commands run at once; wall, peak and tree RSS, exit codes.

    With ``watch`` (make-pairs' Kiwi cache folder), also the seconds from the start to its first and last growth:
    make-pairs appends a chunk of 4,000 tokenised texts at a time, so the last growth is where Kiwi ended and
    BM25 negative mining began.
    """
    peak_kb, tree_peak, codes = 0, 0, []
    grew: list[float] = []
    start = time.perf_counter()
    with open(log, "ab") as out:
        for cmds in stages:
            out.write(("$ " + " & ".join(" ".join(c) for c in cmds) + "\n").encode())
            out.flush()
            timings = [log.with_name(f"{log.stem}.time{i}") for i in range(len(cmds))]
            for t in timings:
                t.unlink(missing_ok=True)
            wrapped = [[TIME, "-f", "%e %M", "-o", str(t), *c] if TIME else c for c, t in zip(cmds, timings, strict=True)]
            procs = [subprocess.Popen(c, stdout=out, stderr=subprocess.STDOUT) for c in wrapped]
            done = threading.Event()

            def sample(pids: list[int], done: threading.Event) -> None:
                nonlocal tree_peak
                last = 0
                while not done.is_set():
                    tree_peak = max(tree_peak, _tree_rss(pids))
                    if watch is not None and (now := _size(watch)) != last:
                        last = now
                        grew.append(time.perf_counter() - start)
                    done.wait(0.2)

            sampler = threading.Thread(target=sample, args=([p.pid for p in procs], done), daemon=True)
            sampler.start()
            deadline = time.monotonic() + timeout
            for p in procs:
                while True:
                    pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                    if pid:
                        break
                    if time.monotonic() > deadline:
                        p.kill()
                    time.sleep(0.05)
                p.returncode = os.waitstatus_to_exitcode(status)
                codes.append(p.returncode)
                peak_kb = max(peak_kb, usage.ru_maxrss)  # without GNU time: at least this process's size at fork
            if TIME:
                peak_kb = max(int(t.read_text().split()[-1]) for t in timings)
            done.set()
            sampler.join()
            if any(codes):
                break
    result = {"seconds": round(time.perf_counter() - start, 2), "peak_rss_mb": round(peak_kb / 1024, 1),
              "tree_rss_mb": round(tree_peak / 2**20, 1), "exit_codes": codes}
    if grew:
        result["kiwi_cache_first_last_s"] = [round(grew[0], 1), round(grew[-1], 1)]
    return result


def commands(step: str, src: Path, d: Path, workers: int, model: Path,
             negatives: str = "bm25") -> tuple[list[list[list[str]]], list[Path]]:
    """The stages of one step and the outputs that show it finished."""
    x = lex()
    mining = [] if negatives == "bm25" else ["--negatives", negatives]
    w = ["--workers", str(workers)]
    law, admin, corpus = d / "law_passages.jsonl", d / "admin_passages.jsonl", d / "merged_corpus.jsonl"
    if step == "preprocess-laws":
        return [[[x, "preprocess", "--src-dir", str(src), "--glob", "laws/**/*.json", "--out-law", str(law), *w, "-q"]]], [law]
    if step == "preprocess-admin":
        return [[[x, "preprocess", "--src-dir", str(src), "--glob", "admin_rules/**/*.json", "--out-admin", str(admin),
                  *w, "-q"]]], [admin]
    if step == "make-pairs":
        return [[[x, "make-pairs", "--law", str(law), "--admin", str(admin), "--use-admin-for-prec", "--prec-json-dir",
                  str(src / "precedents"), "--out", str(d / "pairs_train.jsonl"), *mining, *w, "-q"]]], \
            [d / "pairs_train.jsonl", d / "prec_fallback_passages.jsonl"]
    if step == "merge-corpus":
        return [[[x, "merge-corpus", "--law", str(law), "--admin", str(admin), "--prec", str(d / "prec_fallback_passages.jsonl"),
                  "--out", str(corpus)]]], [corpus]
    if step == "index-build":
        return [[[x, "index", "build", "--passages", str(corpus), "--model", str(model), "--out", str(d / "index"), *w, "-q"]]], \
            [d / "index" / "manifest.json"]
    if step == "rag-batch":
        q, answers = d / "questions.jsonl", d / "answers.jsonl"
        batch = [x, "rag", "batch", "--index", str(d / "index"), "--input", str(q), "--llm", "none", "--no-cache", "-q"]
        if workers == 1:
            return [[[*batch, "--output", str(answers)]]], [answers]
        parts = [d / f"answers.{i}.jsonl" for i in range(1, workers + 1)]
        return [[[*batch, "--output", str(p), "--shard", f"{i}/{workers}"] for i, p in enumerate(parts, 1)],
                [[x, "rag", "merge", *map(str, parts), "--input", str(q), "--output", str(answers)]]], [answers]
    raise ValueError(step)


def clean_before(step: str, d: Path) -> None:
    """Remove what a rerun of ``step`` must not find (a warm Kiwi cache, a half-built index, old answers)."""
    if step == "make-pairs":
        shutil.rmtree(d / ".lexdpr_cache", ignore_errors=True)
    if step == "index-build":
        for p in d.glob("*index*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
    if step == "rag-batch":
        for p in d.glob("answers*"):
            p.unlink()


def write_questions(d: Path, n: int) -> int:
    """``n`` of make-pairs' train queries, evenly spaced, as rag batch's JSONL input."""
    rows = [json.loads(line) for line in (d / "pairs_train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    seen, picked = set(), []
    step = max(1, len(rows) // n)
    for row in rows[::step]:
        if row["query_id"] not in seen and len(picked) < n:
            seen.add(row["query_id"])
            picked.append({"id": row["query_id"], "question": row["query_text"]})
    (d / "questions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked), encoding="utf-8")
    return len(picked)


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"records": []}


def save(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1))
    tmp.replace(path)


def run_size(work: Path, size: int, workers: int, model: Path, data: dict, out_json: Path, questions: int,
             timeout: float, negatives: str = "bm25") -> None:
    src = work / "sizes" / str(size) / "src"
    d = work / "sizes" / str(size) / f"w{workers}"
    d.mkdir(parents=True, exist_ok=True)
    records = data["records"]
    for step in STEPS:
        stages, outputs = commands(step, src, d, workers, model, negatives)
        old = next((r for r in records if (r["size"], r["workers"], r["step"]) == (size, workers, step)), None)
        variant = (f"{negatives} negatives" if step == "make-pairs" else "Kiwi cold") \
            if negatives != "bm25" and step in ("make-pairs", "index-build") else None
        if old is not None and old.get("variant") == variant and all(p.exists() for p in outputs):
            continue
        if old is not None:
            records.remove(old)
        clean_before(step, d)
        extra: dict = {}
        if variant:  # make-pairs tokenises nothing then, so index build runs Kiwi over every passage itself
            extra["variant"] = variant
        if step == "rag-batch":
            extra["questions"] = write_questions(d, questions)
        load_before = os.getloadavg()
        print(f"[{size} passages, {workers} worker(s)] {step} …", flush=True)
        result = run_stages(stages, d / f"{step}.log", timeout, d / ".lexdpr_cache" if step == "make-pairs" else None)
        if any(result["exit_codes"]):
            tail = (d / f"{step}.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{step} failed ({result['exit_codes']}), log {d / f'{step}.log'}:\n{tail}")
        if step == "preprocess-laws":
            extra["law_passages"] = count_lines(d / "law_passages.jsonl")
        elif step == "preprocess-admin":
            extra["admin_passages"] = count_lines(d / "admin_passages.jsonl")
        elif step == "make-pairs":
            summary = json.loads((d / "pairs_train_summary.json").read_text())
            extra.update(precedents=summary.get("precedents_read"), pairs_by_split=summary.get("pairs"),
                         fallback_passages=count_lines(d / "prec_fallback_passages.jsonl"))
        elif step == "rag-batch":
            sums = [json.loads(p.read_text()) for p in sorted(d.glob("answers*.summary.json"))]
            extra["questions_per_s_per_process"] = [s.get("questions_per_s") for s in sums]
        rec = {"size": size, "workers": workers, "step": step, **result,
               "workers_option": step not in NO_WORKERS, "load_before": [round(x, 2) for x in load_before],
               "load_after": [round(x, 2) for x in os.getloadavg()],
               "command": " && ".join(" & ".join(" ".join(c) for c in cmds) for cmds in stages), **extra,
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        records.append(rec)
        print(f"  {result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB "
              f"(tree {result['tree_rss_mb']:.0f} MB), load {load_before[0]:.2f}", flush=True)
        fill_counts(d, size, workers, records)
        save(out_json, data)
    fill_counts(d, size, workers, records)
    save(out_json, data)


def fill_counts(d: Path, size: int, workers: int, records: list[dict]) -> None:
    corpus, pairs = d / "merged_corpus.jsonl", d / "pairs_train_summary.json"
    n = count_lines(corpus) if corpus.exists() else None
    p = sum(json.loads(pairs.read_text())["pairs"].values()) if pairs.exists() else None
    for r in records:
        if (r["size"], r["workers"]) == (size, workers):
            r["passages"], r["pairs"] = n, p


# --- reporting ----------------------------------------------------------------------------------------------------


def table(records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="lex-dpr pipeline growth (wall s, peak RSS of the largest process, sampled RSS of the tree)")
    for col in ("size", "passages", "pairs", "workers", "step", "seconds", "peak RSS MB", "tree RSS MB", "load"):
        t.add_column(col, justify="left" if col == "step" else "right")
    order = {s: i for i, s in enumerate(STEPS)}
    for r in sorted(records, key=lambda r: (r["size"], r["workers"], order[r["step"]])):
        t.add_row(f"{r['size']:,}", f"{r['passages']:,}" if r.get("passages") else "", f"{r['pairs']:,}" if r.get("pairs") else "",
                  str(r["workers"]) + ("" if r["workers_option"] else " (n/a)"), _label(r), f"{r['seconds']:.1f}",
                  f"{r['peak_rss_mb']:.0f}", f"{r['tree_rss_mb']:.0f}", f"{r['load_before'][0]:.2f}")
    Console(width=140).print(t)


def _label(r: dict) -> str:
    """A step's name, with the variant it ran as (``--negatives random``: make-pairs without Kiwi or BM25, and an
    index build that runs Kiwi itself)."""
    return r["step"] + (f" ({r['variant']})" if r.get("variant") else "")


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    lines: dict[tuple[str, int, str], list[dict]] = {}
    for r in records:
        if r.get("passages"):
            lines.setdefault((r["step"], r["workers"], r.get("variant", "")), []).append(r)
    for (step, workers, variant), rs in sorted(lines.items(), key=lambda kv: (STEPS.index(kv[0][0]), *kv[0][1:])):
        rs.sort(key=lambda r: r["passages"])
        xs = [r["passages"] for r in rs]
        style = ("-" if workers == 1 else "--") if not variant else ":"
        color = f"C{STEPS.index(step)}"
        name = f"{_label(rs[0])} w{workers}"
        axes[0].plot(xs, [r["seconds"] for r in rs], style, marker="s" if variant else "o", color=color, label=name)
        axes[1].plot(xs, [r["peak_rss_mb"] for r in rs], style, marker="s" if variant else "o", color=color, label=name)
    for ax, label in zip(axes, ("wall seconds", "peak RSS, MB (largest process)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages (merged corpus)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"lex-dpr pipeline growth ({os.cpu_count()} cores; bench/bench_growth.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True, help="folder for the generated data and the runs (never the repo)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default="bench_growth", help="folder for growth.json and growth.png")
    ap.add_argument("--shared", default=str(SHARED), help="the shared data (laws/, admin_rules/, precedents/)")
    ap.add_argument("--model", default=str(ROOT / "out" / "shared" / "run_best"),
                    help="the model for index build (a run folder's bi_encoder/final is copied into WORK/model)")
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--step-timeout", type=float, default=3 * 3600, help="seconds before a step is killed")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--negatives", default="bm25", choices=("bm25", "random"),
                    help="make-pairs' negatives: random skips its Kiwi and BM25 search (index build then runs Kiwi "
                         "itself); for a size where BM25 negatives would take hours (1M), recorded as such")
    args = ap.parse_args()

    work, out, shared = Path(args.work).resolve(), Path(args.out), Path(args.shared)
    if work.is_relative_to(ROOT):
        raise SystemExit(f"--work {work} is inside the repository: give a folder outside it (e.g. /tmp/growth)")
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    model = work / "model"
    if not (model / "modules.json").exists() and not args.generate_only:
        given = Path(args.model)
        final = given / "bi_encoder" / "final"
        shutil.copytree(final if final.is_dir() else given, model, dirs_exist_ok=True)
    out_json = out / "growth.json"
    data = load(out_json)
    data["machine"] = {"cores": os.cpu_count(), "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                       "python": sys.version.split()[0], "passages_per_copy": PASSAGES_PER_COPY}
    for size in args.sizes:
        generate_size(work, shared, size, jobs=os.cpu_count() or 1)
    if (work / "check.json").exists():
        data["check_copy1"] = json.loads((work / "check.json").read_text())
    if args.generate_only:
        save(out_json, data)
        return
    print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for size in args.sizes:
        for workers in args.workers:
            run_size(work, size, workers, model, data, out_json, args.questions, args.step_timeout, args.negatives)
            plot(data["records"], out / "growth.png")
    save(out_json, data)
    plot(data["records"], out / "growth.png")
    table(data["records"])
    print(f"wrote {out_json} and {out / 'growth.png'}")


if __name__ == "__main__":
    main()
