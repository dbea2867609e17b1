"""lex-dpr index build | update | info → :mod:`lex_dpr.retrieval.index` (``build``, ``update``, ``manifest``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lex_dpr.cli import _console as console
from lex_dpr.cli._options import PassagesOpt, QuietOpt

EXAMPLES = [
    "lex-dpr index build --passages out/shared/merged_corpus.jsonl --model out/shared/run --out index/",
    "lex-dpr index build --passages merged_corpus.jsonl --model kure-v1 --faiss hnsw --out index/ --device cuda",
    "lex-dpr index build --passages merged_corpus.jsonl --no-dense --out index-bm25/     # BM25 only, no model",
    "lex-dpr index update index/ --passages new_corpus.jsonl     # re-encodes changed and added passages only",
    "lex-dpr index update index/ --passages merged_corpus.jsonl --faiss ivf   # the same passages: FAISS rebuilt as IVF, nothing encoded",
    "lex-dpr index info index/",
]

app = typer.Typer(help="The retrieval index `lex-dpr rag` opens: build, update, info.", no_args_is_help=True,
                  epilog="Examples:\n\n" + "\n\n".join(f"$ {e}" for e in EXAMPLES))

DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu, cuda, ... (default: best available).")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Passages per forward pass.")]
ShardOpt = Annotated[int, typer.Option("--shard-size", min=1, help="Passages per encoding shard (an interrupted run resumes from the last finished shard).")]
RemoteOpt = Annotated[bool, typer.Option("--trust-remote-code", help="Let a hub model run its own code.")]


@app.command("build", epilog="Examples:\n\n" + "\n\n".join(f"$ {e}" for e in EXAMPLES[:3]))
def build(
    passages: PassagesOpt,
    out: Annotated[Path, typer.Option("--out", help="Index folder (replaced only when the new index is complete).")],
    model: Annotated[str | None, typer.Option("--model", help="Run folder (out/shared/run), model folder, alias or hub id; required unless --no-dense.")] = None,
    faiss: Annotated[str, typer.Option("--faiss", help="flat (exact), hnsw, ivf, or ivfpq (1/32 of the memory; rescored exactly) past a million passages.")] = "flat",
    no_dense: Annotated[bool, typer.Option("--no-dense", help="BM25 only (no model).")] = False,
    no_bm25: Annotated[bool, typer.Option("--no-bm25", help="Dense only.")] = False,
    hnsw_m: Annotated[int, typer.Option("--hnsw-m", min=1, help="HNSW graph degree (--faiss hnsw).")] = 32,
    ivf_lists: Annotated[int | None, typer.Option("--ivf-lists", min=1, help="IVF lists (--faiss ivf/ivfpq; default 4·√n, at most n/39).")] = None,
    pq_m: Annotated[int | None, typer.Option("--pq-m", min=1, help="Bytes per passage of an ivfpq code (must divide the model's dimension; default d/8).")] = None,
    batch_size: BatchOpt = 128,
    shard_size: ShardOpt = 4096,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes encoding the shards (each loads the model), and Kiwi's threads; the index is the same for any number.")] = 1,
    token_cache: Annotated[str, typer.Option("--token-cache", help="A Kiwi cache to borrow morphemes from: auto (make-pairs' .lexdpr_cache beside --passages), a folder, or none.")] = "auto",
    device: DeviceOpt = None,
    trust_remote_code: RemoteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Build an index: the model's passage embeddings in FAISS and BM25 over Kiwi morphemes, with a manifest."""
    from lex_dpr.retrieval.index import build_index, check_build_options, check_device

    check_build_options(model, not no_dense, not no_bm25, faiss, batch_size, shard_size, hnsw_m, ivf_lists, pq_m)  # before torch
    check_device(device)
    manifest = build_index(passages, out, model, faiss_kind=faiss, dense=not no_dense, bm25=not no_bm25,
                           batch_size=batch_size, shard_size=shard_size, device=device,
                           trust_remote_code=trust_remote_code, show_progress=not quiet, hnsw_m=hnsw_m,
                           ivf_lists=ivf_lists, token_cache=token_cache, workers=workers, pq_m=pq_m)
    b = manifest.build or {}
    rows = [("passages", manifest.passages), ("skipped lines", manifest.corpus.skipped_lines)]
    if manifest.dense:
        d = manifest.dense
        assert manifest.model is not None
        rows += [("model", manifest.model.name), ("dense", f"{d.kind} {d.params or ''}".strip()),
                 ("dimension", d.dim), ("encoded", b["encoded"]),
                 ("shards reused (resumed)", f"{b['reused_shards']} of {b['shards']}")]
    if manifest.bm25:
        rows.append(("BM25 vocabulary", manifest.bm25.vocabulary))
    rows += [(f"{k} (s)", v) for k, v in b["seconds"].items()] + [("total (s)", b["seconds_total"])]
    console.table(f"index build: {out}", rows, ("", "value"))


