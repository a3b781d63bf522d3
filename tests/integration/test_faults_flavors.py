"""ONNX, XGBoost and LightGBM loaders fed malformed files (issue "Hardening…", not yet
covered): truncated, random bytes, empty, a valid file of another flavor, a declared size the
file does not hold. ``load_model`` and ``airlock serve`` pre-flight answer one
:class:`~airlock.errors.UsageError` naming the file and the fault, never a library's own
exception, and never a crash: LightGBM's reader aborted or segfaulted the process on a cut-short
file or a large ``num_leaves``, XGBoost's on a large declared length or deep nesting."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.e2e.test_cli import cli, one_line_error

import airlock
from airlock.errors import UsageError
from airlock.registry import register_saved
from airlock.registry.flavors import get_flavor
from airlock.registry.flavors._base import MODEL_FILE_FAULT

FLAVORS = ("xgboost", "lightgbm", "onnx")
CASES = ("empty", "truncated", "random", "other flavor", "huge declared size")
_FAULT = re.compile(re.escape(MODEL_FILE_FAULT).replace(r"\{flavor\}", r"(?P<flavor>\w+)")
                    .replace(r"\{file\}", r"(?P<file>\S+)").replace(r"\{fault\}",
                                                                    r"(?P<fault>.+)"))


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each flavor's real saved folder (its ``save``) for a small model, and its options."""
    import lightgbm as lgb
    import xgboost as xgb
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.random((200, 4)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    models = {
        "xgboost": xgb.XGBClassifier(n_estimators=4, max_depth=2).fit(X, y),
        "lightgbm": lgb.LGBMClassifier(n_estimators=4, verbose=-1).fit(X, y),
        "onnx": to_onnx(LogisticRegression().fit(X, y), X[:1]),
    }
    out = {}
    for name, model in models.items():
        folder = tmp_path_factory.mktemp(name)
        out[name] = (folder, get_flavor(name).save(model, folder, serialization=None))
    return out


def _good(saved: dict[str, Any], flavor: str) -> bytes:
    folder, options = saved[flavor]
    return bytes((folder / options["file"]).read_bytes())


def malformed(saved: dict[str, Any], flavor: str, case: str) -> bytes:
    good = _good(saved, flavor)
    if case == "empty":
        return b""
    if case == "truncated":
        return good[: len(good) * 2 // 3]
    if case == "random":
        return np.random.default_rng(7).bytes(len(good))
    if case == "other flavor":
        return _good(saved, {"xgboost": "lightgbm", "lightgbm": "onnx", "onnx": "xgboost"}
                     [flavor])
    if flavor == "xgboost":  # the first key's length, then an array's count
        return good[:2] + struct.pack(">q", 2**62) + good[10:]
    if flavor == "lightgbm":
        return re.sub(rb"num_leaves=\d+", b"num_leaves=1000000000000", good, count=1)
    return b"\x3a" + _varint(2**40) + good[:100]  # a graph field declaring 1 TiB


def _folder(tmp_path: Path, saved: dict[str, Any], flavor: str, case: str) -> Path:
    folder = tmp_path / f"{flavor}-{case.replace(' ', '-')}"
    folder.mkdir()
    (folder / saved[flavor][1]["file"]).write_bytes(malformed(saved, flavor, case))
    return folder


def check_fault(exc: UsageError, flavor: str, file: Path) -> str:
    """One line: the flavor, the file, the fault; none of the library's own noise."""
    text = str(exc)
    match = _FAULT.fullmatch(text)
    assert match, text
    assert match["flavor"] == flavor and Path(match["file"]) == file, text
    assert "\n" not in text and "Stack trace" not in text and "[bt]" not in text, text
    assert "ONNXRuntimeError" not in text and "c_api.cc" not in text, text
    return match["fault"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_flavor_loader_names_the_file_and_the_fault(saved: dict[str, Any], flavor: str,
                                                         case: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path, saved, flavor, case)
    options = saved[flavor][1]
    with pytest.raises(UsageError) as info:
        get_flavor(flavor).load(folder, options)
    fault = check_fault(info.value, flavor, folder / options["file"])
    if case == "empty":
        assert fault == "the file is empty"
    if (flavor, case) == ("lightgbm", "truncated"):
        assert "cut short" in fault  # LightGBM itself: "terminate called", SIGABRT
    if (flavor, case) == ("lightgbm", "huge declared size"):
        assert "num_leaves=1000000000000 is outside 1..131072" in fault
    if (flavor, case) == ("xgboost", "huge declared size"):
        assert f"declares {2**62} bytes" in fault  # XGBoost itself: a 4 EiB allocation


@pytest.mark.parametrize("flavor", FLAVORS)
def test_load_model_refuses_a_registered_malformed_file(saved: dict[str, Any], flavor: str,
                                                        tmp_path: Path) -> None:
    """The manifest is built around the malformed file, so its sha256 matches: the fault
    is the flavor's to name, through the one public entry point."""
    for case in CASES:
        folder = _folder(tmp_path, saved, flavor, case)
        name = f"bad-{flavor}"
        version = register_saved(name, folder, get_flavor(flavor), dict(saved[flavor][1]))
        with pytest.raises(UsageError) as info:
            airlock.load_model(f"{name}@{version.version}")
        assert MODEL_FILE_FAULT.split("{")[0] in str(info.value), (case, info.value)
        assert f"the {flavor} model file" in str(info.value)
        assert "\n" not in str(info.value)


def test_a_good_file_still_loads_and_predicts(saved: dict[str, Any]) -> None:
    import pandas as pd

    values = np.random.default_rng(1).random((5, 4)).astype(np.float32)
    for flavor in FLAVORS:
        folder, options = saved[flavor]
        prefix = "Column_" if flavor == "lightgbm" else "f"
        frame = pd.DataFrame(values, columns=[f"{prefix}{i}" for i in range(4)])
        out = get_flavor(flavor).load(folder, options).predict(frame)
        assert all(len(v) == 5 for v in out.values()), flavor


@pytest.mark.slow
def test_airlock_serve_preflight_says_one_line_and_exits_2(saved: dict[str, Any],
                                                            tmp_path: Path,
                                                            airlock_home: Path) -> None:
    for flavor, case in (("lightgbm", "truncated"), ("xgboost", "huge declared size"),
                         ("onnx", "random")):
        folder = _folder(tmp_path, saved, flavor, case)
        version = register_saved(f"bad-{flavor}", folder, get_flavor(flavor),
                                 dict(saved[flavor][1]))
        line = one_line_error(cli("serve", f"bad-{flavor}@{version.version}",
                                  home=airlock_home))
        assert f"cannot load the {flavor} model file" in line, line
        assert saved[flavor][1]["file"] in line, line


FUZZ = r"""
import json, sys, random
from pathlib import Path
import numpy as np, pandas as pd
from airlock.errors import AirlockError
from airlock.registry.flavors import get_flavor
flavor, folder, options = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
file = folder / options["file"]
good = file.read_bytes()
rng = random.Random(13)
frame = pd.DataFrame(np.random.default_rng(0).random((5, 4)).astype(np.float32),
                     columns=[f"Column_{i}" if flavor == "lightgbm" else f"f{i}"
                              for i in range(4)])
counts = {"refused": 0, "loaded": 0, "raw": []}
cuts = sorted({int(len(good) * k / 80) for k in range(80)})
flips = []
for _ in range(int(sys.argv[4])):
    b = bytearray(good)
    for _ in range(rng.randint(1, 4)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    flips.append(bytes(b))
for data in [good[:c] for c in cuts] + flips:
    file.write_bytes(data)
    try:
        predictor = get_flavor(flavor).load(folder, options)
    except AirlockError:
        counts["refused"] += 1
        continue
    except Exception as exc:
        counts["raw"].append(f"{type(exc).__name__}: {exc}"[:200])
        continue
    counts["loaded"] += 1
    try:
        predictor.predict(frame)
    except Exception:
        pass  # a model that loads may still refuse odd rows; what matters: no crash
print(json.dumps(counts))
"""


@pytest.mark.slow
@pytest.mark.parametrize("flavor", FLAVORS)
def test_cut_and_flipped_files_never_crash_the_process(saved: dict[str, Any], flavor: str,
                                                        tmp_path: Path) -> None:
    """80 truncations and 200 random byte flips of a good file, in a child process (a crash
    must fail this test, not end the test run): each is refused with an AirlockError or
    loads; none raises a library's own exception, none aborts or segfaults."""
    import shutil

    folder = tmp_path / "fuzz"
    shutil.copytree(saved[flavor][0], folder)
    res = subprocess.run([sys.executable, "-c", FUZZ, flavor, str(folder),
                          json.dumps(saved[flavor][1]), "200"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    counts = json.loads(res.stdout.strip().splitlines()[-1])
    assert counts["raw"] == [], counts["raw"][:5]
    assert counts["refused"] >= 80, counts  # every cut is refused


ABORTS = r"""
import json, sys
from pathlib import Path
from airlock.errors import UsageError
from airlock.registry.flavors import get_flavor
folder, options, cases = Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
file = folder / options["file"]
out = {}
for name, text in cases.items():
    file.write_bytes(text.encode("latin-1"))
    try:
        get_flavor("lightgbm").load(folder, options)
        out[name] = "loaded"
    except UsageError as exc:
        out[name] = str(exc).split(": ", 1)[1]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_lightgbm_edits_its_reader_aborts_on_are_refused(saved: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """Each edit keeps the tree sizes LightGBM declares, so its parallel tree reader meets
    the fault and aborts the process ("terminate called", SIGABRT); found by the fuzz."""
    import shutil

    good = _good(saved, "lightgbm").decode("latin-1")
    first = good.index("leaf_value=")
    cases = {
        "a carriage return in an array": good[:first + 14] + "\r" + good[first + 15:],
        "a value that is not a number": good.replace("shrinkage=1", "shrinkage=U", 1),
        "a tab at a line's end": good.replace("\nnum_cat=0\n", "\nnum_cat=\t\n", 1),
        "parameters cut short": good[:good.index("end of parameters")],
        "sizes that do not match": good.replace("tree_sizes=", "tree_sizes=1", 1),
    }
    folder = tmp_path / "lgb"
    shutil.copytree(saved["lightgbm"][0], folder)
    res = subprocess.run([sys.executable, "-c", ABORTS, str(folder),
                          json.dumps(saved["lightgbm"][1]), json.dumps(cases)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    faults = json.loads(res.stdout.strip().splitlines()[-1])
    assert faults == {
        "a carriage return in an array": "a carriage return in the header or the trees "
                                         "(LightGBM writes '\\n' line ends only)",
        "a value that is not a number": "tree 0: shrinkage holds a value that is not a number",
        "a tab at a line's end": "tree 0: num_cat holds a value that is not a number",
        "parameters cut short": "the file is cut short (no 'end of parameters' line)",
        "sizes that do not match": "the header's tree_sizes do not match the trees in the file",
    }
