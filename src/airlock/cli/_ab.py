"""`airlock ab analyze ENDPOINT`: the A/B analysis of an endpoint's prediction log.

Exit 0: analysed; 1: a sample ratio mismatch or a breached guardrail (a check failed);
2: a usage or input error (one line). The result is stored (``experiment_results``, an audit
event) unless ``--no-store``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, print_json, table
from ._table import name_col

app = typer.Typer(help="Online experiments: A/B analysis of an endpoint's traffic.",
                  no_args_is_help=True)

GUARDRAIL_HELP = ("A non-inferiority guardrail METRIC:MARGIN (margin in the metric's units, "
                  "or a share of the control's value such as latency_p95:10%); repeatable.")
MSG_GUARDRAIL = "invalid --guardrail {text!r}: use METRIC:MARGIN, e.g. error_rate:0.01"


def _guardrails(items: list[str] | None) -> dict[str, float | str] | None:
    from airlock.errors import UsageError

    if not items:
        return None
    out: dict[str, float | str] = {}
    for text in items:
        metric, sep, margin = text.rpartition(":")
        if not sep or not metric.strip():
            raise UsageError(MSG_GUARDRAIL.format(text=text))
        margin = margin.strip()
        try:
            out[metric.strip()] = margin if margin.endswith("%") else float(margin)
        except ValueError:
            raise UsageError(MSG_GUARDRAIL.format(text=text)) from None
    return out


@app.command("analyze")
def analyze_command(
    endpoint: str = typer.Argument(..., help="The endpoint's name (as served)."),
    since: str = typer.Option("7d", "--since", help="ISO time, or a duration back from now."),
    until: str | None = typer.Option(None, "--until", help="ISO time, or a duration back."),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="accuracy, error_rate, latency_p95 or mean(COLUMN), e.g. "
        "mean(outputs.proba_1); repeatable (default: accuracy, error_rate, latency_p95)."),
    control: str | None = typer.Option(None, "--control", help="The control route "
                                       "(default: primary)."),
    covariate: str | None = typer.Option(None, "--covariate", help="A pre-exposure column for "
                                         "CUPED, e.g. inputs.age."),
    unit: str | None = typer.Option(None, "--unit", help="The randomisation unit's column, "
                                    "e.g. inputs.user_id (default: the config's sticky "
                                    "field, else requests)."),
    sequential: bool = typer.Option(False, "--sequential", help="Always-valid confidence "
                                    "sequences: safe to look at any time."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    guardrail: list[str] | None = typer.Option(None, "--guardrail", help=GUARDRAIL_HELP),
    mde: float | None = typer.Option(None, "--mde", help="A lift to size for: the report "
                                     "gives the units per variant needed (80% power)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="The endpoint YAML: its "
                                       "routes, configured split and sticky key."),
    show_despite_srm: bool = typer.Option(False, "--show-despite-srm", help="Show lifts even "
                                          "when the split does not match the configured one."),
    report: Path | None = typer.Option(None, "--report", help="Write the HTML report here."),
    store: bool = typer.Option(True, "--store/--no-store", help="Keep the result in the "
                               "store (with an audit event)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A/B analysis of ENDPOINT's traffic: SRM first, then per variant and per metric.
    Exit 1 on a sample ratio mismatch or a breached guardrail."""
    from airlock.experiments import analyze_endpoint, save_experiment

    cfg = None
    if config is not None:
        from airlock.serve import load_endpoint_config

        cfg = load_endpoint_config(config)
    options: dict[str, Any] = {"control": control, "covariate": covariate, "unit": unit,
                               "sequential": sequential, "alpha": alpha, "mde": mde,
                               "guardrails": _guardrails(guardrail),
                               "show_despite_srm": show_despite_srm}
    if metric:
        options["metrics"] = tuple(m for item in metric for m in _split(item))
    result = analyze_endpoint(endpoint, since=since, until=until, endpoint_config=cfg,
                              **options)
    saved = save_experiment(result) if store else None
    if report is not None:
        from airlock.experiments import save_experiment_report

        save_experiment_report(result, report)
    out = result.to_dict()
    if saved is not None:
        out["id"] = saved.id
    if as_json:
        print_json(out)
    else:
        _print(out, report)
    if out["srm"]["flagged"] or out["guardrail_breached"]:
        raise typer.Exit(1)


def _split(item: str) -> list[str]:
    """``accuracy,error_rate`` → two metrics; a comma inside mean(...) is not a separator."""
    out, depth, cur = [], 0, ""
    for ch in item:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return [m for m in out if m]


