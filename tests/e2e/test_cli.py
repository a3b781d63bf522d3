"""The CLI as a user drives it: the installed ``airlock`` command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.integration.store_helpers import read_only

import airlock
from airlock.store import close_stores, get_store

AIRLOCK = shutil.which("airlock", path=str(Path(sys.executable).parent)) or "airlock"


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "AIRLOCK_ACTOR": "cli-user",
           "COLUMNS": "200"}
    env.pop("AIRLOCK_STORE_URI", None)
    return subprocess.run([AIRLOCK, *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def one_line_error(res: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def populated(airlock_home: Path) -> dict[str, Any]:
    """Three runs and a model with two versions, written through the Python API."""
    ids = []
    for depth, auc in ((6, 0.93), (6, 0.88), (3, 0.95)):
        with airlock.start_run("cli-exp", params={"max_depth": depth}) as run:
            run.log_metric("val_auc", auc, step=1)
            run.log_metric("val_auc", auc - 0.1, step=0)
        ids.append(run.id)
    versions = [airlock.register_model("clf", _double, input_example={"x": [1.0, 2.0]})
                for _ in range(2)]
    close_stores()
    return {"runs": ids, "versions": versions}


def _double(df: Any) -> Any:
    return df["x"] * 2


def test_help_for_every_command(airlock_home: Path) -> None:
    for args in (["--help"], ["runs", "--help"], ["runs", "list", "--help"],
                 ["runs", "show", "--help"], ["runs", "compare", "--help"],
                 ["models", "--help"], ["models", "list", "--help"],
                 ["models", "show", "--help"], ["models", "alias", "--help"],
                 ["models", "history", "--help"], ["models", "import-mlflow", "--help"],
                 ["events", "--help"], ["events", "verify", "--help"],
                 ["store", "upgrade", "--help"], ["store", "info", "--help"]):
        res = cli(*args, home=airlock_home)
        assert res.returncode == 0, (args, res.stderr)
        assert "Usage:" in res.stdout


def test_runs_list_filter_order_json(populated: dict[str, Any], airlock_home: Path) -> None:
    res = cli("runs", "list", "--experiment", "cli-exp", "--filter",
              "metrics.val_auc > 0.9 and params.max_depth = 6", "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["id"] for r in rows] == [populated["runs"][0]]
    assert rows[0]["metrics"] == {"val_auc": 0.93}  # latest by step, not by time
    assert rows[0]["params"] == {"max_depth": "6"}
    assert rows[0]["experiment"] == "cli-exp" and rows[0]["status"] == "FINISHED"

    res = cli("runs", "list", "--order-by", "metrics.val_auc DESC", "--json", home=airlock_home)
    aucs = [r["metrics"]["val_auc"] for r in json.loads(res.stdout)]
    assert aucs == sorted(aucs, reverse=True) and len(aucs) == 3


def test_runs_show_and_compare(populated: dict[str, Any], airlock_home: Path) -> None:
    a, b, _ = populated["runs"]
    res = cli("runs", "show", a, "--json", home=airlock_home)
    shown = json.loads(res.stdout)
    assert shown["id"] == a and shown["env"]["python"]
    res = cli("runs", "show", a[:8], home=airlock_home)  # the prefix `runs list` prints
    assert res.returncode == 0 and a in res.stdout
    res = cli("runs", "compare", a, b, home=airlock_home)
    assert res.returncode == 0
    assert "* metrics.val_auc" in res.stdout  # differing rows are marked
    assert "  params.max_depth" in res.stdout


def test_models_commands(populated: dict[str, Any], airlock_home: Path) -> None:
    res = cli("models", "alias", "clf@1", "staging", home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert cli("models", "alias", "clf@2", "staging", home=airlock_home).returncode == 0
    listed = json.loads(cli("models", "list", "--json", home=airlock_home).stdout)
    assert listed[0]["name"] == "clf" and listed[0]["version"] == 2
    assert listed[0]["aliases"] == {"staging": 2}
    shown = json.loads(cli("models", "show", "clf@staging", "--json", home=airlock_home).stdout)
    assert shown["version"] == 2 and shown["aliases"] == ["staging"]
    assert shown["flavor"] == "python"
    for digest in shown["files"].values():
        assert len(digest) == 64
    hist = json.loads(cli("models", "history", "clf", "--json", home=airlock_home).stdout)
    assert [(h["action"], h["from"], h["to"], h["actor"]) for h in hist] == [
        ("alias.set", None, 1, "cli-user"), ("alias.moved", 1, 2, "cli-user")]
    res = cli("models", "alias", "clf", "staging", "--delete", home=airlock_home)
    assert res.returncode == 0
    one_line_error(cli("models", "show", "clf@staging", home=airlock_home))


@pytest.mark.parametrize(("args", "fragment"), [
    (["runs", "show", "0123456789abcdef0123456789abcdef"], "run not found"),
    (["models", "show", "nope"], "model not found: nope"),
    (["models", "show", "clf@9"], "model version not found: clf@9"),
    (["models", "show", "clf@canary"], "alias not found: clf@canary"),
    (["models", "alias", "clf@1", "12"], "invalid alias"),
    (["models", "alias", "clf", "staging"], "NAME@VERSION"),
    (["runs", "list", "--filter", "metrics.val_auc"], "cannot read filter clause"),
    (["runs", "list", "--filter", "metrics.val_auc >> 1"], "compares with a number"),
    (["runs", "list", "--experiment", "ghost"], "experiment not found: ghost"),
    (["runs", "list", "--bogus"], "No such option"),
    (["runs", "compare", "abcd"], "at least two"),
    (["models", "import-mlflow", "/nonexistent", "--name", "m"], "no MLmodel file"),
])
def test_user_errors_are_one_line_exit_2(populated: dict[str, Any], airlock_home: Path,
                                         args: list[str], fragment: str) -> None:
    line = one_line_error(cli(*args, home=airlock_home))
    assert fragment in line


def test_events_list_and_verify_detects_tampering(populated: dict[str, Any],
                                                  airlock_home: Path) -> None:
    events = json.loads(cli("events", "--json", "--limit", "100", home=airlock_home).stdout)
    actions = [e["action"] for e in events]
    assert actions.count("run.started") == 3 and actions.count("version.registered") == 2
    ok = cli("events", "verify", "--json", home=airlock_home)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True

    engine = get_store().engine
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET actor = 'mallory' WHERE seq = 2"))
    close_stores()
    bad = cli("events", "verify", home=airlock_home)
    line = one_line_error(bad, code=1)
    assert "event 2" in line


def test_store_upgrade_and_newer_store_refused(airlock_home: Path) -> None:
    res = cli("store", "upgrade", home=airlock_home)
    assert res.returncode == 0, res.stderr
    info = json.loads(cli("store", "info", "--json", home=airlock_home).stdout)
    assert info["revision"] == info["head"]
    engine = get_store().engine
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    close_stores()
    before = (airlock_home / "airlock.db").read_bytes()
    line = one_line_error(cli("runs", "list", home=airlock_home))
    assert "newer airlock" in line
    line = one_line_error(cli("store", "upgrade", home=airlock_home))
    assert "newer airlock" in line
    assert (airlock_home / "airlock.db").read_bytes() == before  # not touched


def test_unreachable_store_is_one_line(airlock_home: Path) -> None:
    env_uri = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    res = subprocess.run([AIRLOCK, "runs", "list"], capture_output=True, text=True,
                         env={**os.environ, "AIRLOCK_STORE_URI": env_uri,
                              "AIRLOCK_HOME": str(airlock_home)}, timeout=60, check=False)
    line = one_line_error(res)
    assert "cannot use the store" in line




def test_corrupt_database_is_one_line_naming_the_file(airlock_home: Path) -> None:
    airlock_home.mkdir(parents=True)
    (airlock_home / "airlock.db").write_bytes(b"this is not an SQLite database\n" * 200)
    line = one_line_error(cli("runs", "list", home=airlock_home))
    assert str(airlock_home / "airlock.db") in line
    assert "file is not a database" in line


def test_read_only_home_is_one_line_naming_the_file(airlock_home: Path) -> None:
    airlock_home.mkdir(parents=True)
    with read_only(airlock_home):  # a command that would create the store there
        line = one_line_error(cli("store", "upgrade", home=airlock_home))
    assert str(airlock_home) in line
    assert "permission denied" in line


def test_a_read_only_store_can_still_be_listed_and_verified(
        populated: dict[str, Any], airlock_home: Path) -> None:
    assert not (airlock_home / "airlock.db-wal").exists()  # checkpointed when closed
    (airlock_home / "airlock.db-shm").unlink(missing_ok=True)  # as a copied store has none
    with read_only(airlock_home / "airlock.db", airlock_home):
        res = cli("runs", "list", "--json", home=airlock_home)
        assert res.returncode == 0, res.stderr
        assert {r["id"] for r in json.loads(res.stdout)} == set(populated["runs"])
        res = cli("events", "verify", home=airlock_home)
        assert res.returncode == 0, res.stderr
        assert "chain intact" in res.stdout
        res = cli("models", "list", home=airlock_home)
        assert res.returncode == 0, res.stderr
        line = one_line_error(cli("models", "alias", "clf@1", "prod", home=airlock_home))
        assert "readonly database" in line



def test_events_verify_counts_in_words(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n2\n")
    assert cli("contract", "infer", str(data), "-o", str(tmp_path / "c.yaml"),
               home=home).returncode == 0
    assert cli("contract", "validate", str(tmp_path / "c.yaml"), str(data),
               home=home).returncode == 0  # one stored validation: one event
    res = cli("events", "verify", home=home)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok: 1 event, chain intact"
    cli("contract", "validate", str(tmp_path / "c.yaml"), str(data), home=home)
    assert cli("events", "verify", home=home).stdout.strip() == "ok: 2 events, chain intact"
