"""`airlock serve` as a process: workers killed under load, graceful shutdown, CLI errors."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.e2e.test_cli import cli, one_line_error
from tests.integration.serving_helpers import NAME, adult_frame, register_adult, serving_process

import airlock
from airlock.predlog import log_locations, read_prediction_log

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    """The server's worker processes (not multiprocessing's resource tracker)."""
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if "spawn_main" in line and "resource_tracker" not in line]


def _body(adult_sample: Any, i: int) -> dict[str, Any]:
    x = adult_frame(adult_sample).iloc[i % 200:i % 200 + 1]
    return {"dataframe_split": {"columns": list(x.columns), "data": x.values.tolist()}}


def test_a_killed_worker_is_replaced_and_no_acknowledged_record_is_lost(adult_sample: Any
                                                                         ) -> None:
    register_adult(adult_sample, versions=1)
    acknowledged: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def client(k: int, url: str) -> None:
        with httpx.Client(timeout=30) as c:
            i = 0
            while not stop.is_set():
                rid = f"c{k}-{i}"
                try:
                    r = c.post(f"{url}/invocations", json=_body(adult_sample, i),
                               headers={"X-Request-Id": rid})
                    if r.status_code == 200:
                        acknowledged.append(rid)  # answered only once its record was on disk
                except httpx.TransportError:
                    failures.append(rid)  # in flight on the killed worker
                i += 1

    with serving_process(f"{NAME}@production", "--workers", "2") as (url, proc):
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        threads = [threading.Thread(target=client, args=(k, url)) for k in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 50 and time.monotonic() < deadline:  # traffic flows
            time.sleep(0.05)
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while workers[0] in _children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the supervisor has seen the worker die
        before = len(acknowledged)
        deadline = time.monotonic() + 60  # the supervisor starts a new worker
        while (len(_children(proc.pid)) < 2 or len(acknowledged) < before + 50) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        replaced = set(_children(proc.pid)) - set(workers)
        assert len(acknowledged) >= before + 50, "the server did not recover"
        assert replaced, "no replacement worker was started"
        last = httpx.post(f"{url}/invocations", json=_body(adult_sample, 0))
        assert last.status_code == 200
    uri, spool = log_locations()
    logged = set(read_prediction_log(NAME, artifact_uri=uri, spool_dir=spool,
                                     columns=["request_id"]).column("request_id").to_pylist())
    missing = [r for r in acknowledged if r not in logged]
    assert not missing, f"{len(missing)} acknowledged requests missing from the log"
    assert len(acknowledged) > 100


def test_sigterm_drains_in_flight_requests(adult_sample: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.serving_helpers import slow_model

    register_adult(adult_sample, versions=1)
    version = airlock.register_model("slow", slow_model).version
    config = tmp_path / "slow.yaml"
    config.write_text(yaml.safe_dump({"name": "slow", "routes": [{"model": f"slow@{version}"}],
                                      "timeout_ms": 10_000}))
    body = _body(adult_sample, 0)
    result: dict[str, Any] = {}
    inside = tmp_path / "inside-the-model"
    env = {"AIRLOCK_TEST_SLOW_S": "1.5", "AIRLOCK_TEST_SLOW_MARK": str(inside),
           "PYTHONPATH": os.getcwd()}
    with serving_process("--config", str(config), env=env) as (url, proc):
        def call() -> None:
            result["r"] = httpx.post(f"{url}/invocations", json=body, timeout=30)

        t = threading.Thread(target=call)
        t.start()
        deadline = time.monotonic() + 30
        while not inside.exists():  # the request is inside the model: now stop the server
            assert time.monotonic() < deadline, "the request never reached the model"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGTERM)
        t.join(timeout=30)
        # uvicorn re-raises the signal once it has drained: a clean exit by SIGTERM
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert result["r"].status_code == 200
    assert result["r"].headers["x-airlock-model-version"] == f"slow@{version}"


def test_cli_serve_errors_are_one_line(airlock_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nroutes: [{model: x@1, wieght: 3}]\n")
    cases = [(("serve", "nope@production"), "nope"), (("serve",), "--config"),
             (("serve", "--config", str(tmp_path / "missing.yaml")), "missing.yaml"),
             (("serve", "--config", str(bad)), "unknown key 'wieght'"),
             (("serve", "bad name@1"), "name")]
    for args, needle in cases:
        line = one_line_error(cli(*args, home=airlock_home))
        assert needle in line, (args, line)


def _skops_file(home: Path) -> Path:
    return next((home / "artifacts" / "models").rglob("model.skops"))


def test_start_up_faults_are_one_line_and_exit_2(airlock_home: Path, tmp_path: Path,
                                                 adult_sample: Any) -> None:
    import pickle

    register_adult(adult_sample, versions=1)
    airlock.register_model("pickled", pickle.loads(pickle.dumps(_identity_model())),
                           serialization="pickle")
    tokens = tmp_path / "protected.yaml"
    tokens.write_text(yaml.safe_dump({"name": NAME, "routes": [{"model": f"{NAME}@1"}],
                                      "auth": {"protect_inference": True}}))
    cases = [(("serve", "pickled@1"), "not marked trusted"),
             (("serve", "--config", str(tokens)), "protect_inference is true but no token")]
    for args, needle in cases:
        line = one_line_error(cli(*args, home=airlock_home))
        assert needle in line, (args, line)
    spool = airlock_home / "spool"
    spool.rmdir() if spool.is_dir() else None
    spool.write_text("not a folder")  # root ignores permissions; a file in the way does not
    line = one_line_error(cli("serve", f"{NAME}@1", home=airlock_home))
    assert "prediction-log spool" in line and "not writable" in line, line
    spool.unlink()
    model = _skops_file(airlock_home)
    model.write_bytes(model.read_bytes() + b"tampered")
    line = one_line_error(cli("serve", f"{NAME}@1", home=airlock_home))
    assert "failed its integrity check" in line, line
    model.unlink()
    line = one_line_error(cli("serve", f"{NAME}@production", home=airlock_home))
    assert "is missing" in line, line


def _identity_model() -> Any:
    from sklearn.dummy import DummyClassifier

    return DummyClassifier().fit([[0], [1]], [0, 1])


def test_start_up_says_what_is_served_and_when_ready(adult_sample: Any) -> None:
    versions = register_adult(adult_sample, versions=2)
    airlock.set_alias(f"{NAME}@{versions[1]}", "challenger")
    config = Path(os.environ["AIRLOCK_HOME"]) / "endpoint.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({
        "name": NAME, "routes": [{"model": f"{NAME}@production", "weight": 90},
                                 {"model": f"{NAME}@{versions[1]}", "weight": 10}],
        "shadow": f"{NAME}@challenger", "fallback": f"{NAME}@{versions[0]}"}))
    with serving_process("--config", str(config)) as (url, proc):
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode().rstrip() for _ in range(9)]
    v1, v2 = versions
    assert lines[0] == f"airlock serve: endpoint {NAME}"
    assert lines[1].split() == ["primary", f"{NAME}@production", "→", f"{NAME}@{v1}", "90%"]
    assert lines[2].split() == ["canary", f"{NAME}@{v2}", "10%"]
    assert lines[3].split() == ["shadow", f"{NAME}@challenger", "→", f"{NAME}@{v2}"]
    assert lines[4].split() == ["fallback", f"{NAME}@{v1}"]
    assert lines[5].strip().startswith("1 worker, batching")
    assert lines[6].split() == ["url", url]
    assert lines[7].split()[:2] == ["POST", f"/v2/models/{NAME}/infer"]
    assert lines[8] == f"ready: {url}"  # printed once /v2/health/ready answers 200
    assert all(len(line) <= 80 for line in lines)


def test_workers_get_the_config_by_a_private_file_not_the_environment(
        adult_sample: Any, tmp_path: Path) -> None:
    register_adult(adult_sample, versions=1)
    config = tmp_path / "secret.yaml"
    config.write_text(yaml.safe_dump({"name": NAME, "routes": [{"model": f"{NAME}@1"}],
                                      "auth": {"tokens": ["yaml-secret-token-42"]}}))
    with serving_process("--config", str(config), "--workers", "2") as (url, proc):
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert workers
        for pid in [proc.pid, *workers]:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"yaml-secret-token-42" not in environ
        env = dict(item.split(b"=", 1) for item in
                   Path(f"/proc/{workers[0]}/environ").read_bytes().split(b"\0") if b"=" in item)
        path = Path(env[b"AIRLOCK_SERVE_CONFIG"].decode())
        assert path.stat().st_mode & 0o777 == 0o600
        r = httpx.post(f"{url}/invocations", json=_body(adult_sample, 0),
                       headers={"Authorization": "Bearer yaml-secret-token-42"})
        assert r.status_code == 200, r.text
    assert not path.exists()  # removed when the server stopped
