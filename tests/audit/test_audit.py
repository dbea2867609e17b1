import os
import pickle
import shutil
import subprocess
import sys

from tiny_models import make_adapter, rewrite_config

from lex_dpr.audit.checks import audit, audit_matrix
from lex_dpr.audit.describe import describe_path


def _by_name(report):
    return {c.name: c for c in report.checks}


def test_adapter_on_its_own_base_passes(zoo):
    for adapter, base in (("lora15", "base15"), ("lora4", "base4"), ("lora_bert", "bert")):
        report = audit(zoo[adapter], zoo[base])
        assert report.verdict == "PASS", [c for c in report.checks if c.verdict != "PASS"]


def test_adapter_on_another_base_fails_naming_modules_and_shapes(zoo):
    report = audit(zoo["lora15"], zoo["base4"])
    shapes = _by_name(report)["shapes"]
    assert report.verdict == "FAIL" and report.exit_code() == 2
    assert shapes.verdict == "FAIL" and "q_proj" in shapes.evidence and "in 32" in shapes.evidence
    assert "in 48" in shapes.evidence  # expected from the base's weight headers


def test_config_that_lies_about_the_base(zoo, tmp_path):
    lying = tmp_path / "qwen-4b-lora"  # a "4b" name on a 1.5B-shaped adapter
    shutil.copytree(zoo["lora15"], lying)
    rewrite_config(lying, base_model_name_or_path="Qwen/Qwen2.5-1.5B-Instruct")
    report = audit(lying, zoo["base15"])
    assert _by_name(report)["shapes"].verdict == "PASS"
    size = _by_name(report)["size"]
    assert size.verdict == "WARN" and "adapter folder name says 4B" in size.evidence
    renamed = tmp_path / "plain"
    shutil.copytree(zoo["lora15"], renamed)
    rewrite_config(renamed, base_model_name_or_path="Qwen/Qwen3-4B")  # config names a 4B base
    assert _by_name(audit(renamed, zoo["base15"]))["size"].verdict == "FAIL"


def test_deeper_adapter_on_shallower_base_fails_on_layers(zoo):
    report = audit(zoo["lora_deep"], zoo["base15"])
    layers = _by_name(report)["layer indices"]
    assert layers.verdict == "FAIL" and "layer 3" in layers.evidence and _by_name(report)["shapes"].verdict == "PASS"


def test_rank_inconsistency_and_missing_targets(zoo, tmp_path):
    bad = tmp_path / "bad-1.5b"
    shutil.copytree(zoo["lora15"], bad)
    rewrite_config(bad, r=8, target_modules=["q_proj", "attn_qkv"])
    checks = _by_name(audit(bad, zoo["base15"]))
    assert checks["rank vs tensors"].verdict == "FAIL" and checks["targets exist"].verdict == "FAIL"
    assert "attn_qkv" in checks["targets exist"].evidence


def test_pickle_is_never_executed(zoo, tmp_path):
    marker = tmp_path / "MARKER"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil-1.5b"
    shutil.copytree(zoo["lora15"], evil)
    (evil / "adapter_model.safetensors").unlink()
    (evil / "adapter_model.bin").write_bytes(pickle.dumps({"x": Payload()}))
    report = audit(evil, zoo["base15"])
    safety = _by_name(report)["pickle safety"]
    assert safety.verdict == "FAIL" and "system" in safety.evidence
    assert describe_path(evil / "adapter_model.bin").notes[0].startswith("FAIL pickle: adapter_model.bin: imports posix.system")
    assert not marker.exists()


def test_torch_pickle_shapes_are_read_without_unpickling(zoo, tmp_path):
    import torch
    from safetensors.torch import load_file

    legacy = tmp_path / "legacy-1.5b"
    shutil.copytree(zoo["lora15"], legacy)
    torch.save(load_file(str(legacy / "adapter_model.safetensors")), legacy / "adapter_model.bin")
    (legacy / "adapter_model.safetensors").unlink()
    checks = _by_name(audit(legacy, zoo["base15"]))
    assert checks["shapes"].verdict == "PASS" and "match the base" in checks["shapes"].evidence
    assert checks["pickle safety"].verdict == "WARN"  # safe, but still a pickle


