"""Closed-loop HTTP load generators for the serving benchmark (bench/serve.py).

Two generators that return the same :class:`LoadResult`:

- :func:`wrk_load` drives ``wrk`` (C, event loop, cheap: it leaves the cores to the server
  under test). A Lua script sets the POST body and, in wrk's ``done`` hook, prints the exact
  percentiles (microseconds) and the error counts as one JSON line that we parse.
- :func:`python_load`: ``concurrency`` threads, each with one keep-alive ``http.client``
  connection, each sending its next request as soon as the previous answer is read. Every
  request's latency is recorded. Used by the smoke test and when ``wrk`` is not installed.

Both count as errors the responses whose status is not 2xx (wrk: status >= 400) and the
socket errors (connect, read, write, timeout). A warm-up runs first and is not measured.
"""

from __future__ import annotations

import http.client
import json
import math
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "WRK_INSTALL",
    "LoadResult",
    "Target",
    "percentile",
    "probe",
    "python_load",
    "wrk_available",
    "wrk_load",
]

WRK_INSTALL = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk"
_WRK_MARK = "AIRLOCK_WRK "
_LUA = """\
local f = assert(io.open(%(body)s, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = %(ctype)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"status":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"timeout":%%d,"p50":%%d,"p90":%%d,"p95":%%d,"p99":%%d,"max":%%d,' ..
    '"mean":%%.3f}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class Target:
    """Where and what to POST: the identical bytes for every server under test."""

    host: str
    port: int
    path: str
    body: bytes
    content_type: str = "application/json"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


@dataclass(frozen=True)
class LoadResult:
    """What one timed window measured. Latencies in milliseconds."""

    generator: str
    concurrency: int
    requests: int  # responses completed in the window, whatever their status
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    first_error: str | None = field(default=None)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": self.rps, "errors": self.errors}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of an ascending sequence; nan when empty."""
    if not sorted_values:
        return math.nan
    rank = math.ceil(q / 100.0 * len(sorted_values))
    return float(sorted_values[min(max(rank, 1), len(sorted_values)) - 1])


# -- wrk -------------------------------------------------------------------------------
def wrk_available() -> str | None:
    """The path of the ``wrk`` binary, or None."""
    return shutil.which("wrk")


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))  # wrk's -d takes whole seconds


def wrk_load(target: Target, *, concurrency: int, duration: float, warmup: float = 0.0,
             threads: int = 1, timeout: float = 30.0) -> LoadResult:
    """Run ``wrk`` (warm-up run discarded, then the timed run) and parse its summary.

    One wrk thread by default: on a small machine every core wrk takes is one the server
    does not get, and one event-loop thread sustains tens of thousands of requests/s."""
    wrk = wrk_available()
    if wrk is None:
        raise RuntimeError(WRK_INSTALL)
    threads = max(1, min(threads, concurrency))
    with tempfile.TemporaryDirectory(prefix="airlock-wrk-") as tmp:
        body = Path(tmp) / "body"
        body.write_bytes(target.body)
        script = Path(tmp) / "post.lua"
        script.write_text(_LUA % {"body": json.dumps(str(body)),
                                  "ctype": json.dumps(target.content_type), "mark": _WRK_MARK})
        base = [wrk, "-t", str(threads), "-c", str(concurrency), "-s", str(script),
                "--timeout", f"{_whole_seconds(timeout)}s", "--latency"]
        if warmup > 0:
            _run_wrk([*base, "-d", f"{_whole_seconds(warmup)}s", target.url], warmup + timeout)
        out = _run_wrk([*base, "-d", f"{_whole_seconds(duration)}s", target.url],
                       duration + timeout)
    res = parse_wrk(out, concurrency)
    if res.non_2xx:  # wrk counts the failed answers but keeps none: ask once more for one
        res = replace(res, first_error=f"{res.first_error}; {probe(target)}")
    return res


def probe(target: Target, timeout: float = 60.0) -> str:
    """One request on its own: its status and the start of its body."""
    req = urllib.request.Request(target.url, data=target.body,
                                 headers={"Content-Type": target.content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return f"a request on its own: HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return (f"a request on its own: HTTP {exc.code}: "
                f"{exc.read()[:300].decode(errors='replace')}")
    except OSError as exc:
        return f"a request on its own: {type(exc).__name__}: {exc}"


def _run_wrk(cmd: list[str], limit: float) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit + 30, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()[-500:]}")
    return proc.stdout


