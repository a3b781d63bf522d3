"""The experiment report: one self-contained HTML file (inline CSS and SVG, no script).

Sections: the SRM verdict first (a mismatch says the lifts are withheld), what was compared
(window, control, method and its tuning, versions, config hash), exposures over time, the
per-variant estimates, the comparisons with their decisions and guardrail verdicts, the
cumulative lift of each metric with its interval (the confidence sequence in sequential
mode), and the notes. Every value that came from data is escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airlock._files import write_atomic
from airlock.report import (
    Html,
    Series,
    badge,
    cell_ci,
    esc,
    facts,
    fmt,
    fmt_p,
    line_chart,
    mono,
    page,
    table,
)

from ._result import ExperimentResult

__all__ = ["render_experiment_report", "save_experiment_report"]


def _srm(d: dict[str, Any]) -> list[str]:
    s = d["srm"]
    verdict = badge(not s["flagged"], "no mismatch", "SAMPLE RATIO MISMATCH")
    note = ("lifts are withheld: the split the users got is not the configured one, so any "
            "difference may come from who was assigned, not from the variant"
            if d["srm_withheld"] else "lifts shown despite the mismatch" if s["flagged"]
            else "the observed split matches the configured one")
    rows = [[v, f"{s['expected'][v]:.1%}", s["observed"][v],
             f"{s['observed'][v] / max(sum(s['observed'].values()), 1):.1%}"]
            for v in s["expected"]]
    return ["<h2>Sample ratio</h2>",
            facts([("verdict", verdict), ("p-value (chi-square)", fmt_p(s["p_value"])),
                   ("flagged below", s["threshold"]), ("meaning", note)]),
            table(["variant", "expected share", "units", "observed share"], rows,
                  numeric=(1, 2, 3))]


def _about(d: dict[str, Any]) -> list[str]:
    m = d["method"]
    pairs: list[tuple[str, Any]] = [
        ("endpoint", d.get("endpoint") or "—"),
        ("window", f"{(d.get('window') or {}).get('since') or '—'} → "
                   f"{(d.get('window') or {}).get('until') or '—'}"),
        ("control", d["control"]), ("unit", d["unit"]), ("alpha", d["alpha"]),
        ("method", m["name"]), ("test", m["test"]), ("valid", m["valid"])]
    if "tuning" in m:
        pairs.append(("tuning", f"{fmt(m['tuning'])} units (rho {fmt(m['rho'])}): "
                                f"{m['tuning_meaning']}"))
    pairs += [("multiple testing", m["multiple_testing"]), ("quantiles", m["quantiles"]),
              ("config hash", mono(d.get("config_hash")))]
    if d.get("cuped"):
        cu = d["cuped"]
        red = ", ".join(f"{k}: {fmt(v['variance_reduction'])}"
                        for k, v in cu["metrics"].items()) or "—"
        pairs.append(("CUPED", f"covariate {cu['covariate']}; variance reduction {red}"))
    return ["<h2>What was compared</h2>", facts(pairs)]


def _variants(d: dict[str, Any]) -> list[str]:
    metrics = [c["metric"] for c in d["comparisons"]]
    metrics = list(dict.fromkeys(metrics))
    rows = []
    for name, v in d["variants"].items():
        versions = ", ".join(v.get("versions", {})) or "—"
        rows.append([name, v["units"], *(cell_ci(v.get(m)) if v.get(m) else "—"
                                         for m in metrics), versions])
    return ["<h2>Variants</h2>",
            table(["variant", "units", *metrics, "versions"], rows,
                  numeric=tuple(range(1, len(metrics) + 2)))]


def _decision(c: dict[str, Any]) -> Html:
    if c["significant"] is None:
        return Html(f'<span class="badge flag">{esc(c.get("reason") or "n/a")}</span>')
    if c["significant"]:
        return Html('<span class="badge pass">significant</span>')
    return Html('<span class="badge flag">not significant</span>')


def _guard(c: dict[str, Any]) -> Any:
    g = c.get("guardrail")
    if not g:
        return "—"
    if g["breached"]:
        return Html(f'<span class="badge fail">BREACHED (margin {esc(fmt(g["margin"]))})'
                    "</span>")
    if g["non_inferior"]:
        return Html(f'<span class="badge pass">non-inferior (margin {esc(fmt(g["margin"]))})'
                    "</span>")
    return Html(f'<span class="badge flag">inconclusive (margin {esc(fmt(g["margin"]))})'
                "</span>")


def _comparisons(d: dict[str, Any]) -> list[str]:
    rows = [[c["variant"], c["metric"],
             cell_ci({"value": c["lift"], "ci_low": c["lift_ci_low"],
                      "ci_high": c["lift_ci_high"]}),
             cell_ci({"value": c["relative_lift"], "ci_low": c.get("relative_ci_low"),
                      "ci_high": c.get("relative_ci_high")}),
             fmt_p(c["p_value"]), _decision(c), _guard(c), c["method"]]
            for c in d["comparisons"]]
    return [f"<h2>Comparisons with {esc(d['control'])}</h2>",
            table(["variant", "metric", "lift [CI]", "relative lift [CI]", "p-value",
                   "decision (Holm)", "guardrail", "method"], rows, numeric=(2, 3, 4))]


def _charts(d: dict[str, Any]) -> list[str]:
    t = d.get("timeline")
    if not t:
        return ["<h2>Over time</h2><p>one time bucket only: no chart over time.</p>"]
    hours = [i * t["bucket_ms"] / 3_600_000 for i in range(len(t["start"]))]
    label = f"hours since {t['start'][0][:16].replace('T', ' ')} UTC"
    charts = [line_chart([Series(v, hours, units) for v, units in t["units"].items()],
                         title="exposures per bucket", x_label=label, y_label="units",
                         x_range=None, y_range=None)]
    band = "confidence sequence" if d["sequential"] else "pointwise CI (fixed horizon)"
    for s in t["lift"].values():
        if d["srm_withheld"]:
            break
        charts.append(line_chart(
            [Series("lift", hours, s["lift"]), Series("low", hours, s["low"]),
             Series("high", hours, s["high"]), Series("0", [hours[0], hours[-1]], [0.0, 0.0])],
            title=f"{s['metric']}: {s['variant']} - {d['control']}", x_label=label,
            y_label="lift", x_range=None, y_range=None))
    return ["<h2>Over time</h2>",
            f"<p>Exposures per bucket, and the cumulative lift of each metric with its "
            f"{esc(band)} (low, high) after each bucket.</p>",
            '<div class="charts">', *charts, "</div>"]


def render_experiment_report(result: ExperimentResult, *, title: str | None = None) -> str:
    """The report's HTML for ``result``."""
    d = result.to_dict()
    name = title or f"Experiment on {d.get('endpoint') or 'a table'}"
    notes = "".join(f"<li>{esc(n)}</li>" for n in d["notes"]) or "<li>none</li>"
    body = [f"<h1>{esc(name)}</h1>", *_srm(d), *_about(d), *_variants(d), *_comparisons(d),
            *_charts(d), f"<h2>Notes</h2><ul>{notes}</ul>"]
    return page(name, body)


def save_experiment_report(result: ExperimentResult, path: str | Path, *,
                           title: str | None = None) -> Path:
    """Write the report to ``path`` (atomically); returns the path."""
    write_atomic(path, render_experiment_report(result, title=title))
    return Path(path)
