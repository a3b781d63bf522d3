"""`airlock eval | gate | promote | card`: evaluation, policy gates and promotion."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from airlock._files import write_atomic

from ._common import JSON_OPTION, console, print_json, table


def _split(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def eval_command(
    model: str = typer.Argument(..., help="NAME@VERSION or NAME@ALIAS to evaluate."),
    data: Path = typer.Option(..., "--data", "-d", help="CSV or Parquet file (or folder)."),
    target: str = typer.Option(..., "--target", "-t", help="The label column."),
    task: str | None = typer.Option(None, "--task",
                                    help="binary | multiclass | regression | ranking"),
    slices: str | None = typer.Option(None, "--slices", help="Columns to slice by, a,b"),
    sensitive: str | None = typer.Option(None, "--sensitive", help="Sensitive columns, a,b"),
    crossings: bool = typer.Option(False, "--crossings", help="Also slice by column pairs."),
    baseline: str | None = typer.Option(None, "--baseline", help="Model ref to compare with."),
    policy: Path | None = typer.Option(None, "--policy", help="Gate policy YAML."),
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report here."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples (0: none)."),
    seed: int = typer.Option(0, "--seed"),
    threshold: float = typer.Option(0.5, "--threshold", help="Binary decision threshold."),
    min_support: int = typer.Option(30, "--min-support", help="Smaller slices are flagged."),
    query: str | None = typer.Option(None, "--query", help="Query-id column (ranking)."),
    k: int = typer.Option(10, "--k", help="Cut-off for ranking metrics."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate a model version on data; with --policy, exit 1 when the gate fails."""
    from airlock._api import evaluate

    ev = evaluate(model, data, target=target, task=task, slices=_split(slices),
                  sensitive=_split(sensitive), crossings=crossings, baseline=baseline,
                  policy=policy, bootstrap=bootstrap, seed=seed, threshold=threshold,
                  min_support=min_support, query=query, k=k)
    out = ev.to_dict()
    if report is not None:
        _write_report(report, out)
    if as_json:
        print_json(out)
    else:
        _print_summary(out, report)
    if ev.passed is False:
        raise typer.Exit(1)


def _write_report(path: Path, result: dict[str, Any]) -> None:
    from airlock.evaluation import render_report

    html = render_report(result, result.get("decision"))
    write_atomic(path, html)


def _print_summary(out: dict[str, Any], report: Path | None) -> None:
    c = console()
    c.print(f"[bold]{out['id']}[/] {out['model']['ref']} on {out['dataset']['name']} "
            f"({out['support']} rows, {out['task']})")
    table("overall", ["metric", "value", "ci_low", "ci_high"],
          [[m, v["value"], v["ci_low"], v["ci_high"]] for m, v in out["overall"].items()])
    if out.get("baseline"):
        table(f"vs {out['baseline']['model']['ref']}",
              ["metric", "delta", "ci_low", "ci_high", "p"],
              [[m, d["delta"], d["ci_low"], d["ci_high"], d["p_value"]]
               for m, d in out["baseline"]["deltas"].items()])
    if out.get("decision"):
        _print_decision(out["decision"])
    if report is not None:
        c.print(f"report: {report}")


def _print_decision(decision: dict[str, Any]) -> None:
    from ._decision import print_decision

    print_decision(decision)


def gate_command(
    evaluation_id: str = typer.Argument(..., help="A stored evaluation id (ev-…)."),
    policy: Path = typer.Option(..., "--policy", help="Gate policy YAML."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide a stored evaluation against a policy; exit 1 when it fails."""
    from airlock.gates import gate, load_policy

    decision = gate(evaluation_id, load_policy(policy))
    if as_json:
        print_json(decision.to_dict())
    else:
        _print_decision(decision.to_dict())
    if not decision.passed:
        raise typer.Exit(1)


def promote_command(
    ref: str = typer.Argument(..., help="NAME@VERSION to promote."),
    to: str = typer.Option(..., "--to", help="The alias to move, e.g. production."),
    override: bool = typer.Option(False, "--override",
                                  help="Promote without a passing gate (audited)."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required with --override)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move an alias; a protected alias needs a passing decision or an audited override."""
    from airlock.gates import promote

    result = promote(ref, to, override=override, reason=reason)
    if as_json:
        print_json(result)
    else:
        how = "override" if result.get("override") else (
            f"decision {result['decision']}" if result.get("decision") else "unprotected")
        console().print(f"{ref.split('@')[0]}@{to} → {result['to']} ({how})")


def card_command(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@ALIAS."),
    fmt: str = typer.Option("md", "--format", "-f", help="md or html"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to a file."),
) -> None:
    """A model card built from stored evidence only."""
    from airlock.errors import UsageError
    from airlock.evidence import model_card

    if fmt not in ("md", "html"):
        raise UsageError(f"unknown card format {fmt!r}: use md or html")
    text = model_card(ref, format=fmt)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_atomic(output, text)
        console().print(f"card written to {output}")
