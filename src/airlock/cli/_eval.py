"""`airlock eval | gate | promote | card`: evaluation, policy gates and promotion."""

from __future__ import annotations

import math
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import typer

from airlock._files import write_atomic

from ._common import JSON_OPTION, console, fmt_value, print_json, table


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
    from airlock.evaluation import evaluate

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
    """Overall metrics, baseline deltas and the gate, then every failed or flagged check
    (slices under their bound or support, disparities outside their bounds, gate rules
    that failed, each with why) and where the rest is. Fits the terminal's width
    (``COLUMNS``, else the terminal, else 80); numbers rounded for people."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from airlock.evaluation import significant_regression

    width = max(40, shutil.get_terminal_size((80, 24)).columns)
    c = Console(width=width, highlight=False, soft_wrap=False)
    c.print(f"{out['id']} {out['model']['ref']} on {out['dataset']['name']}: "
            f"{_n(out['support'])} rows, {out['task']}", markup=False)
    conf = (out.get("config") or {}).get("confidence", 0.95)
    t = Table(title=f"overall ({conf:.0%} CI)", header_style="bold", title_justify="left")
    notes = any(v.get("reason") for v in out["overall"].values())
    for name in ("metric", "value", "CI", *(["note"] if notes else [])):
        t.add_column(name, no_wrap=name != "note", overflow="fold")
    for m, v in out["overall"].items():
        t.add_row(escape(m), _n(v.get("value")), _ci(v),
                  *([escape(v.get("reason") or "")] if notes else []))
    c.print(t)
    base = out.get("baseline")
    if base:
        t = Table(title=escape(f"vs {base['model']['ref']} (candidate - baseline)"),
                  header_style="bold", title_justify="left")
        for name in ("metric", "delta", "CI", "p"):
            t.add_column(name, no_wrap=True)
        t.add_column("note", overflow="fold")
        for m, d in base["deltas"].items():
            t.add_row(escape(m), _n(d.get("delta")), _ci(d), _p(d.get("p_value")),
                      "significant regression" if significant_regression(out, m, d)
                      else escape(d.get("reason") or ""))
        c.print(t)
    decision = out.get("decision")
    if decision:
        passed = sum(bool(r.get("passed")) for r in decision["rules"])
        t = Table(title=escape(f"gate {decision['policy']['name']}: "
                               f"{'PASSED' if decision['passed'] else 'FAILED'} ({passed} of "
                               f"{len(decision['rules'])} rules passed)"), header_style="bold",
                  title_justify="left")
        for name in ("#", "rule", "value", "bound", "result"):
            t.add_column(name, no_wrap=name != "rule", overflow="fold")
        for r in decision["rules"]:
            t.add_row(str(r.get("index")), escape(str(r.get("text"))), _n(r.get("value")),
                      _n(r.get("bound")), "pass" if r.get("passed") else
                      ("warn" if r.get("status") == "warn" else "FAIL"))
        c.print(t)
    checks = _checks(out)
    if checks:
        c.print(f"Failed or flagged checks ({len(checks)}):", style="bold")
        for status, text in checks:
            c.print(textwrap.fill(text, width=width, initial_indent=f"  {status:<4}  ",
                                  subsequent_indent=" " * 8, break_on_hyphens=False,
                                  break_long_words=False),
                    markup=False)
    else:
        c.print("No failed or flagged checks.")
    where = f"the HTML report {report}" if report is not None else \
        "an HTML report with --report FILE"
    c.print(textwrap.fill(f"Every figure (slices, groups, CIs, curves): --json, or {where}.",
                          width=width, break_long_words=False, break_on_hyphens=False),
            markup=False)


def _n(v: Any) -> str:
    """A number rounded for people: 4 significant digits, thousands separators."""
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    if abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _ci(m: Any) -> str:
    lo, hi = m.get("ci_low"), m.get("ci_high")
    return "—" if lo is None and hi is None else f"[{_n(lo)}, {_n(hi)}]"


def _p(p: Any) -> str:
    if not isinstance(p, int | float):
        return "—"
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def _checks(out: dict[str, Any]) -> list[tuple[str, str]]:
    """Every failed or flagged check as (FAIL | WARN | FLAG, one sentence)."""
    from airlock.evaluation import slice_gates, slice_note

    decision = out.get("decision") or {}
    checks: list[tuple[str, str]] = []
    for r in decision.get("rules") or []:
        if not r.get("passed"):
            checks.append(("FAIL" if r.get("status") != "warn" else "WARN",
                           f"gate rule {r.get('index')} `{r.get('text')}`: {_rule_why(r)}"))
    gates = slice_gates(decision or None)
    for g in gates:
        status = next(("WARN" if r.get("status") == "warn" else "FAIL"
                       for r in decision.get("rules") or [] if r.get("index") == g.rule), "FAIL")
        for (col, val), value in g.failing.items():
            checks.append((status, f"slice {col} = {val}: {_n(value)}, outside the bound "
                                   f"of rule {g.rule}"))
    min_support = (out.get("config") or {}).get("min_support")
    for col, values in (out.get("slices") or {}).items():
        for val, cell in values.items():
            if note := slice_note(cell, col, str(val), gates, min_support):
                checks.append(("FLAG", f"slice {col} = {val}: {note}"))
    for feature, result in (out.get("fairness") or {}).items():
        rule = (result.get("disparities") or {}).get("four_fifths_rule")
        if isinstance(rule, dict) and rule.get("passed") is False:
            checks.append(("FAIL", f"fairness: four_fifths_rule on {feature}: ratio "
                                   f"{_n(rule.get('value'))} {_ci(rule)}, needs >= "
                                   f"{_n(rule.get('bound', 0.8))} ({_extremes(result)})"))
    base = out.get("baseline") or {}
    for r in base.get("regressed_slices") or []:
        checks.append(("FLAG", f"baseline: {r.get('metric')} in {r.get('column')} = "
                               f"{r.get('value')}: delta {_n(r.get('delta'))}, p "
                               f"{_p(r.get('p_value'))} (significant regression)"))
    return checks


def _rule_why(r: dict[str, Any]) -> str:
    ev = r.get("evidence") or {}
    if r.get("value") is None:
        return str(ev.get("reason") or "undefined")
    text = f"value {_n(r.get('value'))}, bound {_n(r.get('bound'))}"
    failing = [f for f in ev.get("features") or [] if not f.get("passed")]
    if r.get("kind") == "fairness" and failing:
        text += " (" + ", ".join(f"{f.get('feature')} {_n(f.get('value'))}" for f in failing) + ")"
    if r.get("kind") == "slice" and ev.get("failing"):
        n = len(ev["failing"])
        text += f", {n} slice{'s' if n > 1 else ''} outside it"
    if r.get("kind") == "baseline" and ev.get("p_value") is not None:
        text += f", p {_p(ev['p_value'])}"
    if ev.get("reason"):
        text += f" ({ev['reason']})"
    return text


def _extremes(result: dict[str, Any]) -> str:
    """The lowest and highest selection rates of the groups: what the ratio compares."""
    rates = [(g, m.get("selection_rate")) for g, m in (result.get("by_group") or {}).items()
             if isinstance(m.get("selection_rate"), int | float)]
    if len(rates) < 2:
        return "selection rates of the groups"
    low, high = min(rates, key=lambda x: x[1]), max(rates, key=lambda x: x[1])
    return f"selection rate {low[0]} {_n(low[1])} vs {high[0]} {_n(high[1])}"


def _print_decision(decision: dict[str, Any]) -> None:
    table(f"gate: {'PASSED' if decision['passed'] else 'FAILED'}",
          ["rule", "value", "bound", "result"],
          [[r.get("text"), fmt_value(r.get("value")), fmt_value(r.get("bound")),
            "pass" if r.get("passed") else ("warn" if r.get("severity") == "warn" else "FAIL")]
           for r in decision["rules"]])


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


def protect_command(
    ref: str = typer.Argument(..., help="Model NAME."),
    alias: str = typer.Argument(..., help="The alias to protect, e.g. production."),
    policy: Path = typer.Option(..., "--policy", help="The policy promotions must pass."),
) -> None:
    """Protect an alias: it then moves only through `airlock promote`."""
    from airlock.gates import load_policy, protect

    pol = load_policy(policy)
    protect(ref, alias, pol)
    console().print(f"{ref}@{alias} is protected by policy {pol.name!r}")
