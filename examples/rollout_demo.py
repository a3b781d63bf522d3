"""The rollout part of the demo: a deliberately broken candidate (every request fails) put
on a canary route behind `airlock serve`, rolled out progressively with the Python API of
`airlock.experiments`, and judged by the controller's one-evaluation function (what
`airlock rollout run --once` does) on the real traffic the endpoint logged. The error-rate
guardrail is breached at the first step, so the candidate is rolled back at once: its
weight goes to 0 without a restart and the next requests are all answered by production.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from serve_demo import REDACT, request_bodies, send, serving

console = Console()
STEPS = [25, 50, 100]  # percent of the traffic on the candidate, step by step
INTERVAL = "30s"  # each step's length; a breach rolls back before it is over
RULES = {"min_requests": 20, "max_windows": 3,
         "guardrails": {"error_rate": {"max_increase": 0.05}}}  # srm is on by default
BATCH = 40  # requests sent between two evaluations
MAX_BATCHES = 8


def broken_model(df: Any) -> dict[str, Any]:
    """The candidate: its backend is down, so every request to it fails."""
    raise RuntimeError("deliberately broken candidate: its backend is down")


def _checks(verdict: dict[str, Any] | None) -> str:
    if not verdict:
        return ""
    out = []
    for c in verdict["checks"]:
        lift = c.get("lift")
        figure = f" {lift:+.0%}" if c["name"] == "error_rate" and lift is not None else ""
        out.append(f"{c['name']}{figure} {c['outcome']}")
    return "; ".join(out)


def rollout_broken_candidate(name: str, test_df: pl.DataFrame, features: list[str],
                             folder: Path, clients: int = 4) -> str:
    """Register the broken candidate, serve it as a canary at 0 %, roll it out and judge
    each batch of traffic until the controller acts; returns the rollout's final status.
    The server's output (a traceback per failed request) goes to ``folder``."""
    import airlock
    from airlock.experiments import evaluate_rollout, rollout_status, start_rollout

    bad = airlock.register_model(name, broken_model, description="a deliberately broken "
                                 "candidate for the rollout demo: every request fails").version
    config = {"name": name, "reload_interval_s": 0.2,
              "routes": [{"model": f"{name}@production", "weight": 100},
                         {"model": f"{name}@{bad}", "weight": 0, "name": "canary"}],
              "logging": {"redact": REDACT}}
    bodies = request_bodies(test_df.head(BATCH), features)
    here = Path(__file__).resolve().parent  # the server imports broken_model from here
    output = folder / "rollout-serve.log"
    began = time.perf_counter()
    with serving(config, code=here, output=output) as port:
        started = start_rollout(name, f"{name}@{bad}", steps=STEPS, interval=INTERVAL,
                                rules=RULES).rollout
        console.print(f"rollout {started.id} of {name}@{bad} (deliberately broken) on "
                      f"the canary route: steps {', '.join(f'{s} %' for s in STEPS)}, "
                      f"{INTERVAL} each; guardrail: error rate at most 5 points above "
                      "production's")
        time.sleep(1.3)  # the server's reload (0.2 s) plus the controller's settle second
        for n in range(1, MAX_BATCHES + 1):
            routes = Counter(a[1] for a in send(port, bodies, clients))
            out = evaluate_rollout(started.id)
            units = (out.verdict or {}).get("units", {})
            console.print(f"  evaluation {n}: step {out.step + 1} ({STEPS[out.step]} %), "
                          f"{units.get('primary', 0)} primary / {units.get('canary', 0)} "
                          f"canary requests judged -> {out.action}"
                          + (f" ({_checks(out.verdict)})" if out.verdict else ""))
            if out.action not in ("wait", "hold"):
                break
        time.sleep(0.5)  # the server's next reload picks the rolled-back weights up
        after = Counter(a[1] for a in send(port, bodies[:20], clients))
    final = rollout_status(name)
    r = final.rollout
    console.print(f"rollout verdict: {r.status} at step {r.step + 1} ({r.steps[r.step]:g} %):"
                  f" {r.reason} ({time.perf_counter() - began:.1f} s with the server's "
                  "start)")
    console.print(f"weights now {r.weights}, no restart: the next 20 requests went to "
                  f"{dict(after)} (the batch before: {dict(routes)}); the server's "
                  f"output is in {output}")
    return r.status