def parse_wrk(stdout: str, concurrency: int) -> LoadResult:
    """The JSON line our ``done`` hook printed (latencies there are in microseconds)."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith(_WRK_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary line:\n{stdout[-1000:]}")
    s = json.loads(line[len(_WRK_MARK):])
    sockets = int(s["connect"] + s["read"] + s["write"] + s["timeout"])
    first = None
    if s["status"] or sockets:
        first = (f"{s['status']} responses with status >= 400; socket errors: connect "
                 f"{s['connect']}, read {s['read']}, write {s['write']}, "
                 f"timeout {s['timeout']}")
    return LoadResult(
        generator="wrk", concurrency=concurrency, requests=int(s["requests"]),
        seconds=s["duration_us"] / 1e6, non_2xx=int(s["status"]), socket_errors=sockets,
        p50_ms=s["p50"] / 1e3, p90_ms=s["p90"] / 1e3, p95_ms=s["p95"] / 1e3,
        p99_ms=s["p99"] / 1e3, max_ms=s["max"] / 1e3, first_error=first)


# -- pure Python ----------------------------------------------------------------------
@dataclass
class _Tally:
    """One worker thread's counts (merged after the threads are joined)."""

    latencies: list[float] = field(default_factory=list)
    non_2xx: int = 0
    socket_errors: int = 0
    first_error: str | None = None

    def error(self, message: str) -> None:
        if self.first_error is None:
            self.first_error = message


def _worker(target: Target, start: float, end: float, timeout: float, tally: _Tally) -> None:
    headers = {"Content-Type": target.content_type, "Connection": "keep-alive"}
    conn: http.client.HTTPConnection | None = None
    while (sent := time.perf_counter()) < end:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
            conn.request("POST", target.path, body=target.body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            done = time.perf_counter()
        except (OSError, http.client.HTTPException) as exc:
            if start <= time.perf_counter() <= end:
                tally.socket_errors += 1
                tally.error(f"{type(exc).__name__}: {exc}")
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)  # a refused connection must not spin a core
            continue
        if resp.will_close:
            conn.close()
            conn = None
        if sent < start or done > end:
            continue  # warm-up, or finished after the window closed
        tally.latencies.append((done - sent) * 1e3)
        if not 200 <= resp.status < 300:
            tally.non_2xx += 1
            tally.error(f"HTTP {resp.status}: {payload[:300].decode(errors='replace')}")
    if conn is not None:
        conn.close()


def python_load(target: Target, *, concurrency: int, duration: float, warmup: float = 0.0,
                timeout: float = 30.0) -> LoadResult:
    """``concurrency`` threads in a closed loop for ``warmup`` + ``duration`` seconds; only
    the requests sent and answered inside the last ``duration`` seconds are measured."""
    if concurrency < 1 or duration <= 0:
        raise ValueError("concurrency must be >= 1 and duration > 0")
    start = time.perf_counter() + warmup
    end = start + duration
    tallies = [_Tally() for _ in range(concurrency)]
    workers = [threading.Thread(target=_worker, args=(target, start, end, timeout, t),
                                daemon=True, name=f"loadgen-{i}")
               for i, t in enumerate(tallies)]
    for w in workers:
        w.start()
    for w in workers:
        while w.is_alive():  # a join with a timeout keeps Ctrl-C responsive
            w.join(0.2)
    latencies = sorted(x for t in tallies for x in t.latencies)
    non_2xx = sum(t.non_2xx for t in tallies)
    return LoadResult(
        generator="python", concurrency=concurrency,
        requests=len(latencies), seconds=duration, non_2xx=non_2xx,
        socket_errors=sum(t.socket_errors for t in tallies),
        p50_ms=percentile(latencies, 50), p90_ms=percentile(latencies, 90),
        p95_ms=percentile(latencies, 95), p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else math.nan,
        first_error=next((t.first_error for t in tallies if t.first_error), None))