def _ci(lo: Any, hi: Any) -> str:
    from ._table import fmt_value

    return "-" if lo is None and hi is None else f"[{fmt_value(lo)}, {fmt_value(hi)}]"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2%}"


def _guard_text(c: dict[str, Any]) -> str | None:
    g = c.get("guardrail")
    if not g:
        return None
    state = "BREACHED" if g["breached"] else "non-inferior" if g["non_inferior"] \
        else "inconclusive"
    side = "upper" if g["lower_is_better"] else "lower"
    return f"guardrail {state}: margin {g['margin']:.4g}, {side} bound {g['bound']:.4g}" \
        if g["bound"] is not None else f"guardrail {state}: margin {g['margin']:.4g}"


def _when(iso: str | None) -> str:
    return "the start" if not iso else iso[:16].replace("T", " ")


def _print(out: dict[str, Any], report: Path | None) -> None:
    say = console().print
    win = out.get("window") or {}
    m = out["method"]
    say(f"experiment on {out.get('endpoint')}: {_when(win.get('since'))} to "
        f"{_when(win.get('until'))} UTC")
    kind = f"confidence sequences, tuning {m['tuning']:g}" if "tuning" in m \
        else "Welch t, one look"
    say(f"method: {m['name']} ({kind}); alpha {out['alpha']:g}; unit: {out['unit']}")
    s = out["srm"]
    obs = ", ".join(f"{v} {n:,} ({s['expected'][v]:.0%} expected)"
                    for v, n in s["observed"].items())
    verdict = "SAMPLE RATIO MISMATCH" if s["flagged"] else "ok"
    withheld = "; lifts withheld (--show-despite-srm shows them)" if out["srm_withheld"] \
        else ""
    say(f"SRM: {verdict} (p = {s['p_value']:.3g}; {obs}){withheld}")
    rows = []
    for name, v in out["variants"].items():
        for metric, est in v.items():
            if isinstance(est, dict) and "value" in est:
                rows.append([name, v["units"], metric, est["value"],
                             _ci(est["ci_low"], est["ci_high"]), est.get("n")])
    table("variants", [name_col("variant"), Col("units", priority=2),
                       Col("metric", wrap=True, min_width=21), "value", "CI",
                       Col("n", priority=1)], rows)
    for variant in dict.fromkeys(c["variant"] for c in out["comparisons"]):
        _print_comparisons(out, variant)
    if out.get("cuped"):
        cu = out["cuped"]
        for metric, info in cu["metrics"].items():
            red = info["variance_reduction"]
            say(f"CUPED on {metric} with {cu['covariate']}: variance reduced by "
                + ("-" if red is None else f"{max(red, 0.0):.1%}"))
        for metric, why in cu["skipped"].items():
            say(f"CUPED not applied to {metric}: {why}")
    for note in out["notes"]:
        say(f"note: {note}")
    breached = [c for c in out["comparisons"] if (c.get("guardrail") or {}).get("breached")]
    say("guardrails: " + (", ".join(f"{c['variant']} {c['metric']} BREACHED" for c in breached)
                          if breached else "none breached"))
    if out.get("id"):
        say(f"stored as {out['id']}")
    if report:
        say(f"report written to {report}")


def _print_comparisons(out: dict[str, Any], variant: str) -> None:
    rows, reasons = [], []
    for c in out["comparisons"]:
        if c["variant"] != variant:
            continue
        decision = "-" if c["significant"] is None else "YES" if c["significant"] else "no"
        rows.append([c["metric"], c["lift"], _ci(c["lift_ci_low"], c["lift_ci_high"]),
                     c["p_value"], decision])
        why = [p for p in (c.get("reason"), _guard_text(c)) if p]
        if c["relative_lift"] is not None:
            why.append(f"relative {_pct(c['relative_lift'])} "
                       f"[{_pct(c.get('relative_ci_low'))}, {_pct(c.get('relative_ci_high'))}]")
        why.append(c["method"])
        if c.get("needed_per_variant"):
            why.append(f"needs {c['needed_per_variant']:,} units per variant for the MDE")
        reasons.append("; ".join(why))
    table(f"{variant} vs {out['control']} (significant: Holm across metrics)",
          [Col("metric", wrap=True, min_width=21), "lift", "CI", "p", "signif."], rows,
          reasons=reasons, empty="no comparison")
