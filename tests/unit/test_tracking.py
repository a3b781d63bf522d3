"""Tracking on the embedded store: run lifecycle, capture, validation, artifacts, inputs."""

from __future__ import annotations

import hashlib
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import airlock
import airlock.tracking._run as run_module
from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.store import get_store
from airlock.tracking import capture_code


@pytest.fixture
def no_time_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "FLUSH_SECONDS", 3600.0)


# -- lifecycle ------------------------------------------------------------------------------
def test_context_manager_finishes_the_run_and_sets_the_active_run() -> None:
    assert airlock.active_run() is None
    with airlock.start_run("t", name="ok") as run:
        assert airlock.active_run() is run
        assert airlock.get_run(run.id).status == "RUNNING"
        with airlock.start_run("t", name="inner") as inner:
            assert airlock.active_run() is inner
        assert airlock.active_run() is run
    assert airlock.active_run() is None
    rec = airlock.get_run(run.id)
    assert rec.status == "FINISHED"
    assert rec.error is None
    assert rec.end_time is not None and rec.end_time >= rec.start_time
    assert airlock.get_run(inner.id).status == "FINISHED"


def test_exception_in_the_block_fails_the_run_and_propagates() -> None:
    with pytest.raises(ValueError, match=r"^boom$"), airlock.start_run("t") as run:
        run.log_metric("before", 1.0)
        raise ValueError("boom")
    assert airlock.active_run() is None
    rec = airlock.get_run(run.id)
    assert rec.status == "FAILED"
    assert rec.error == "ValueError: boom"
    assert rec.metrics == {"before": 1.0}  # buffered points were flushed on the way out


def test_keyboard_interrupt_marks_the_run_killed() -> None:
    with pytest.raises(KeyboardInterrupt), airlock.start_run("t") as run:
        raise KeyboardInterrupt
    rec = airlock.get_run(run.id)
    assert rec.status == "KILLED"
    assert rec.error is not None and rec.error.startswith("KeyboardInterrupt")


def test_end_rejects_an_unknown_status() -> None:
    run = airlock.start_run("t")
    with pytest.raises(UsageError, match="invalid run status 'DONE'"):
        run.end("DONE")
    assert airlock.get_run(run.id).status == "RUNNING"


def test_unknown_run_id_is_not_found() -> None:
    airlock.start_run("t").end()
    with pytest.raises(NotFound, match="run not found: deadbeef"):
        airlock.get_run("deadbeef")


# -- what a run captures --------------------------------------------------------------------
def test_environment_is_captured() -> None:
    with airlock.start_run("t") as run:
        pass
    env = airlock.get_run(run.id).env
    assert env["python"] == platform.python_version()
    assert env["implementation"] == platform.python_implementation()
    assert env["packages"]["numpy"] == metadata.version("numpy") == np.__version__
    assert env["packages"]["airlock"] == airlock.__version__
    assert env["packages"]["polars"] == metadata.version("polars")


