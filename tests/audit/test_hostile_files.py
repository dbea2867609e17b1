"""Hostile and malformed model files: one line, a meaningful exit code, no traceback, and nothing in them runs.

Each hostile file is generated here. Exit codes are the documented ones: 2 when a check FAILs (a pickle that
could run code), 1 when a file cannot be read at all (InputError: one ``error:`` line on stderr).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pydoc
import shlex
import shutil
import struct
import subprocess
import sys
import timeit
import warnings
import zipfile
from pathlib import Path

import pytest

from lex_dpr.audit.checks import audit
from lex_dpr.audit.headers import read_safetensors_header
from lex_dpr.audit.models import Adapter
from lex_dpr.audit.pickle_scan import TENSOR_GLOBALS, scan_pickle_bytes, scan_pickle_file


class _Reduce:
    """Pickles as ``func(*args)``: what a hostile checkpoint's ``__reduce__`` returns."""

    def __init__(self, func, args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _cli(*args: object, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100"}
    env.pop("LEX_DPR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


def _one_line(done: subprocess.CompletedProcess, prefix: str) -> str:
    lines = [line for line in done.stdout.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, done.stdout
    return lines[0]


def _error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    _no_traceback(done)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def _torch_zip(state: dict, extra: list[tuple[str, bytes]] = (), replace_main: bytes | None = None) -> bytes:
    """A real torch.save zip, with records added before its own (and data.pkl optionally replaced)."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zf:
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for name, data in extra:
            zf.writestr(name, data)
        for info in src.infolist():
            data = replace_main if info.filename.endswith("/data.pkl") and replace_main is not None else src.read(info)
            zf.writestr(info.filename, data)
    return out.getvalue()


# Each payload: (name, builder). A builder gets a folder for its side effects and returns the file's bytes and a
# function telling whether the payload ran.
def _inst(where: Path):
    marker = where / "INST_RAN"
    return f"(S'touch {marker}'\nios\nsystem\n.".encode(), marker.exists  # protocol 0 INST


def _timeit(where: Path):
    marker = where / "TIMEIT_RAN"
    setup = f"open({str(marker)!r}, 'w').close()"
    return pickle.dumps(_Reduce(timeit.timeit, ("pass", setup)), protocol=2), marker.exists


def _pipepager(where: Path):
    marker = where / "PIPEPAGER_RAN"
    return pickle.dumps(_Reduce(pydoc.pipepager, ("x", f"touch {shlex.quote(str(marker))}"))), marker.exists


def _truncate(where: Path):
    victim = where / "victim.txt"
    victim.write_text("precious")
    data = pickle.dumps({"w": _Reduce(open, (str(victim), "w"))}, protocol=2)
    return data, lambda: victim.read_text() != "precious"


def _decoy_zip(where: Path):
    """A clean ``archive/xdata.pkl`` first (the old scan read the first ``*data.pkl``); torch loads data.pkl."""
    import torch

    marker = where / "DECOY_RAN"
    clean = io.BytesIO()
    torch.save({"w": torch.ones(2)}, clean)
    decoy = zipfile.ZipFile(io.BytesIO(clean.getvalue())).read("archive/data.pkl")
    evil = pickle.dumps(_Reduce(os.system, (f"touch {shlex.quote(str(marker))}",)), protocol=2)
    return _torch_zip({"w": torch.ones(2)}, extra=[("archive/xdata.pkl", decoy)], replace_main=evil), marker.exists


def _legacy_main(where: Path):
    """torch's legacy format: magic number, protocol, sys info, then the object pickle carries the payload."""
    marker = where / "LEGACY_RAN"
    buf = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
        pickle.dump(part, buf, protocol=2)
    pickle.dump(_Reduce(os.system, (f"touch {shlex.quote(str(marker))}",)), buf, protocol=2)
    pickle.dump([], buf, protocol=2)
    return buf.getvalue(), marker.exists


def _polyglot(where: Path):
    """A pickle with a clean torch zip appended: zipfile.is_zipfile says zip, torch.load reads the pickle."""
    import torch

    marker = where / "POLYGLOT_RAN"
    evil = pickle.dumps(_Reduce(os.system, (f"touch {shlex.quote(str(marker))}",)), protocol=4)
    return evil + _torch_zip({"w": torch.ones(2)}), marker.exists


PAYLOADS = {"INST os.system": (_inst, "os.system"), "timeit.timeit": (_timeit, "timeit.timeit"),
            "pydoc.pipepager": (_pipepager, "pydoc.pipepager"), "open(path, 'w')": (_truncate, "io.open"),
            "decoy zip": (_decoy_zip, "system"), "legacy object pickle": (_legacy_main, "system"),
            "pickle + zip polyglot": (_polyglot, "system")}


@pytest.fixture(scope="module")
def payload_files(tmp_path_factory) -> dict[str, tuple[Path, object]]:
    root = tmp_path_factory.mktemp("payloads")
    out = {}
    for i, (name, (build, _)) in enumerate(PAYLOADS.items()):
        where = root / f"p{i}"
        where.mkdir()
        data, ran = build(where)
        (where / "payload.bin").write_bytes(data)
        out[name] = (where / "payload.bin", ran)
    return out


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_code_running_pickle_fails_and_never_runs(name, payload_files, zoo, tmp_path):
    payload, ran = payload_files[name]
    evil = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], evil)
    (evil / "adapter_model.safetensors").unlink()
    shutil.copy(payload, evil / "adapter_model.bin")
    expected = PAYLOADS[name][1]

    done = _cli("audit-adapter", evil, "--base", zoo["base15"])
    assert done.returncode == 2, done.stdout + done.stderr
    _no_traceback(done)
    line = _one_line(done, "FAIL pickle safety: ")
    assert f"{evil / 'adapter_model.bin'}: imports " in line and expected in line
    assert "would run code under torch.load(weights_only=False)" in line

    for target in (evil, evil / "adapter_model.bin"):
        done = _cli("inspect", target)
        assert done.returncode == 2, done.stdout + done.stderr
        _no_traceback(done)
        line = _one_line(done, "FAIL pickle: adapter_model.bin: ")
        assert expected in line and "would run code" in line
    assert not ran(), f"{name}: the payload ran"


def test_the_payloads_are_real(tmp_path):
    """Control: torch.load(weights_only=False) does run each payload (so 'it did not run' above means something)."""
    files = {}
    for i, (name, (build, _)) in enumerate(PAYLOADS.items()):
        where = tmp_path / f"c{i}"
        where.mkdir()
        data, ran = build(where)
        (where / "payload.bin").write_bytes(data)
        files[name] = (where / "payload.bin", ran)
    code = ("import sys, warnings, torch\nwarnings.simplefilter('ignore')\nfor path in sys.argv[1:]:\n"
            "    try:\n        torch.load(path, weights_only=False)\n    except Exception:\n        pass\n")
    subprocess.run([sys.executable, "-c", code, *(str(p) for p, _ in files.values())], capture_output=True,
                   timeout=300, check=True)
    assert {name: ran() for name, (_, ran) in files.items()} == dict.fromkeys(PAYLOADS, True)


@pytest.mark.parametrize(("data", "expected"), [
    (b"(cos\nsystem\nS'touch X'\no.", "imports os.system"),  # OBJ
    (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x8c\x01x\x85R.", "imports os.system"),  # STACK_GLOBAL
    (b"\x80\x02cbuiltins\nobject\n)\x81.", "imports builtins.object"),  # NEWOBJ
    (b"\x80\x04cbuiltins\nobject\n)}\x92.", "imports builtins.object"),  # NEWOBJ_EX
    (b"\x80\x02\x82\x05)R.", "copyreg extension code 5 (EXT1)"),
    (b"\x80\x02\x83\x05\x01)R.", "copyreg extension code 261 (EXT2)"),
    (b"\x80\x02\x84\x05\x00\x01\x00)R.", "copyreg extension code 65541 (EXT4)"),
    (b"c__builtin__\neval\n(S'1'\ntR.", "imports builtins.eval"),  # Python 2 names are mapped like pickle does
    (b"\x80\x04\x8c\x05torch\x8c\x12_utils.os.system.x\x93.", "imports torch._utils.os.system.x"),  # attribute walk
    (b"\x80\x02ccollections\nOrderedDict\n}b.", "sets attributes on collections.OrderedDict itself"),  # BUILD
    (b"\x80\x02X\x01\x00\x00\x00x)R.", "REDUCE at byte 9 calls a value that is not an allowed global"),
    (b"\x80\x02cos\nsystem\n", "imports os.system"),  # truncated after the import
    (b"\x80\x02ccollections\nOrderedDict\n)R\xff", "cannot be followed (unknown opcode 0xff at byte 29)"),
    # the C unpickler decodes this string with surrogatepass; a strict decoder would stop here and miss the rest
    (b"\x80\x02X\x03\x00\x00\x00\xed\xa0\x800cos\nsystem\n(S'x'\ntR.", "imports os.system"),
    (b"\x80\x05\x97cos\nsystem\n.", "imports os.system"),  # NEXT_BUFFER in front of an import
])
def test_every_opcode_that_imports_or_calls_is_judged(data, expected):
    scan = scan_pickle_bytes(data)
    assert scan.unsafe and expected in scan.summary(), scan.summary()


def test_unreadable_pickles_are_reported_and_nothing_in_them_runs():
    for data in (b"", bytes(range(7, 107)), pickle.dumps({"a": 1}, protocol=2)[:-3]):
        scan = scan_pickle_bytes(data)
        assert scan.error and scan.inert and not scan.unsafe and "not inspected" in scan.summary()


def test_zip_with_two_top_folders_or_two_data_pkl_fails(tmp_path):
    import torch

    clean = {"w": torch.ones(2)}
    other_root = _torch_zip(clean, extra=[("b/data.pkl", pickle.dumps({"x": 1}, protocol=2))])
    dup = _torch_zip(clean, extra=[("archive/data.pkl", pickle.dumps({"x": 1}, protocol=2))])
    torchscript = _torch_zip(clean, extra=[("archive/constants.pkl", pickle.dumps((), protocol=2))])
    for data, expected in ((other_root, "records under 2 top folders (archive/, b/)"),
                           (dup, "holds 2 records named archive/data.pkl"), (torchscript, "TorchScript archive")):
        path = tmp_path / "adapter_model.bin"
        path.write_bytes(data)
        scan = scan_pickle_file(path)
        assert scan.unsafe and expected in scan.summary(), scan.summary()


def _safetensors(header: object, data: bytes = bytes(128)) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


_W = {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 128]}


@pytest.mark.parametrize(("header", "expected"), [
    ([1, 2], "safetensors header is a list, not a JSON object"),
    ("weights", "safetensors header is a string, not a JSON object"),
    ({"w": {**_W, "shape": ["a", 32]}}, "tensor 'w' has shape [\"a\",32], expected a list of non-negative integers"),
    ({"w": {**_W, "shape": 5}}, "tensor 'w' has shape 5, expected a list"),
    ({"w": {k: v for k, v in _W.items() if k != "dtype"}}, "tensor 'w' has dtype missing"),
    ({"w": {k: v for k, v in _W.items() if k != "data_offsets"}}, "tensor 'w' has data_offsets missing"),
    ({"w": {**_W, "data_offsets": [0, 10**9]}}, "tensor 'w' ends at byte 1000000000 of a data section of 128 bytes"),
    ({"w": {**_W, "shape": [4, 9]}}, "tensor 'w' holds 128 bytes, but F32 [4, 9] needs 144"),
    ({"w": [1]}, "tensor 'w' is a list, not an object"),
])
def test_malformed_safetensors_header_is_one_line(header, expected, zoo, tmp_path):
    adapter = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], adapter)
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(_safetensors(header))
    for done in (_cli("audit-adapter", adapter, "--base", zoo["base15"]), _cli("inspect", adapter),
                 _cli("inspect", weights)):
        line = _error_line(done)
        assert line.startswith(f"error: {weights}: ") and expected in line, line


