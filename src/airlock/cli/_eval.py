"""`airlock eval | gate | promote | card`: evaluation, policy gates and promotion."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from airlock._files import write_atomic

from ._common import JSON_OPTION, console, fmt_value, print_json, table
from ._table import terminal_width


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
    importance: bool = typer.Option(False, "--importance",
                                    help="Permutation importance per feature (and mean "
                                    "|SHAP| for a tree model)."),
    repeats: int = typer.Option(5, "--importance-repeats", min=1, max=100,
                                help="Shuffles per feature for --importance."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate a model version on data; with --policy, exit 1 when the gate fails."""
    from airlock._api import evaluate

    ev = evaluate(model, data, target=target, task=task, slices=_split(slices),
                  sensitive=_split(sensitive), crossings=crossings, baseline=baseline,
                  policy=policy, bootstrap=bootstrap, seed=seed, threshold=threshold,
                  min_support=min_support, query=query, k=k,
                  importance=repeats if importance else 0)
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
    that failed, each with why) and where the rest is; the CLI's one renderer fits the
    terminal and rounds numbers for people."""
    from airlock.evaluation import significant_regression

    from ._decision import print_decision
    from ._table import wrap_text

    width = terminal_width()
    _say(f"{out['id']} {out['model']['ref']} on {out['dataset']['name']}: "
         f"{fmt_value(out['support'])} rows, {out['task']}", width)
    conf = (out.get("config") or {}).get("confidence", 0.95)
    overall = out["overall"]
    table(f"overall ({conf:.0%} CI)", ["metric", "value", "CI"],
          [[m, v.get("value"), _ci(v)] for m, v in overall.items()],
          reasons=[v.get("reason") for v in overall.values()])
    base = out.get("baseline")
    if base:
        deltas = base["deltas"]
        table(f"vs {base['model']['ref']} (candidate - baseline)",
              ["metric", "delta", "CI", "p"],
              [[m, d.get("delta"), _ci(d), _p(d.get("p_value"))] for m, d in deltas.items()],
              reasons=["significant regression" if significant_regression(out, m, d)
                       else d.get("reason") for m, d in deltas.items()])
    if out.get("importance"):
        _print_importance(out["importance"], conf)
    if out.get("decision"):
        print_decision(out["decision"])
    checks = _checks(out)
    _say(f"Failed or flagged checks ({len(checks)}):" if checks
         else "No failed or flagged checks.", width)
    for status, text in checks:
        for k, line in enumerate(wrap_text(text, width - 8)):
            sys.stdout.write(f"  {status:<4}  {line}\n" if k == 0 else f"{' ' * 8}{line}\n")
    where = f"the HTML report {report}" if report is not None else \
        "an HTML report with --report FILE"
    _say(f"Every figure (slices, groups, CIs, curves): --json, or {where}.", width)


def _print_importance(imp: dict[str, Any], conf: float) -> None:
    """The permutation importances (and mean |SHAP| when computed), most important first."""
    shap = imp.get("shap") or {}
    mean_abs = shap.get("mean_abs") or {}
    cols = ["#", "feature", "drop", "CI"] + (["mean |SHAP|"] if mean_abs else [])
    rows = [[f.get("rank"), name, f.get("value"), _ci(f)]
            + ([mean_abs.get(name)] if mean_abs else [])
            for name, f in (imp.get("features") or {}).items()]
    table(f"permutation importance: drop of {imp.get('metric')} over {imp.get('repeats')} "
          f"shuffles ({conf:.0%} CI)", cols, rows,
          reasons=[f.get("reason") for f in (imp.get("features") or {}).values()])
    if shap.get("reason"):
        _say(f"SHAP: {shap['reason']}", terminal_width())
    elif shap and not shap.get("additive"):
        _say(f"SHAP: NOT additive (largest gap {fmt_value(shap.get('additivity_error'))})",
             terminal_width())


def _say(text: str, width: int) -> None:
    from ._table import wrap_text

    sys.stdout.write("\n".join(wrap_text(text, width)) + "\n")


def _ci(m: Any) -> str:
    lo, hi = m.get("ci_low"), m.get("ci_high")
    return "-" if lo is None and hi is None else f"[{fmt_value(lo)}, {fmt_value(hi)}]"


def _p(p: Any) -> Any:
    if not isinstance(p, int | float):
        return None
    return "<0.001" if p < 1e-3 else round(float(p), 3)


def _checks(out: dict[str, Any]) -> list[tuple[str, str]]:
    """Every failed or flagged check as (FAIL | WARN | FLAG, one sentence)."""
    from airlock.evaluation import slice_gates, slice_note

    from ._decision import rule_reason

    decision = out.get("decision") or {}
    checks: list[tuple[str, str]] = []
    for r in decision.get("rules") or []:
        if not r.get("passed"):
            failing = (r.get("evidence") or {}).get("failing") or []
            why = (f"{len(failing)} slice{'s' if len(failing) > 1 else ''} outside the "
                   f"bound {fmt_value(r.get('bound'))} (below)" if failing
                   else rule_reason(r) or "failed")
            checks.append(("FAIL" if r.get("status") != "warn" else "WARN",
                           f"gate rule {r.get('index')} `{r.get('text')}`: {why}"))
    gates = slice_gates(decision or None)
    for g in gates:
        status = next(("WARN" if r.get("status") == "warn" else "FAIL"
                       for r in decision.get("rules") or [] if r.get("index") == g.rule), "FAIL")
        for (col, val), value in g.failing.items():
            checks.append((status, f"slice {col} = {val}: {fmt_value(value)}, outside the bound "
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
                                   f"{fmt_value(rule.get('value'))} {_ci(rule)}, needs >= "
                                   f"{fmt_value(rule.get('bound', 0.8))} ({_extremes(result)})"))
    base = out.get("baseline") or {}
    for r in base.get("regressed_slices") or []:
        checks.append(("FLAG", f"baseline: {r.get('metric')} in {r.get('column')} = "
                               f"{r.get('value')}: delta {fmt_value(r.get('delta'))}, p "
                               f"{fmt_value(_p(r.get('p_value')))} (significant regression)"))
    return checks


def _extremes(result: dict[str, Any]) -> str:
    """The lowest and highest selection rates of the groups: what the ratio compares."""
    rates = [(g, m.get("selection_rate")) for g, m in (result.get("by_group") or {}).items()
             if isinstance(m.get("selection_rate"), int | float)]
    if len(rates) < 2:
        return "selection rates of the groups"
    low, high = min(rates, key=lambda x: x[1]), max(rates, key=lambda x: x[1])
    return f"selection rate {low[0]} {fmt_value(low[1])} vs {high[0]} {fmt_value(high[1])}"


def _print_decision(decision: dict[str, Any]) -> None:
    from ._decision import print_decision

    print_decision(decision)


def gate_command(
    evaluation_id: str = typer.Argument(..., help="A stored evaluation id (ev-…)."),
    policy: Path = typer.Option(..., "--policy", help="Gate policy YAML."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide a stored evaluation (a model's, or an LLM evaluation of a prompt) against a
    policy; exit 1 when it fails."""
    from airlock._api import gate

    decision = gate(evaluation_id, policy)
    if as_json:
        print_json(decision.to_dict())
    else:
        _print_decision(decision.to_dict())
    if not decision.passed:
        raise typer.Exit(1)


def promote_command(
    ref: str = typer.Argument(..., help="NAME@VERSION (a model or a prompt) to promote."),
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
        if result.get("approved_by"):
            how += f", approved by {', '.join(result['approved_by'])}"
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