def test_command_line_is_captured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["train.py", "--lr", "0.1", "--name", "two words"])
    with airlock.start_run("t") as run:
        pass
    command = airlock.get_run(run.id).command
    assert command == shlex.join([sys.executable, "train.py", "--lr", "0.1", "--name",
                                  "two words"])
    assert shlex.split(command)[-1] == "two words"


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=t@example.com",
                          "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "trunk")
    (repo / "train.py").write_text("print('train')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_git_state_of_a_clean_then_dirty_repo(git_repo: Path) -> None:
    head = _git(git_repo, "rev-parse", "HEAD")
    code = capture_code(git_repo)
    assert code["git_commit"] == head and len(head) == 40
    assert code["git_dirty"] is False
    assert code["git_branch"] == "trunk"
    assert Path(code["repo"]).resolve() == git_repo.resolve()

    # an ignored file does not count; an untracked one does (the commit cannot rebuild it)
    (git_repo / ".gitignore").write_text("*.log\n")
    _git(git_repo, "add", ".gitignore")
    _git(git_repo, "commit", "-q", "-m", "ignore logs")
    (git_repo / "train.log").write_text("ignored\n")
    assert capture_code(git_repo)["git_dirty"] is False
    (git_repo / "notes.txt").write_text("untracked\n")
    assert capture_code(git_repo)["git_dirty"] is True
    (git_repo / "notes.txt").unlink()

    (git_repo / "train.py").write_text("print('changed')\n")
    dirty = capture_code(git_repo)
    assert dirty["git_dirty"] is True
    assert dirty["git_commit"] == _git(git_repo, "rev-parse", "HEAD")

    _git(git_repo, "commit", "-q", "-am", "second")
    again = capture_code(git_repo / ".")
    assert again["git_dirty"] is False
    assert again["git_commit"] == _git(git_repo, "rev-parse", "HEAD") != head


def test_a_run_started_inside_a_repo_records_its_commit(git_repo: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (git_repo / "train.py").write_text("print('edited')\n")
    monkeypatch.chdir(git_repo)
    with airlock.start_run("t") as run:
        pass
    code = airlock.get_run(run.id).code
    assert code["git_commit"] == _git(git_repo, "rev-parse", "HEAD")
    assert code["git_dirty"] is True


def test_outside_a_repo_code_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.delenv("GIT_DIR", raising=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert capture_code(plain) == {}
    monkeypatch.chdir(plain)
    with airlock.start_run("t") as run:
        pass
    assert airlock.get_run(run.id).code == {}


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", None, True, False, "1.0", [1.0], 1 + 2j])
def test_non_numeric_metric_values_are_rejected(value: object) -> None:
    with airlock.start_run("t") as run:
        with pytest.raises(InvalidInput, match="metric 'acc' must be a real number"):
            run.log_metric("acc", value)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="metric 'acc' must be a real number"):
            run.log_metrics({"ok": 1.0, "acc": value})  # type: ignore[dict-item]
        with pytest.raises(InvalidInput, match="metric 'acc' must be a real number"):
            run.log_batch([("ok", 1.0, 0, 0), ("acc", value, 0, 0)])  # type: ignore[list-item]
    assert run.history("acc") == []
    # log_batch is all-or-nothing; log_metrics checks each value as it buffers it
    assert [p.value for p in run.history("ok")] == [1.0]


def test_numeric_metric_values_of_any_real_type_are_accepted() -> None:
    with airlock.start_run("t") as run:
        for i, value in enumerate([1, 2.5, np.float32(0.5), np.float64(0.25), np.int64(7)]):
            run.log_metric("m", value, step=i)  # type: ignore[arg-type]
    assert [p.value for p in run.history("m")] == [1.0, 2.5, 0.5, 0.25, 7.0]
    assert all(type(p.value) is float for p in run.history("m"))


@pytest.mark.parametrize("step", [1.5, "3", True, None])
def test_non_integer_step_is_rejected(step: object) -> None:
    with airlock.start_run("t") as run, pytest.raises(InvalidInput,
                                                      match="step of metric 'm'"):
        run.log_metric("m", 1.0, step=step)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", "x" * 300, " padded", "padded ", 5, None])
def test_invalid_keys_are_rejected(key: object) -> None:
    with airlock.start_run("t") as run:
        with pytest.raises(InvalidInput, match="invalid metric name"):
            run.log_metric(key, 1.0)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="invalid param name"):
            run.log_param(key, 1)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="invalid tag name"):
            run.set_tag(key, "v")  # type: ignore[arg-type]
    rec = airlock.get_run(run.id)
    assert (rec.metrics, rec.params, rec.tags) == ({}, {}, {})


def test_longest_allowed_key_is_256_characters() -> None:
    key = "k" * 256
    with airlock.start_run("t") as run:
        run.log_metric(key, 1.0)
        run.log_param(key, "v")
    rec = airlock.get_run(run.id)
    assert rec.metrics == {key: 1.0}
    assert rec.params == {key: "v"}


@pytest.mark.parametrize("experiment", ["", "e" * 300])
def test_invalid_experiment_name_is_rejected(experiment: str) -> None:
    with pytest.raises(InvalidInput, match="invalid experiment name"):
        airlock.start_run(experiment)


# -- buffering ------------------------------------------------------------------------------
@pytest.mark.usefixtures("no_time_flush")
def test_metrics_are_buffered_then_visible_after_flush() -> None:
    run = airlock.start_run("t")
    for step in range(10):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert airlock.get_run(run.id).metrics == {}
    assert get_store().runs.metric_history(run.id, "loss") == []
    run.flush()
    assert airlock.get_run(run.id).metrics == {"loss": 0.1}
    assert [p.step for p in get_store().runs.metric_history(run.id, "loss")] == list(range(10))
    run.flush()  # nothing new: no duplicate points
    assert len(get_store().runs.metric_history(run.id, "loss")) == 10


@pytest.mark.usefixtures("no_time_flush")
def test_info_and_history_flush_first() -> None:
    run = airlock.start_run("t")
    run.log_metric("a", 2.0)
    assert run.info.metrics == {"a": 2.0}
    run.log_metric("b", 3.0)
    assert [p.value for p in run.history("b")] == [3.0]


