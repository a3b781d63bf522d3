"""`airlock guard …`: check texts against a guard policy, and evaluate a policy on labelled
data (exit 1 when a gate bound is missed)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, fail, print_json, table

app = typer.Typer(help="Guardrails for LLM features: PII, prompt injection, output policies.",
                  no_args_is_help=True)

POLICY_OPTION = typer.Option("default", "--policy", "-p",
                             help="'default', 'rules' or a guard policy YAML file.")
STAGE_OPTION = typer.Option("input", "--stage", help="input or output.")


@app.command("check")
def check(
    source: str | None = typer.Argument(None, help="'-' reads JSON lines from stdin."),
    policy: str = POLICY_OPTION,
    text: str | None = typer.Option(None, "--text", "-t", help="One text to check."),
    file: str | None = typer.Option(None, "--file", "-f",
                                    help="JSON lines with \"text\" or \"prompt\" ('-': stdin)."),
    stage: str = STAGE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check texts; exit 1 when any is blocked. --json prints one JSON line per input."""
    from airlock.guard import Guard, default_notice

    if source not in (None, "-"):
        fail(f"unexpected argument {source!r}: use --text, --file or '-' for stdin")
    if stage not in ("input", "output"):
        fail(f"--stage must be input or output (got {stage!r})")
    items = _inputs(text, file if file is not None else source)
    guard = Guard(policy)
    notice = default_notice(policy)
    if notice:
        sys.stderr.write(notice + "\n")
    verdicts = guard.check_batch([t for t, _, _ in items], stage)  # type: ignore[arg-type]
    if as_json:
        for (_, index, ident), v in zip(items, verdicts, strict=True):
            sys.stdout.write(json.dumps(_line(v.to_dict(), index, ident),
                                        ensure_ascii=False) + "\n")
    else:
        _print(items, verdicts)
    if any(not v.allowed for v in verdicts):
        raise typer.Exit(1)


Item = tuple[str, int, Any]
"""An input: its text, its index (the 0-based line of a JSON-lines input; 0 for --text) and
its ``id`` when the input has one (else None)."""
_LINE = re.compile(r" line (\d+)$")


def _inputs(text: str | None, file: str | None) -> list[Item]:
    if (text is None) == (file is None):
        fail("give exactly one of --text, --file or '-' (stdin)")
    if text is not None:
        return [(text, 0, None)]
    from airlock._files import parse_jsonl, read_jsonl

    assert file is not None
    if file == "-":
        return _texts(parse_jsonl(sys.stdin.read().splitlines(), "stdin"))
    return _texts(read_jsonl(file, "file"))


def _texts(rows: list[tuple[Any, str]]) -> list[Item]:
    out: list[Item] = []
    for row, where in rows:
        value = row.get("text", row.get("prompt")) if isinstance(row, dict) else None
        if not isinstance(value, str):
            fail(f"{where}: expected an object with a \"text\" or \"prompt\" string")
        assert isinstance(row, dict)
        found = _LINE.search(where)  # parse_jsonl names each row "<name> line N" (1-based)
        index = int(found.group(1)) - 1 if found else len(out)
        ident = row.get("id")
        out.append((str(value), index, ident if isinstance(ident, str | int) else None))
    if not out:
        fail("no texts to check")
    return out


def _line(v: dict[str, Any], index: int, ident: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index}
    if ident is not None:
        out["id"] = ident
    return {**out, "allowed": v["allowed"], "action": v["action"],
            "findings": [{k: f[k] for k in ("type", "start", "end", "score", "detector")}
                         for f in v["findings"]],
            "redacted": v["redacted"], "message": v["message"]}


def _print(items: list[Item], verdicts: list[Any]) -> None:
    """One row per input (``#``: its index, as in --json, and its id); what was found (the
    reason a text is blocked) and the redacted text in full, wrapped, never cut."""
    rows = []
    for (_, index, ident), v in zip(items, verdicts, strict=True):
        found = "\n".join(f"{f.type} {f.start}-{f.end} ({f.score:.2f})" for f in v.findings)
        rows.append([index if ident is None else f"{index} {ident}", v.action,
                     found or "-", v.redacted])
    table(None, [Col("#", wrap=True), "action", Col("findings", wrap=True),
                 Col("redacted", wrap=True, min_width=30)], rows)
    blocked = sum(not v.allowed for v in verdicts)
    console().print(f"{len(verdicts)} checked, {blocked} blocked")


@app.command("eval")
def eval_command(
    policy: str = POLICY_OPTION,
    data: Path = typer.Option(..., "--data", "-d", help="Labelled JSON lines."),
    stage: str = STAGE_OPTION,
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report here."),
    seed: int = typer.Option(0, "--seed"),
    n_boot: int = typer.Option(1000, "--n-boot", min=0),
    min_recall: float | None = typer.Option(None, "--min-recall", min=0.0, max=1.0,
                                            help="Exit 1 when recall is below."),
    max_fpr: float | None = typer.Option(None, "--max-fpr", min=0.0, max=1.0,
                                         help="Exit 1 when the false-positive rate is above."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Precision, recall and false-positive rate per type with bootstrap CIs."""
    from airlock.guard import evaluate_guard

    if stage not in ("input", "output"):
        fail(f"--stage must be input or output (got {stage!r})")
    ev = evaluate_guard(policy, data, stage=stage, seed=seed,  # type: ignore[arg-type]
                        n_boot=n_boot)
    if report is not None:
        ev.render_html(report)
    missed = _missed(ev.metrics, min_recall, max_fpr)
    if as_json:
        print_json({**ev.to_dict(), "passed": not missed, "missed": missed})
    else:
        _print_eval(ev, report)
        for line in missed:
            console().print(f"[bold red]gate missed[/]: {line}")
    if missed:
        raise typer.Exit(1)


def _missed(metrics: dict[str, Any], min_recall: float | None, max_fpr: float | None
            ) -> list[str]:
    out = []
    recall = (metrics.get("recall") or {}).get("value")
    fpr = (metrics.get("fpr") or {}).get("value")
    if min_recall is not None and (recall is None or recall < min_recall):
        out.append(f"recall {_fmt(recall)} < {min_recall:g}")
    if max_fpr is not None and (fpr is None or fpr > max_fpr):
        out.append(f"fpr {_fmt(fpr)} > {max_fpr:g}")
    return out


def _fmt(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.4f}"


def _print_eval(ev: Any, report: Path | None) -> None:
    m = ev.metrics
    console().print(f"[bold]{ev.policy}[/] on {ev.source}: {ev.rows:,} rows, stage {ev.stage}, "
                    f"latency p50 {ev.latency_ms['p50']:.3f} ms, p95 {ev.latency_ms['p95']:.3f} ms")
    rows = [[name, _ci(m.get(name))] for name in ("precision", "recall", "fpr",
                                                   "recall.INJECTION", "recall.PII") if name in m]
    table("overall", ["metric", "value [95% CI]"], rows)
    table("per type", ["type", "precision", "recall", "fpr"],
          [[r["type"], _ci(r["precision"]), _ci(r["recall"]), _ci(r["fpr"])]
           for r in ev.per_type])
    if report is not None:
        console().print(f"report written to {report}")


def _ci(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    if m.get("ci_low") is None:
        return f"{m['value']:.4f}"
    return f"{m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