@pytest.mark.parametrize(("change", "expected"), [
    ({"r": "four"}, 'adapter_config.json: r is "four" (a string), expected a positive integer; fix the file'),
    ({"target_modules": 7}, "adapter_config.json: target_modules is 7 (a number), expected a list of module names"),
    ({"lora_alpha": [8]}, "adapter_config.json: lora_alpha is [8] (a list), expected a number"),
    ([1, 2], "adapter_config.json: expected a JSON object, found a list; fix or replace the file"),
])
def test_malformed_adapter_config_is_one_line(change, expected, zoo, tmp_path):
    adapter = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], adapter)
    config = adapter / "adapter_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), **change} if isinstance(change, dict) else change))
    line = _error_line(_cli("audit-adapter", adapter, "--base", zoo["base15"]))
    assert line.startswith(f"error: {adapter}/") and expected in line, line


def test_malformed_base_config_and_oversized_config_are_one_line(zoo, tmp_path):
    base = tmp_path / "Qwen2.5-1.5B-Instruct"
    shutil.copytree(zoo["base15"], base)
    config = base / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "hidden_size": "32"}))
    line = _error_line(_cli("audit-adapter", zoo["lora15"], "--base", base))
    assert line == f'error: {config}: hidden_size is "32" (a string), expected a positive integer; fix the file'
    adapter = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], adapter)
    (adapter / "adapter_config.json").write_bytes(b"{" + b" " * (9 << 20) + b"}")
    line = _error_line(_cli("audit-adapter", adapter, "--base", zoo["base15"]))
    assert "adapter_config.json: larger than 8 MiB, too large for a JSON config" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["adapter_model.safetensors", "adapter_model.bin", "adapter_config.json"])