def _eventually(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_time_based_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "FLUSH_SECONDS", 0.0)
    run = airlock.start_run("t")
    run.log_metric("a", 1.0)  # due at once: the background writer stores it, no flush()
    assert _eventually(lambda: airlock.get_run(run.id).metrics == {"a": 1.0})
    run.end()


@pytest.mark.usefixtures("no_time_flush")
def test_size_based_flush_happens_in_the_background() -> None:
    run = airlock.start_run("t")
    for i in range(run_module.FLUSH_POINTS):
        run.log_metric("a", float(i), step=i)
    assert _eventually(lambda: len(get_store().runs.metric_history(run.id, "a"))
                       == run_module.FLUSH_POINTS)
    run.end()


@pytest.mark.usefixtures("no_time_flush")
def test_logging_never_waits_for_a_busy_store(airlock_home: Path) -> None:
    """Another writer holds the database's write lock: logging still returns at once (the
    writer waits in the background), and flush() returns once everything is stored."""
    import sqlite3
    import threading

    run = airlock.start_run("t")
    other = sqlite3.connect(airlock_home / "airlock.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    slowest, n = 0.0, 5 * run_module.FLUSH_POINTS
    for i in range(n):
        t0 = time.perf_counter()
        run.log_metrics({"a": float(i), "b": -float(i)}, step=i)
        slowest = max(slowest, time.perf_counter() - t0)
    done = threading.Event()
    flusher = threading.Thread(target=lambda: (run.flush(), done.set()))
    flusher.start()
    assert not done.is_set()  # it cannot be durable yet: the store is locked
    other.execute("COMMIT")
    other.close()
    flusher.join(timeout=60)
    assert done.is_set()
    assert slowest < 0.05, f"a log call waited {slowest * 1000:.1f} ms"
    hist = get_store().runs.metric_history(run.id, "b")
    assert [p.value for p in hist] == [-float(i) for i in range(n)]
    run.end()


def test_a_failed_background_write_is_raised_by_flush_and_nothing_is_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.errors import StoreUnavailable

    run = airlock.start_run("t")
    store_runs = get_store().runs
    real = store_runs.log_metrics
    calls: list[int] = []

    def failing(run_id: str, points: Any) -> None:
        calls.append(len(points))
        raise StoreUnavailable("disk full")

    monkeypatch.setattr(store_runs, "log_metrics", failing)
    for i in range(10):
        run.log_metric("a", float(i), step=i)
    with pytest.raises(StoreUnavailable, match="disk full"):
        run.flush()
    monkeypatch.setattr(store_runs, "log_metrics", real)
    run.flush()
    assert [p.value for p in run.history("a")] == [float(i) for i in range(10)]
    run.end()


# -- artifacts ------------------------------------------------------------------------------
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_log_artifact_file(airlock_home: Path, tmp_path: Path) -> None:
    data = b"\x00model\xff" * 4096
    src = tmp_path / "model.bin"
    src.write_bytes(data)
    with airlock.start_run("t") as run:
        assert run.log_artifact(src) == ["model.bin"]
        assert run.log_artifact(str(src), artifact_path="/models/best/") == [
            "models/best/model.bin"]
    root = airlock_home / "artifacts" / "runs" / run.id / "artifacts"
    assert (root / "model.bin").read_bytes() == data
    assert (root / "models" / "best" / "model.bin").read_bytes() == data
    arts = airlock.get_run(run.id).artifacts
    assert [(a.path, a.size, a.sha256) for a in arts] == [
        ("model.bin", len(data), _sha(data)), ("models/best/model.bin", len(data), _sha(data))]
    assert not list(root.rglob("*.part"))


def test_log_artifact_directory(airlock_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha", "sub/b.json": b'{"b": 1}', "sub/c.bin": bytes(range(256))}
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    with airlock.start_run("t") as run:
        stored = run.log_artifact(folder)
    assert stored == [f"plots/{rel}" for rel in sorted(files)]
    root = airlock_home / "artifacts" / "runs" / run.id / "artifacts" / "plots"
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data
    arts = {a.path: (a.size, a.sha256) for a in airlock.get_run(run.id).artifacts}
    assert arts == {f"plots/{rel}": (len(d), _sha(d)) for rel, d in files.items()}


def test_relogging_an_artifact_replaces_its_record(airlock_home: Path, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_bytes(b"v1")
    with airlock.start_run("t") as run:
        run.log_artifact(src)
        src.write_bytes(b"version 2")
        run.log_artifact(src)
    [art] = airlock.get_run(run.id).artifacts
    assert (art.path, art.size, art.sha256) == ("notes.txt", 9, _sha(b"version 2"))
    stored = airlock_home / "artifacts" / "runs" / run.id / "artifacts" / "notes.txt"
    assert stored.read_bytes() == b"version 2"


def test_log_artifact_of_a_missing_path_is_not_found(tmp_path: Path) -> None:
    with airlock.start_run("t") as run, pytest.raises(NotFound, match="no such file"):
        run.log_artifact(tmp_path / "nope")
    assert airlock.get_run(run.id).artifacts == []


# -- inputs ---------------------------------------------------------------------------------
COLUMNS = {"age": [39, 50, 38, 53], "income": [0.5, 1.5, 2.5, 3.5],
           "city": ["Oslo", "Lima", "Pune", "Kyiv"]}


def test_log_input_pandas_and_polars_with_the_same_content_share_a_digest() -> None:
    pd = pytest.importorskip("pandas")
    import polars as pl

    with airlock.start_run("t") as run:
        from_pandas = run.log_input(pd.DataFrame(COLUMNS), name="train")
        from_polars = run.log_input(pl.DataFrame(COLUMNS), name="train", context="eval")
    assert from_pandas.digest == from_polars.digest
    assert len(from_pandas.digest) == 64
    assert from_pandas.rows == 4
    assert from_pandas.schema == {"age": "int64", "income": "double", "city": "large_string"}
    assert from_polars.schema == from_pandas.schema

    other = airlock.fingerprint(pl.DataFrame({**COLUMNS, "age": [39, 50, 38, 54]}))
    assert other.digest != from_pandas.digest  # one changed value, another digest

    inputs = sorted(airlock.get_run(run.id).inputs, key=lambda i: i["context"])
    assert [(i["context"], i["name"], i["digest"], i["rows"]) for i in inputs] == [
        ("eval", "train", from_pandas.digest, 4), ("training", "train", from_pandas.digest, 4)]


def test_log_input_digest_ignores_the_bytes_under_nulls() -> None:
    pd = pytest.importorskip("pandas")
    import polars as pl

    data = {"income": [0.5, None, 2.5]}
    with airlock.start_run("t") as run:
        a = run.log_input(pd.DataFrame(data))
        b = run.log_input(pl.DataFrame(data))
    assert a.schema == b.schema == {"income": "double"}
    assert a.digest == b.digest


def test_log_input_csv_path(tmp_path: Path) -> None:
    path = tmp_path / "adult.csv"
    path.write_text("age,workclass,hours\n39,State-gov,40\n50,Private,13\n38,Private,40\n")
    with airlock.start_run("t") as run:
        info = run.log_input(path)
    assert info.digest == _sha(path.read_bytes())
    assert info.rows == 3
    assert info.schema == {"age": "Int64", "workclass": "String", "hours": "Int64"}
    assert info.name == "adult"
    assert info.uri == str(path.absolute())
    [recorded] = airlock.get_run(run.id).inputs
    assert recorded == {"name": "adult", "context": "training", "digest": info.digest,
                        "uri": str(path.absolute()), "rows": 3, "schema": info.schema}


def _two_runs_log(path: Path) -> tuple[str, str, str]:
    path.write_text("x\n1\n2\n")
    with airlock.start_run("t") as r1:
        d1 = r1.log_input(path, name="first")
    with airlock.start_run("t") as r2:
        d2 = r2.log_input(path, name="second")
    assert d1.digest == d2.digest
    return r1.id, r2.id, d1.digest


def test_the_same_dataset_logged_by_two_runs_is_recorded_for_both(tmp_path: Path) -> None:
    r1, r2, digest = _two_runs_log(tmp_path / "d.csv")
    for run_id in (r1, r2):
        [recorded] = airlock.get_run(run_id).inputs
        assert (recorded["digest"], recorded["rows"], recorded["context"]) == (
            digest, 2, "training")


def test_each_run_keeps_the_name_it_gave_a_shared_dataset(tmp_path: Path) -> None:
    r1, r2, _ = _two_runs_log(tmp_path / "d.csv")
    assert airlock.get_run(r1).inputs[0]["name"] == "first"
    assert airlock.get_run(r2).inputs[0]["name"] == "second"


def test_log_input_of_a_missing_path_is_not_found(tmp_path: Path) -> None:
    with airlock.start_run("t") as run, pytest.raises(NotFound):
        run.log_input(tmp_path / "missing.csv")
    assert airlock.get_run(run.id).inputs == []