def test_matrix_and_cli_exit_codes(zoo, tmp_path):
    reports = audit_matrix([str(zoo["lora15"]), str(zoo["lora4"])], [str(zoo["base15"]), str(zoo["base4"])])
    assert [r.verdict for r in reports.values()] == ["PASS", "FAIL", "FAIL", "PASS"]
    cli = [sys.executable, "-m", "lex_dpr.cli.main", "audit-adapter"]
    ok = subprocess.run([*cli, str(zoo["lora15"]), "--base", str(zoo["base15"])], capture_output=True)
    bad = subprocess.run([*cli, str(zoo["lora15"]), "--base", str(zoo["base4"]), "--json", str(tmp_path / "a.json")],
                         capture_output=True)
    matrix = subprocess.run([*cli, "--matrix", "--adapters", str(zoo["lora15"]), "--adapters", str(zoo["lora4"]),
                             "--bases", str(zoo["base15"]), "--bases", str(zoo["base4"]), "--csv",
                             str(tmp_path / "m.csv")], capture_output=True)
    assert (ok.returncode, bad.returncode, matrix.returncode) == (0, 2, 2)
    assert (tmp_path / "m.csv").read_text().splitlines()[1].endswith("PASS,FAIL")


def test_static_audit_does_not_import_torch(zoo):
    code = ("import sys; from lex_dpr.audit.checks import audit; "
            f"r = audit({str(zoo['lora15'])!r}, {str(zoo['base15'])!r}); "
            "print(r.verdict, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["PASS", "False"]


def test_inspect_tells_electra_from_bert(zoo):
    electra, bert = describe_path(zoo["electra"]), describe_path(zoo["bert"])
    assert electra.architecture == "electra" and bert.architecture == "bert"
    assert electra.hidden_size == bert.hidden_size == 32 and electra.layers == bert.layers == 2
    assert describe_path(zoo["lora15"]).kind == "adapter"
    qwen = describe_path(zoo["base15"] / "model.safetensors")
    assert qwen.architecture == "qwen2" and qwen.vocab_size == 16 and qwen.layers == 2


def test_smoke_test_fails_a_collapsed_adapter_and_passes_a_healthy_one(zoo, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from lex_dpr.audit.smoke import smoke_test

    prompts = [" ".join(p) for p in (["1", "7", "yes"], ["3", "no", "or"], ["9", "2", "answer", "4"], ["8"],
                                     ["0", "0", "6", "yes"], ["answer", "5", "2"], ["no", "no", "1", "3"],
                                     ["7", "7", "7", "or", "8"])]
    healthy = smoke_test(zoo["lora15"], zoo["base15"], prompts, device="cpu")
    assert {c.name: c.verdict for c in healthy}["smoke: output spread"] == "PASS", healthy
    collapsed = make_adapter(zoo["base15"], tmp_path / "collapsed-1.5b", modules_to_save=["lm_head"])
    weights = load_file(str(collapsed / "adapter_model.safetensors"))
    for key in weights:
        if "lm_head" in key:
            weights[key] = torch.zeros_like(weights[key])  # every logit 0: argmax is always token 0 ("5")
    save_file(weights, str(collapsed / "adapter_model.safetensors"))
    checks = {c.name: c for c in smoke_test(collapsed, zoo["base15"], prompts, device="cpu")}
    assert checks["smoke: parse rate"].verdict == "PASS"  # every output parses ...
    assert checks["smoke: output spread"].verdict == "FAIL" and "collapsed" in checks["smoke: output spread"].evidence


def test_unreadable_folders_fail_their_cells_and_the_matrix_goes_on(zoo, tmp_path):
    broken = tmp_path / "broken-1.5b"
    shutil.copytree(zoo["lora15"], broken)
    (broken / "adapter_model.safetensors").write_bytes(b"\x10\x00")  # truncated download
    reports = audit_matrix([str(broken), str(zoo["lora15"])], [str(zoo["base15"])])
    cells = list(reports.values())
    assert cells[0].verdict == "FAIL" and "not a safetensors file" in cells[0].checks[0].evidence
    assert cells[1].verdict == "PASS"


def test_inspect_cli_exits_1_on_an_unreadable_file(tmp_path):
    garbage = tmp_path / "weights.bin"
    garbage.write_bytes(bytes(range(7, 107)))
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "inspect", str(garbage)], capture_output=True,
                          text=True)
    assert done.returncode == 1 and "not inspected" in done.stdout and "Traceback" not in done.stderr


def test_the_package_face_names_every_check_and_the_description():
    import lex_dpr.audit as audit_package

    assert all(hasattr(audit_package, name) for name in audit_package.__all__)
    assert {"AuditCheck", "AuditReport", "audit", "describe_path", "scan_pickle_file"} <= set(audit_package.__all__)
