"""`airlock contract infer | validate | diff` as a user drives them, on real data, plus a
SQL source on the real PostgreSQL server."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

import airlock
from airlock.store import get_store

from .test_cli import AIRLOCK, cli, one_line_error


@pytest.fixture
def files(adult_sample: Any, tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "adult.parquet"
    adult_sample.write_parquet(good)
    broken = adult_sample.with_columns(
        pl.when(pl.int_range(pl.len()) < 7).then(-5).otherwise(pl.col("age")).alias("age"))
    bad = tmp_path / "broken.parquet"
    broken.write_parquet(bad)
    return {"good": good, "bad": bad, "dir": tmp_path}


def test_infer_validate_diff(files: dict[str, Path], airlock_home: Path) -> None:
    contract = files["dir"] / "contract.yaml"
    res = cli("contract", "infer", str(files["good"]), "-o", str(contract), home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert "age:" in contract.read_text()

    res = cli("contract", "validate", str(contract), str(files["good"]), "--json",
              home=airlock_home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["passed"] is True and out["rows"] == 2000
    assert {"name", "column", "severity", "passed", "failing_rows", "failing_fraction",
            "examples"} <= set(out["checks"][0])

    res = cli("contract", "validate", str(contract), str(files["bad"]), "--json",
              home=airlock_home)
    assert res.returncode == 1
    out = json.loads(res.stdout)
    failing = [c for c in out["checks"] if not c["passed"]]
    assert any(c["column"] == "age" and c["failing_rows"] == 7 and -5 in c["examples"]
               for c in failing)

    # every validation is stored with the data's fingerprint and audited
    events = airlock.list_events(action="contract.")
    assert [e.payload["passed"] for e in events] == [True, False]
    digest = airlock.fingerprint(files["bad"]).digest
    assert get_store().contracts.for_dataset(digest)[0]["passed"] is False

    looser = files["dir"] / "looser.yaml"
    looser.write_text(contract.read_text().replace("nullable: false", "nullable: true", 1))
    res = cli("contract", "diff", str(contract), str(looser), "--json", home=airlock_home)
    assert res.returncode == 1  # admitting nulls breaks consumers
    assert json.loads(res.stdout)["changes"][0]["breaking"] is True
    res = cli("contract", "diff", str(contract), str(contract), home=airlock_home)
    assert res.returncode == 0


def test_contract_errors_are_one_line(files: dict[str, Path], airlock_home: Path) -> None:
    bad = files["dir"] / "bad.yaml"
    bad.write_text("name: x\ncolumns:\n  age:\n    type: integer\n")
    line = one_line_error(cli("contract", "validate", str(bad), str(files["good"]),
                              home=airlock_home))
    assert "integer" in line and "line 4" in line
    line = one_line_error(cli("contract", "validate", str(files["dir"] / "none.yaml"),
                              str(files["good"]), home=airlock_home))
    assert "none.yaml" in line
    # issue 13 item 8: a 356-byte alias bomb took 7.8 s and 350 MB
    bomb = files["dir"] / "bomb.yaml"
    bomb.write_text("name: x\ncolumns: {}\ndescription:\n  a: &a [l, l, l, l, l, l, l, l, l]\n"
                    + "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                              for p, c in zip("abcdefg", "bcdefgh", strict=True)))
    line = one_line_error(cli("contract", "validate", str(bomb), str(files["good"]),
                              home=airlock_home))
    assert line == (f"error: {bomb}: YAML anchors and aliases (&name, *name) are not allowed "
                    "(line 4)")


def test_validate_a_postgres_table(postgres_uri: str, airlock_home: Path,
                                   tmp_path: Path) -> None:
    engine = sa.create_engine(postgres_uri)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE people (id int, email text, age int)")
        conn.execute(sa.text(
            "INSERT INTO people SELECT g, 'user' || g || '@example.com', 20 + mod(g, 50) "
            "FROM generate_series(1, 5000) g"))
        conn.exec_driver_sql("UPDATE people SET age = 500 WHERE id <= 3")
    engine.dispose()
    contract = tmp_path / "people.yaml"
    contract.write_text("name: people\ncolumns:\n  id: {type: int, unique: true, nullable: false}\n"
                        "  email: {type: string, pii: email}\n"
                        "  age: {type: int, min: 0, max: 120}\n")
    result = airlock.Contract.from_yaml(contract).validate(postgres_uri, table="people")
    assert result.rows == 5000 and not result.passed
    query = airlock.Contract.from_yaml(contract).validate(
        postgres_uri, query="SELECT * FROM people WHERE id > 3 AND email LIKE 'user1%'")
    assert query.rows == 1110 and query.passed  # ids 10-19, 100-199, 1000-1999
    (age,) = [c for c in result.checks if c.column == "age" and not c.passed]
    assert age.failing_rows == 3 and age.examples == [500, 500, 500]


@pytest.mark.parametrize(("name", "content", "fault"), [
    ("empty.parquet", b"", "the file is empty"),
    ("garbage.parquet", b"PAR1 but not really a parquet file", "not a Parquet file"),
    ("latin1.csv", "age,city\n30,Köln\n".encode("latin-1"), "not UTF-8"),
    ("ragged.csv", b"age,city\n30,Lyon\n31,Lyon,extra\n", "more fields than the header"),
])
def test_unreadable_files_are_one_line_exit_2(tmp_path: Path, airlock_home: Path, name: str,
                                              content: bytes, fault: str) -> None:
    """Issue 13 item 15: these were exit 70 'internal error' with a polars ComputeError."""
    path = tmp_path / name
    path.write_bytes(content)
    contract = tmp_path / "c.yaml"
    contract.write_text("name: c\ncolumns:\n  age: {type: int}\n  city: {type: string, "
                        "max_length: 9}\n")
    for args in (("infer", str(path)), ("validate", str(contract), str(path))):
        line = one_line_error(cli("contract", *args, home=airlock_home))
        assert line.startswith(f"error: cannot read {path}: ") and fault in line, (args, line)


def test_infer_output_folder_missing_is_one_line(files: dict[str, Path],
                                                 airlock_home: Path) -> None:
    target = files["dir"] / "no-such-folder" / "c.yaml"
    line = one_line_error(cli("contract", "infer", str(files["good"]), "-o", str(target),
                              home=airlock_home))
    assert line == f"error: no such file or folder: {target.parent}"


def _terminal(*args: str, home: Path, columns: int = 80) -> tuple[int, str]:
    """Run the CLI on a real terminal (a pty) ``columns`` wide: (exit code, text seen)."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "AIRLOCK_HOME": str(home), "COLUMNS": str(columns), "LINES": "50",
           "TERM": "xterm"}
    env.pop("AIRLOCK_STORE_URI", None)
    proc = subprocess.Popen([AIRLOCK, *args], stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    code = proc.wait(timeout=60)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
    return code, text.replace("\r\n", "\n")


def test_failing_checks_show_their_reason_at_80_columns(tmp_path: Path,
                                                        airlock_home: Path) -> None:
    """Issue 12 item 10: a failing type check showed `type | hue | error | 0 | 1` and a PSI
    row no value; every failing row now says why, PSI rows say their value, at 80 columns."""
    n = 400
    pl.DataFrame({"hue": ["red"] * n, "age": list(range(n)),
                  "score": [float(i % 10) for i in range(n)]}).write_parquet(
        tmp_path / "current.parquet")
    pl.DataFrame({"age": list(range(n)), "score": [float(i % 3) for i in range(n)]}
                 ).write_parquet(tmp_path / "reference.parquet")
    (tmp_path / "current.csv").write_text("hue,age\n" + "".join(
        f"{'blue' if i % 4 == 0 else i},{i}\n" for i in range(n)))
    contract = tmp_path / "c.yaml"
    contract.write_text(
        "name: colours\ncolumns:\n  hue: {type: int}\n  age: {type: int, max: 300}\n"
        "table:\n  distribution:\n    reference: reference.parquet\n"
        "    max_psi: {age: 0.1, score: 0.1}\n")
    code, text = _terminal("contract", "validate", str(contract),
                           str(tmp_path / "current.parquet"), home=airlock_home)
    assert code == 1, text
    assert max(len(line) for line in text.splitlines()) <= 80, text
    flat = " ".join(text.split())
    as_json = json.loads(cli("contract", "validate", str(contract),
                             str(tmp_path / "current.parquet"), "--json",
                             home=airlock_home).stdout)
    for check in as_json["checks"]:
        if not check["passed"]:
            assert check["detail"], check
            assert " ".join(check["detail"].split()) in flat, (check, text)
    # one table row per failing check, its reason on the line under it (too long beside it)
    assert "FAIL type hue - - ↳ expected int, the data holds String" in flat, text  # physical
    assert "FAIL range age 99 24.75% ↳ expected values at most 300" in flat, text
    assert re.search(r"FAIL psi score - - ↳ PSI \d+\.\d{4} \(at most 0\.1\)", flat), text
    assert "ok psi age - - ↳ PSI 0.0000 (at most 0.1)" in flat, text
    # text parsed from a CSV: the values that are not ints, with examples
    code, text = _terminal("contract", "validate", str(contract),
                           str(tmp_path / "current.csv"), home=airlock_home)
    flat = " ".join(text.split())
    assert "FAIL type hue 100 25.00% ↳ values present but not a valid int; e.g. " \
           "'blue', 'blue', 'blue'" in flat, text
