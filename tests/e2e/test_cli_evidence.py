"""`airlock evidence export | verify` as a user drives them: the JSON shapes, exit codes
0 / 1 / 2, one-line errors, signing with a key pair and tampering caught by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.integration.evidence_helpers import build_home, keypair

from .test_cli import cli, one_line_error


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One release for the module, built in-process; the CLI reads it in subprocesses."""
    folder = tmp_path_factory.mktemp("evidence-cli")
    home, release = build_home(folder)
    key, pub = keypair(folder)
    return {"home": home, "key": key, "pub": pub, **release}


def test_export_and_verify_json(store: dict[str, Any], tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    res = cli("evidence", "export", store["production"], "-o", str(pack), "--sign-key",
              str(store["key"]), "--json", home=store["home"])
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert list(out) == ["path", "manifest_sha256", "completeness", "missing"]
    assert out["path"] == str(pack) and len(out["manifest_sha256"]) == 64
    assert 0 < out["completeness"] < 1
    assert all(list(m) == ["item", "how"] for m in out["missing"])
    assert "importance" in {m["item"] for m in out["missing"]}
    res = cli("evidence", "verify", str(pack), "--pub-key", str(store["pub"]), "--json",
              home=store["home"])
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"ok": True, "problems": []}
    res = cli("evidence", "verify", str(pack), home=store["home"])
    assert res.returncode == 0
    assert res.stdout.startswith("ok: ") and "signature verified" in res.stdout


def test_tables_fit_80_columns_and_min_completeness_exits_1(store: dict[str, Any],
                                                            tmp_path: Path) -> None:
    import os
    import subprocess

    from .test_cli import AIRLOCK

    env = {**os.environ, "AIRLOCK_HOME": str(store["home"]), "COLUMNS": "80"}
    res = subprocess.run([AIRLOCK, "evidence", "export", store["v1"], "-o",
                          str(tmp_path / "p"), "--min-completeness", "0.99"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert res.returncode == 1
    assert all(len(line) <= 80 for line in res.stdout.splitlines()), res.stdout
    assert "completeness" in res.stdout and "importance" in res.stdout
    assert res.stderr.startswith("error: completeness ") and "below --min-completeness" \
        in res.stderr
    assert (tmp_path / "p" / "manifest.json").exists()  # written all the same


def test_tampered_pack_exits_1_naming_the_file(store: dict[str, Any], tmp_path: Path) -> None:
    pack = tmp_path / "pack.zip"
    res = cli("evidence", "export", store["v1"], "-o", str(pack), "--zip", "--sign-key",
              str(store["key"]), home=store["home"])
    assert res.returncode == 0, res.stderr
    import zipfile

    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(pack) as zf:
        zf.extractall(folder)
    report = folder / "decisions" / "decisions.json"
    report.write_text(report.read_text().replace('"passed": true', '"passed": false', 1))
    res = cli("evidence", "verify", str(folder), "--json", home=store["home"])
    assert res.returncode == 1
    assert json.loads(res.stdout)["problems"] == [
        "decisions/decisions.json: changed (sha256 or size differs from the manifest)"]
    _, other = keypair(tmp_path, "other")
    res = cli("evidence", "verify", str(pack), "--pub-key", str(other), home=store["home"])
    assert one_line_error(res, 1) == (
        f"error: manifest.sig: the signature of manifest.json does not verify with the key "
        f"{other}")


def test_bad_input_is_one_line_exit_2(store: dict[str, Any], tmp_path: Path) -> None:
    home = store["home"]
    line = one_line_error(cli("evidence", "export", "credit@42", "-o", str(tmp_path / "p"),
                              home=home))
    assert "credit@42" in line
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = one_line_error(cli("evidence", "export", store["v1"], "-o", str(blocker / "p"),
                              home=home))
    assert line.startswith(f"error: cannot write the evidence pack to {blocker / 'p'}")
    line = one_line_error(cli("evidence", "export", store["v1"], "-o", str(tmp_path / "p"),
                              "--sign-key", str(store["pub"]), home=home))
    assert line == f"error: {store['pub']} is not an Ed25519 private key in PEM form " \
                   "(openssl genpkey -algorithm ed25519)"
    line = one_line_error(cli("evidence", "verify", str(tmp_path / "none"), home=home))
    assert line == f"error: no evidence pack at {tmp_path / 'none'}"


def test_a_version_without_evaluation_writes_its_pack_and_exits_2(store: dict[str, Any],
                                                                  tmp_path: Path) -> None:
    pack = tmp_path / "bare"
    res = cli("evidence", "export", store["bare"], "-o", str(pack), "--json",
              home=store["home"])
    line = one_line_error(res)
    assert line == (f"error: {store['bare']} has no stored evaluation: the pack at {pack} was "
                    f"written without one (run `airlock eval {store['bare']} --data TEST "
                    "--target LABEL`)")
    out = json.loads(res.stdout)
    assert {"evaluation", "fairness", "decisions"} <= {m["item"] for m in out["missing"]}
    res = cli("evidence", "verify", str(pack), home=store["home"])
    assert res.returncode == 0, res.stderr
