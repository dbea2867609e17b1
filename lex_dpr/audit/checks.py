"""Static audit checks: each returns PASS / WARN / FAIL with the evidence (expected vs found).

Example:
    >>> from lex_dpr.audit.checks import audit  # doctest: +SKIP
    >>> report = audit("adapters/qwen-4b-lora", "models/Qwen2.5-1.5B-Instruct")  # doctest: +SKIP
    >>> report.verdict  # doctest: +SKIP
    'FAIL'
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lex_dpr.audit.models import Adapter, BaseModel, layer_index, size_tokens, variant_tokens
from lex_dpr.audit.pickle_scan import scan_pickle_file

ORDER = {"PASS": 0, "INFO": 0, "WARN": 1, "FAIL": 2}


@dataclass
class AuditCheck:
    """One static or smoke check of an adapter against a base (``lex-dpr audit-adapter``), with its evidence."""

    name: str
    verdict: str
    evidence: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class AuditReport:
    adapter: str
    base: str
    checks: list[AuditCheck] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return max((c.verdict for c in self.checks), key=ORDER.__getitem__, default="PASS").replace("INFO", "PASS")

    def exit_code(self, strict: bool = False) -> int:
        if self.verdict == "FAIL":
            return 2
        return 1 if strict and self.verdict == "WARN" else 0

    def to_dict(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "base": self.base, "verdict": self.verdict,
                "checks": [c.to_dict() for c in self.checks]}


def audit(adapter: Adapter | str, base: BaseModel | str) -> AuditReport:
    """Every static check of ``adapter`` against ``base``; reads configs and headers only."""
    adapter = adapter if isinstance(adapter, Adapter) else Adapter.load(adapter)
    base = base if isinstance(base, BaseModel) else BaseModel.load(base)
    report = AuditReport(str(adapter.path), str(base.path))
    report.checks += check_config(adapter)
    report.checks += check_shapes(adapter, base)
    report.checks += check_identity(adapter, base)
    report.checks.append(check_provenance(adapter))
    report.checks += check_pickles(adapter.pickles)
    return report


def check_config(adapter: Adapter) -> list[AuditCheck]:
    cfg = adapter.config
    out = []
    peft_type = cfg.get("peft_type")
    out.append(AuditCheck("peft_type", "PASS" if peft_type == "LORA" else "WARN",
                     f"peft_type={peft_type!r}, task_type={cfg.get('task_type')!r}"))
    r, alpha = cfg.get("r"), cfg.get("lora_alpha")
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        out.append(AuditCheck("rank", "FAIL", f"r={r!r} is not a positive integer"))
        return out
    ranks = {m: (t["A"].shape[0] if "A" in t else None, t["B"].shape[-1] if "B" in t else None)
             for m, t in adapter.lora_modules().items()}
    pattern = cfg.get("rank_pattern") or {}
    wrong = [f"{m}: A rows {a}, B cols {b}" for m, (a, b) in ranks.items()
             if not pattern and ((a is not None and a != r) or (b is not None and b != r))]
    out.append(AuditCheck("rank vs tensors", "FAIL" if wrong else "PASS",
                     f"r={r}; " + ("; ".join(wrong[:5]) if wrong else f"{len(ranks)} LoRA modules of rank {r}")))
    if isinstance(alpha, int | float):
        ratio = alpha / r
        extreme = ratio > 16 or ratio < 0.25
        out.append(AuditCheck("alpha/r", "WARN" if extreme else "PASS",
                         f"lora_alpha={alpha}, r={r}, scale={ratio:g}" + (" (unusual)" if extreme else "")))
    if not adapter.tensors:
        out.append(AuditCheck("adapter weights", "WARN" if adapter.pickles else "FAIL",
                         "no safetensors weights" + (f"; pickle files: {', '.join(adapter.pickles)}" if adapter.pickles
                                                      else "; nothing to load")))
    return out


def _expected_shape(module: str, base: BaseModel) -> tuple[int, int] | None:
    """(in, out) of a Linear from config.json alone, for the families lex-dpr knows."""
    h = base.get("hidden_size") or base.get("n_embd")
    if not h:
        return None
    heads = base.get("num_attention_heads") or base.get("n_head") or 1
    kv = base.get("num_key_value_heads") or heads
    hd = base.get("head_dim") or h // heads
    inter = base.get("intermediate_size") or 4 * h
    leaf = module.rsplit(".", 1)[-1]
    table = {"q_proj": (h, heads * hd), "k_proj": (h, kv * hd), "v_proj": (h, kv * hd), "o_proj": (heads * hd, h),
             "gate_proj": (h, inter), "up_proj": (h, inter), "down_proj": (inter, h),
             "query": (h, h), "key": (h, h), "value": (h, h), "lm_head": (h, base.get("vocab_size", 0))}
    if leaf == "dense":
        if module.endswith("attention.output.dense"):
            return (h, h)
        if module.endswith("intermediate.dense"):
            return (h, inter)
        if module.endswith("output.dense"):
            return (inter, h)
    return table.get(leaf)


def _base_shape(module: str, base: BaseModel) -> tuple[tuple[int, int] | None, str]:
    parts = module.split(".")
    for i in range(len(parts)):
        shape = base.modules.get(".".join(parts[i:]))
        if shape is not None and len(shape) == 2:
            return (shape[1], shape[0]), "weights"
    return _expected_shape(module, base), "config"


def check_shapes(adapter: Adapter, base: BaseModel) -> list[AuditCheck]:
    """LoRA widths and layer indices against the base, targeted modules, and modules_to_save."""
    lora = adapter.lora_modules()
    mismatches, unknown, layers_bad = [], [], []
    for module, t in sorted(lora.items()):
        expected, source = _base_shape(module, base)
        a_in = t["A"].shape[-1] if "A" in t else None
        b_out = t["B"].shape[0] if "B" in t else None
        if expected is None:
            unknown.append(module)
        elif (a_in is not None and a_in != expected[0]) or (b_out is not None and b_out != expected[1]):
            mismatches.append(f"{module}: lora_A in {a_in} / lora_B out {b_out}, base ({source}) in {expected[0]} / "
                              f"out {expected[1]}")
        idx = layer_index(module)
        if idx is not None and base.n_layers is not None and idx >= base.n_layers:
            layers_bad.append(f"{module} (layer {idx})")
    if mismatches:
        shapes = AuditCheck("shapes", "FAIL", f"{len(mismatches)} of {len(lora)} modules mismatch: "
                       + "; ".join(mismatches[:4]))
    elif unknown:
        shapes = AuditCheck("shapes", "WARN", f"no base shape known for {unknown[:3]}")
    else:
        shapes = AuditCheck("shapes", "PASS", f"{len(lora)} LoRA modules match the base")
    layers = AuditCheck("layer indices", "FAIL" if layers_bad else "PASS",
                   f"base has {base.n_layers} layers; adapter targets " + ", ".join(layers_bad[:4])
                   if layers_bad else f"all below num_hidden_layers={base.n_layers}")
    return [shapes, layers, _check_targets(adapter, base), _check_saved(adapter, base)]


def _check_targets(adapter: Adapter, base: BaseModel) -> AuditCheck:
    """Every target_modules name (or peft's regex form) matches a module of the base."""
    targets = adapter.config.get("target_modules") or []
    if base.modules:  # weight headers: module names are known exactly (every suffix is a key)
        if isinstance(targets, str):
            missing = [] if any(re.fullmatch(targets, m) for m in base.modules) else [targets]
        else:
            missing = [t for t in targets if t not in base.modules]
        verdict = "FAIL" if missing else "PASS"
    else:  # config only: names the shape formulas know
        names = [targets] if isinstance(targets, str) else list(targets)
        missing = [t for t in names if _expected_shape(f"x.{t}", base) is None]
        verdict = "WARN" if missing else "PASS"
    return AuditCheck("targets exist", verdict, f"target_modules {targets}; not in base: {missing}" if missing
                 else f"target_modules {targets} exist")


def _check_saved(adapter: Adapter, base: BaseModel) -> AuditCheck:
    vocab = base.get("vocab_size")
    bad = []
    saved = adapter.saved_modules()
    for name, info in saved.items():
        if any(k in name for k in ("embed", "lm_head", "word_embeddings")) and vocab and info.shape and \
                info.shape[0] != vocab:
            bad.append(f"{name}: {info.shape[0]} rows, base vocab_size {vocab}")
        expected = base.modules.get(name.removesuffix(".weight"))
        if expected is not None and tuple(expected) != tuple(info.shape) and not bad:
            bad.append(f"{name}: {info.shape} vs base {expected}")
    listed = adapter.config.get("modules_to_save") or []
    return AuditCheck("modules_to_save", "FAIL" if bad else "PASS",
                 "; ".join(bad) if bad else f"{listed or 'none'} ({len(saved)} saved tensors)")


def check_identity(adapter: Adapter, base: BaseModel) -> list[AuditCheck]:
    claimed = str(adapter.config.get("base_model_name_or_path") or "")
    out = []
    short = lambda s: s.rstrip("/").rsplit("/", 1)[-1].lower().replace("_", "-")
    same = short(claimed) in (short(base.name), short(base.path.name)) if claimed else False
    arch = base.get("architectures") or []
    out.append(AuditCheck("base name", "PASS" if same else "WARN",
                     f"adapter says {claimed or '(nothing)'}; base is {base.path.name} "
                     f"(model_type {base.get('model_type')}, {', '.join(arch) or 'no architectures'})"))
    base_sizes = size_tokens(base.names_text)
    real = base.parameters
    reference = base_sizes[0] if base_sizes else (real if real >= 1e8 else None)
    sources = {"adapter_config base_model_name_or_path": claimed, "adapter folder name": adapter.path.name,
               "README/model card": adapter.readme[:5000], "metadata files": adapter.extra_names}
    conflicts, fails = [], False
    for source, text in sources.items():
        for size in sorted(set(size_tokens(text))):
            if reference and not (reference / 1.3 <= size <= reference * 1.3):
                conflicts.append(f"{source} says {size / 1e9:g}B")
                fails |= source.startswith("adapter_config")
    claims = {s for text in sources.values() for s in size_tokens(text)}
    if len(claims) > 1 and max(claims) / min(claims) > 1.3 and not conflicts:
        conflicts.append(f"the adapter's own names disagree: {sorted(c / 1e9 for c in claims)} B")
    ref = f"{reference / 1e9:g}B" if reference else "unknown size"
    out.append(AuditCheck("size", "FAIL" if fails else "WARN" if conflicts else "PASS",
                     f"base {ref} ({'named' if base_sizes else 'counted'}; {real:,} parameters in "
                     f"{'headers' if base.tensors else 'config estimate'}); " + ("; ".join(conflicts) or "no conflict")))
    quant = base.get("quantization_config")
    adapter_variants = set().union(*(variant_tokens(t) for t in sources.values()))
    base_variants = variant_tokens(base.names_text) | ({"quantized"} if quant else set())
    issues = []
    for q in ("gptq", "awq", "bnb-4bit", "int4"):
        if q in adapter_variants and not quant:
            issues.append(f"adapter mentions {q} but the base has no quantization_config")
    if "instruct" in adapter_variants and "instruct" not in base_variants:
        issues.append("adapter mentions an Instruct/chat model; the base name does not")
    out.append(AuditCheck("variant", "WARN" if issues else "PASS",
                     "; ".join(issues) or f"adapter {sorted(adapter_variants) or 'none'}, base "
                                         f"{sorted(base_variants) or 'none'}"))
    return out


def check_provenance(adapter: Adapter) -> AuditCheck:
    files = {p.name for p in adapter.path.iterdir()}
    artifacts = ["README.md", "trainer_state.json", "training_args.bin", "training_args.json", "train.jsonl",
                 "valid.jsonl", "eval_results.json"]
    present = [a for a in artifacts if a in files]
    return AuditCheck("provenance", "INFO", f"present: {present or 'none'}; absent: "
                                      f"{[a for a in artifacts if a not in files]}")


def check_pickles(pickles: list[str]) -> list[AuditCheck]:
    """Pickle files are scanned symbolically, never unpickled: anything beyond torch's weights_only globals FAILs,
    and so does a pickle that cannot be read (it cannot be loaded either)."""
    out = []
    for path in pickles:
        scan = scan_pickle_file(path)
        verdict = "WARN" if scan.lfs_pointer or scan.readable else "FAIL"
        out.append(AuditCheck("pickle safety", verdict, f"{path}: {scan.summary()}"))
    return out


def audit_matrix(adapters: list[str], bases: list[str]) -> dict[tuple[str, str], AuditReport]:
    """Every adapter against every base; each folder's configs and headers are read once.

    A folder that cannot be read fails its row or column with the reason; the rest are still audited.
    """
    from lex_dpr.errors import LexDprError

    def load(loader, name):
        try:
            return loader(name)
        except LexDprError as exc:
            return str(exc)

    loaded_adapters = {a: load(Adapter.load, a) for a in adapters}
    loaded_bases = {b: load(BaseModel.load, b) for b in bases}
    reports = {}
    for a in adapters:
        for b in bases:
            broken = [x for x in (loaded_adapters[a], loaded_bases[b]) if isinstance(x, str)]
            if broken:
                reports[(a, b)] = AuditReport(a, b, [AuditCheck("readable", "FAIL", "; ".join(broken))])
            else:
                try:  # a pickle file that is not a regular file, say
                    reports[(a, b)] = audit(loaded_adapters[a], loaded_bases[b])
                except LexDprError as exc:
                    reports[(a, b)] = AuditReport(a, b, [AuditCheck("readable", "FAIL", str(exc))])
    return reports