def test_fifo_is_named_never_opened(name, zoo, tmp_path):
    adapter = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], adapter)
    if name == "adapter_model.bin":
        (adapter / "adapter_model.safetensors").unlink()
    fifo = adapter / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    runs = [_cli("audit-adapter", adapter, "--base", zoo["base15"], timeout=60)]
    if name != "adapter_config.json":  # inspect reads weights only
        runs += [_cli("inspect", adapter, timeout=60), _cli("inspect", fifo, timeout=60)]
    for done in runs:
        line = _error_line(done)
        assert line.startswith(f"error: {fifo}: not a regular file (a FIFO); replace it with the real "), line


def _peft_pickle_adapter(base: Path, folder: Path, twin: Path | None = None) -> Path:
    """A real peft adapter saved with safe_serialization=False (adapter_model.bin), and its safetensors twin."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                      init_lora_weights=False, task_type="CAUSAL_LM"))
    model.save_pretrained(folder, safe_serialization=False)
    if twin is not None:
        model.save_pretrained(twin)
    return folder


def test_allowlist_passes_real_torch_and_peft_pickles(zoo, tmp_path):
    import torch
    from safetensors.torch import load_file

    assert TENSOR_GLOBALS == set(__import__("torch._weights_only_unpickler", fromlist=["x"])._get_allowed_globals())
    state = load_file(str(zoo["lora15"] / "adapter_model.safetensors"))
    expected = read_safetensors_header(zoo["lora15"] / "adapter_model.safetensors")
    for i, kwargs in enumerate(({}, {"_use_new_zipfile_serialization": False}, {"pickle_protocol": 4},
                                {"pickle_protocol": 4, "_use_new_zipfile_serialization": False})):
        path = tmp_path / f"state{i}.bin"
        torch.save(state, path, **kwargs)
        scan = scan_pickle_file(path)
        assert scan.readable and scan.tensors == expected, (kwargs, scan.summary())
    bf16 = tmp_path / "bf16.bin"
    torch.save({"w": torch.nn.Parameter(torch.ones(3, 2, dtype=torch.bfloat16))}, bf16)
    assert scan_pickle_file(bf16).tensors["w"].shape == (3, 2)

    adapter = _peft_pickle_adapter(zoo["base15"], tmp_path / "pickled-1.5b", twin=tmp_path / "twin-1.5b")
    assert not (adapter / "adapter_model.safetensors").exists()
    assert Adapter.load(adapter).tensors == read_safetensors_header(tmp_path / "twin-1.5b" / "adapter_model.safetensors")
    checks = {c.name: c for c in audit(adapter, zoo["base15"]).checks}
    assert checks["shapes"].verdict == "PASS" and checks["pickle safety"].verdict == "WARN"
    done = _cli("audit-adapter", adapter, "--base", zoo["base15"])
    assert done.returncode == 0 and "FAIL" not in done.stdout, done.stdout
    _no_traceback(done)
    done = _cli("inspect", adapter / "adapter_model.bin")
    assert done.returncode == 0 and "adapter" in done.stdout, done.stdout


def test_trainer_artifacts_beside_an_adapter_warn(zoo, tmp_path):
    import torch
    from transformers import TrainingArguments

    adapter = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], adapter)
    torch.save(TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[]), adapter / "training_args.bin")
    checks = [c for c in audit(adapter, zoo["base15"]).checks if c.name == "pickle safety"]
    assert [c.verdict for c in checks] == ["WARN"] and "a Trainer artifact, not weights" in checks[0].evidence
    shutil.copy(adapter / "training_args.bin", adapter / "adapter_model.bin")  # the same globals in a weights file
    scan = scan_pickle_file(adapter / "adapter_model.bin")
    assert scan.unsafe and "transformers.training_args.TrainingArguments" in scan.disallowed


def test_smoke_test_on_a_pickle_adapter_is_one_line_and_loads_nothing(zoo, payload_files, tmp_path):
    clean = _peft_pickle_adapter(zoo["base15"], tmp_path / "pickled-1.5b")
    report = tmp_path / "audit.json"
    done = _cli("audit-adapter", clean, "--base", zoo["base15"], "--smoke-test", "--samples", "2", "--json", report)
    assert done.returncode == 0, done.stdout + done.stderr
    _no_traceback(done)
    out = done.stdout + done.stderr
    assert "weights_only=False" not in out and "UnpicklingError" not in out
    smoke = [c for c in json.loads(report.read_text())["checks"] if c["name"] == "smoke test"]
    assert smoke == [{"name": "smoke test", "verdict": "WARN", "evidence": (
        "not run: the smoke test loads only safetensors weights, and the adapter has no adapter_model.safetensors "
        "(adapter_model.bin is a pickle, scan WARN (8 tensors, only allowlisted globals))")}]

    payload, ran = payload_files["INST os.system"]
    evil = tmp_path / "evil-1.5b"
    shutil.copytree(clean, evil)
    shutil.copy(payload, evil / "adapter_model.bin")
    done = _cli("audit-adapter", evil, "--base", zoo["base15"], "--smoke-test", "--samples", "2")
    assert done.returncode == 2
    _no_traceback(done)
    line = _one_line(done, "FAIL smoke test: ")
    assert "adapter_model.bin is a pickle, scan FAIL (imports os.system)" in line and "weights_only" not in line
    assert "UnpicklingError" not in done.stdout + done.stderr and not ran()


def test_inspect_reports_a_pickle_beside_safetensors(zoo, payload_files, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "lora-1.5b"
    shutil.copytree(zoo["lora15"], folder)
    torch.save(load_file(str(folder / "adapter_model.safetensors")), folder / "adapter_model.bin")
    done = _cli("inspect", folder)
    assert done.returncode == 0, done.stdout + done.stderr
    line = _one_line(done, "WARN pickle: adapter_model.bin (beside the safetensors weights): ")
    assert "8 tensors, only torch weights_only globals" in line

    payload, ran = payload_files["decoy zip"]
    shutil.copy(payload, folder / "adapter_model.bin")
    done = _cli("inspect", folder)
    assert done.returncode == 2
    _no_traceback(done)
    line = _one_line(done, "FAIL pickle: adapter_model.bin (beside the safetensors weights): imports ")
    assert "system" in line and not ran()