@app.command("update")
def update(
    index: Annotated[Path | None, typer.Argument(help="The index folder.", show_default=False)] = None,
    passages: Annotated[Path | None, typer.Option("--passages", help="The new passage JSONL (e.g. merged_corpus.jsonl).")] = None,
    index_opt: Annotated[Path | None, typer.Option("--index", help="The index folder (instead of the argument).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="The index's model at another path (same fingerprint).")] = None,
    batch_size: BatchOpt = 128,
    shard_size: ShardOpt = 4096,
    device: DeviceOpt = None,
    trust_remote_code: RemoteOpt = False,
    faiss: Annotated[str | None, typer.Option("--faiss", help="Another FAISS kind than the build's (flat, hnsw, ivf, ivfpq), built from the vectors the index has: nothing is encoded again.", show_default=False)] = None,
    hnsw_m: Annotated[int | None, typer.Option("--hnsw-m", help="HNSW graph degree of an hnsw index (default: the build's; 32 for a new kind).", show_default=False)] = None,
    ivf_lists: Annotated[int | None, typer.Option("--ivf-lists", help="IVF lists of an ivf/ivfpq index (default: the build's; 0: the automatic 4·√n, at most n/39).", show_default=False)] = None,
    pq_m: Annotated[int | None, typer.Option("--pq-m", help="Bytes per passage of an ivfpq code (default: the build's; d/8 for a new kind).", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    """Bring an index up to date with a new passage file: only changed and added passages are encoded.

    With --faiss (or its options) the dense index is rebuilt as that kind from the vectors it has: the same passage
    file then re-indexes only (a flat index grown past a million passages made ivf or ivfpq).
    """
    from lex_dpr.errors import ConfigError
    from lex_dpr.retrieval.index import update_index

    if (index is None) == (index_opt is None):
        raise ConfigError("name the index folder once: `lex-dpr index update INDEX_DIR --passages F` "
                          "(or --index INDEX_DIR)")
    if passages is None:
        raise ConfigError("--passages is required: the new passage file (e.g. merged_corpus.jsonl)")
    folder = index if index is not None else index_opt
    assert folder is not None
    s = update_index(folder, passages, batch_size=batch_size, device=device, show_progress=not quiet, model=model,
                     trust_remote_code=trust_remote_code, shard_size=shard_size, faiss_kind=faiss, hnsw_m=hnsw_m,
                     ivf_lists=ivf_lists, pq_m=pq_m)
    rows = [(k.replace("_", " "), s[k]) for k in ("passages", "unchanged", "changed", "added", "removed",
                                                  "metadata_changed", "encoded", "tokenized")]
    rows += [("order changed", "yes" if s["reordered"] else "no")]
    if "faiss" in s:
        rows.append(("FAISS", f"{s['faiss']['from']} → {s['faiss']['to']}"))
    rows.append(("seconds", s.get("seconds")))
    console.table(f"index update: {folder}", rows, ("", "count"))
    if not quiet:
        for kind in ("changed", "added", "removed"):
            ids = s["ids"][kind]
            if ids:
                more = " …" if s["ids_truncated"] and len(ids) >= 100 else ""
                console.err.print(console.printable(f"{kind}: {', '.join(ids[:10])}{' …' if len(ids) > 10 else more}"),
                                  markup=False, highlight=False)


@app.command("info")
def info(index: Annotated[Path, typer.Argument(help="The index folder.")],
         json_out: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
         verify: Annotated[bool, typer.Option("--verify", help="Hash every file and compare with the manifest (opening checks sizes and samples only).")] = False) -> None:
    """The manifest: model and fingerprint, FAISS kind, passages, corpus sha256, tokeniser, build and updates."""
    from lex_dpr.retrieval.index import read_manifest, verify_index

    manifest = read_manifest(index)
    if verify:
        checked = verify_index(index)
        console.err.print(f"verified: {checked['files']} files ({checked['bytes']:,} bytes) match the manifest's "
                          "sha256", markup=False, highlight=False)
    if json_out:
        import orjson

        console.out.print(orjson.dumps(manifest.to_dict(), option=orjson.OPT_INDENT_2).decode(), markup=False, highlight=False,
                          soft_wrap=True)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"index {index}", title_justify="left")
    table.add_column("key")
    table.add_column("value", overflow="fold")  # hashes whole, never cut with an ellipsis
    for key, value in _flatten(manifest.to_dict()):
        if not key.startswith("updates") and not key.endswith(".sample_sha256"):  # --json shows them
            table.add_row(escape(console.printable(key)), escape(console.printable(value)))
    console.out.print(table)
    updates = manifest.updates
    if updates:
        console.table("updates", [(u.get("at"), u.get("passages"), u.get("unchanged"), u.get("changed"),
                                   u.get("added"), u.get("removed"), u.get("encoded"), u.get("seconds"))
                                  for u in updates],
                      ("at", "passages", "unchanged", "changed", "added", "removed", "encoded", "s"))


def _flatten(obj, prefix: str = "") -> list[tuple[str, object]]:
    """``("a.b", value)`` rows for a nested dict; lists and scalars are values.

    Example:
        >>> _flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
        [('a.b', 1), ('a.c', '1, 2'), ('d', '')]
    """
    rows: list[tuple[str, object]] = []
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += _flatten(value, name + ".")
        elif isinstance(value, list):
            rows.append((name, ", ".join(map(str, value))))
        else:
            rows.append((name, "" if value is None else value))
    return rows
