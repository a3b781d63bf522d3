"""A writer killed with SIGKILL loses nothing it had acknowledged and corrupts nothing.

The child is a separate Python process with its own AIRLOCK_HOME (and store URI on the
PostgreSQL leg). It prints a line once a point set is acknowledged (``flush()`` returned, or
the run's ``with`` block exited) and is then killed without any chance to clean up.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import airlock
from airlock.store import get_store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("backend")]

FLUSHED = 500

KEEPS_LOGGING = textwrap.dedent("""
    import sys
    import airlock

    n = int(sys.argv[1])
    run = airlock.start_run("crash", name="victim", params={"n": n})
    for i in range(n):
        run.log_metric("loss", 1.0 / (i + 1), step=i)
    run.flush()
    print(run.id, "FLUSHED", flush=True)
    i = n
    while True:  # unacknowledged points, written now and then by the size/time flush
        run.log_metric("loss", -1.0, step=i)
        i += 1
""")

FINISHES_THEN_HANGS = textwrap.dedent("""
    import sys
    import time
    import airlock

    n = int(sys.argv[1])
    with airlock.start_run("crash", name="finished") as run:
        for i in range(n):
            run.log_metric("loss", 1.0 / (i + 1), step=i)
        run.set_tag("phase", "done")
    print(run.id, "DONE", flush=True)
    while True:
        time.sleep(0.05)
""")


def _spawn(script: str, home: Path, cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["AIRLOCK_HOME"] = str(home)
    return subprocess.Popen([sys.executable, "-c", script, str(FLUSHED)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen[str], word: str, timeout: float = 60.0) -> str:
    """The run id the child printed before ``word``; fails with the child's stderr."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if line:
                run_id, said = line.split()
                assert said == word
                return run_id
        if proc.poll() is not None:
            break
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"child did not print {word} (exit {proc.returncode}):\n{err}")


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_flushed_points_survive_sigkill_mid_logging(airlock_home: Path, tmp_path: Path) -> None:
    proc = _spawn(KEEPS_LOGGING, airlock_home, tmp_path)
    try:
        run_id = _wait_for(proc, "FLUSHED")
        time.sleep(0.4)  # let it log (and size-flush) unacknowledged points, then kill it
    finally:
        if proc.poll() is None:
            _kill(proc)

    rec = airlock.get_run(run_id)
    assert rec.status == "RUNNING"  # it never ended
    assert rec.end_time is None
    assert rec.params == {"n": str(FLUSHED)}

    hist = get_store().runs.metric_history(run_id, "loss")
    assert len(hist) >= FLUSHED
    assert [(p.step, p.value) for p in hist[:FLUSHED]] == [
        (i, 1.0 / (i + 1)) for i in range(FLUSHED)]
    # whatever else made it in is whole: consecutive steps, no torn or duplicated chunk
    assert [p.step for p in hist] == list(range(len(hist)))
    assert all(p.value == -1.0 for p in hist[FLUSHED:])

    assert [e.action for e in airlock.list_events()] == ["run.started"]
    result = airlock.verify_events()
    assert result.ok, result.reason

    # the store is still writable after the crash
    with airlock.start_run("crash", name="after") as run:
        run.log_metric("loss", 0.25, step=0)
    after = airlock.get_run(run.id)
    assert after.status == "FINISHED"
    assert after.metrics == {"loss": 0.25}
    result = airlock.verify_events()
    assert result.ok and result.checked == 3


def test_a_finished_run_survives_sigkill(airlock_home: Path, tmp_path: Path) -> None:
    proc = _spawn(FINISHES_THEN_HANGS, airlock_home, tmp_path)
    try:
        run_id = _wait_for(proc, "DONE")
    finally:
        if proc.poll() is None:
            _kill(proc)

    rec = airlock.get_run(run_id)
    assert rec.status == "FINISHED"
    assert rec.end_time is not None
    assert rec.tags == {"phase": "done"}
    assert rec.metrics == {"loss": 1.0 / FLUSHED}
    hist = get_store().runs.metric_history(run_id, "loss")
    assert [(p.step, p.value) for p in hist] == [(i, 1.0 / (i + 1)) for i in range(FLUSHED)]
    assert [e.action for e in airlock.list_events()] == ["run.started", "run.finished"]
    result = airlock.verify_events()
    assert result.ok and result.checked == 2
