"""`airlock rollout start | status | abort | run`: progressive rollouts of a canary.

``rollout run`` is the controller, in the foreground: ``--once`` judges every active rollout
once and exits (cron, a Kubernetes CronJob); without it, it loops until interrupted (or,
given an ENDPOINT, until that rollout has ended). It exits 1 when a rollout it drove was
rolled back, else 0; 2 on a usage or input error (nothing is moved then).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, fmt_time, print_json, table

app = typer.Typer(help="Progressive rollouts: move a canary step by step, roll back on a "
                       "guardrail breach, promote at 100 %.", no_args_is_help=True)


def _pct(weights: dict[str, float] | None) -> str:
    if not weights:
        return "the config's"
    total = sum(weights.values()) or 1.0
    return ", ".join(f"{k} {v / total * 100:.3g} %" for k, v in weights.items())


def _print_status(st: dict[str, Any]) -> None:
    c = console()
    c.print(f"rollout {st['id']}: {st['ref']} on {st['endpoint']}, {st['status'].upper()}")
    steps = ", ".join(f"{s:g}" for s in st["steps"])
    c.print(f"step {st['step'] + 1} of {len(st['steps'])} ({st['percent']:g} %); steps "
            f"{steps} %, every {st['interval_s']:g} s")
    c.print(f"weights: {_pct(st['weights'])}")
    c.print(f"served: {_pct(st['served_weights'])}")
    if st["next_check_at"] is not None:
        c.print(f"next check: {fmt_time(st['next_check_at'])}")
    if st["reason"]:
        c.print(f"reason: {st['reason']}")
    verdict = st.get("verdict")
    if verdict:
        _print_checks(verdict)


def _print_checks(verdict: dict[str, Any]) -> None:
    units = ", ".join(f"{k} {v:,}" for k, v in verdict.get("units", {}).items())
    console().print(f"window {verdict['window']['since'][:19]} → "
                    f"{verdict['window']['until'][:19]} UTC; requests: {units}")
    rows, reasons = [], []
    for ch in verdict["checks"]:
        value = ch.get("lift", ch.get("p_value", ch.get("drift_share")))
        rows.append([ch["name"], ch["outcome"], "-" if value is None else value,
                     "-" if ch.get("ci_low") is None else ch["ci_low"],
                     "-" if ch.get("ci_high") is None else ch["ci_high"],
                     "-" if ch.get("margin") is None else ch["margin"]])
        reasons.append(ch.get("reason") if ch["outcome"] != "pass" else None)
    table(None, [Col("check"), Col("outcome"), Col("value"), Col("ci low", priority=2),
                 Col("ci high", priority=2), Col("margin", priority=1)], rows,
          reasons=reasons, empty="(no check configured)")


@app.command("start")
def start_command(
    endpoint: str = typer.Argument(..., help="The endpoint's name (as `airlock serve` "
                                   "serves it)."),
    candidate: str = typer.Option(..., "--candidate", help="NAME@VERSION, served by one "
                                  "of the endpoint's routes."),
    steps: str = typer.Option("5,25,50,100", "--steps", help="The candidate's share at "
                              "each step, in %, ending at 100."),
    interval: str = typer.Option("30m", "--interval", help="How long each step lasts "
                                 "before it is judged (30m, 2h, 45s)."),
    rules: Path | None = typer.Option(None, "--rules", help="rollout.yaml: guardrails and "
                                      "success criteria (default: error rate and SRM)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start rolling CANDIDATE out on ENDPOINT: its route gets the first step at once."""
    from airlock.experiments import start_rollout

    st = start_rollout(endpoint, candidate, steps=steps, interval=interval,
                       rules=rules).to_dict()
    if as_json:
        print_json(st)
    else:
        _print_status(st)


@app.command("status")
def status_command(
    endpoint: str = typer.Argument(..., help="The endpoint's name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The endpoint's latest rollout: step, weights, latest verdicts, next check."""
    from airlock.experiments import rollout_status

    st = rollout_status(endpoint).to_dict()
    if as_json:
        print_json(st)
    else:
        _print_status(st)


@app.command("abort")
def abort_command(
    endpoint: str = typer.Argument(..., help="The endpoint's name."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Stop the endpoint's active rollout: the candidate's weight goes to 0."""
    from airlock.experiments import abort_rollout

    st = abort_rollout(endpoint, reason=reason).to_dict()
    if as_json:
        print_json(st)
    else:
        _print_status(st)


def _line(out: dict[str, Any]) -> str:
    step = f"step {out['step'] + 1}"
    text = f"{out['endpoint']} ({out['rollout']}): {out['action']}, {step}, " \
           f"{out['status']}; weights {_pct(out['weights'])}"
    return text + (f"; {out['reason']}" if out.get("reason") else "")


@app.command("run")
def run_command(
    endpoint: str | None = typer.Argument(None, help="Drive this endpoint's rollout only "
                                          "(and stop when it has ended)."),
    once: bool = typer.Option(False, "--once", help="Judge each active rollout once, "
                              "then exit."),
    poll: float | None = typer.Option(None, "--poll", help="Seconds between evaluations "
                                      "(default: a fifth of the interval, 0.2-10 s)."),
    lease: float = typer.Option(60.0, "--lease", help="Seconds the lease on an endpoint "
                                "lasts unless renewed (a dead controller's is taken over "
                                "after it)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per "
                                 "evaluation (for scripts)."),
) -> None:
    """The controller: judge the active rollouts and act (advance, roll back, promote)."""
    from airlock.errors import UsageError
    from airlock.experiments import StepOutcome, run_rollouts

    if (poll is not None and poll <= 0) or lease <= 0:
        raise UsageError("--poll and --lease must be positive numbers of seconds")
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))

    def show(outcome: StepOutcome) -> None:
        out = outcome.to_dict()
        if as_json:
            sys.stdout.write(json.dumps(out, default=str) + "\n")
        else:
            sys.stdout.write(_line(out) + "\n")
            if out["verdict"] and out["action"] in ("advance", "rollback", "hold", "promote"):
                _print_checks(out["verdict"])
        sys.stdout.flush()

    try:
        outcomes = run_rollouts(endpoint, once=once, poll_s=poll, lease_s=lease,
                                on_outcome=show, should_stop=lambda: bool(stopping))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if not outcomes and not as_json:
        console().print("no active rollout" + (f" on {endpoint}" if endpoint else ""))
    if any(o.action == "rollback" for o in outcomes):
        raise typer.Exit(1)
