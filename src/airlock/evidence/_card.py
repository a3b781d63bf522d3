"""Model cards from stored evidence only: what was registered, what it was trained on, how it
was evaluated, which gates it met, who overrode them, and the limitations the evidence shows.

The card is built once as a list of sections of plain blocks (fields, tables, paragraphs,
bullets) and rendered to Markdown or to a self-contained HTML page, so both formats carry
the same content. Nothing is recomputed: every number comes from the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airlock.errors import NotFound, UsageError
from airlock.evaluation import (
    SliceGate,
    metric_names,
    primary_metric,
    significant_regression,
    slice_gates,
    slice_note,
    slice_support,
)
from airlock.registry import resolve
from airlock.report import Html, esc, facts, fmt, fmt_ci, fmt_p, num, page, parts, short, table
from airlock.store import EventRecord, RunRecord, VersionRecord, get_store

__all__ = ["Evidence", "gather", "model_card", "model_card_for"]

#: a CI wider than this (relative to the value when the value exceeds 1) is a limitation
WIDE_CI = 0.1
MAX_LIMITATIONS = 25  # per kind; the rest are counted
FORMATS = ("md", "html")


# -- the card as plain blocks -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Para:
    text: str


@dataclass(frozen=True, slots=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True, slots=True)
class Fields:
    pairs: list[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class Table:
    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""


Block = Para | Bullets | Fields | Table


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the store holds about one model version."""

    version: VersionRecord
    run: RunRecord | None
    run_missing: bool
    evaluation: dict[str, Any] | None
    evaluation_meta: dict[str, Any] | None
    evaluation_count: int
    decisions: list[dict[str, Any]]
    overrides: list[EventRecord]
    alias_events: list[EventRecord]


def _when(ms: Any) -> str:
    if not isinstance(ms, int):
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ci_text(m: Any) -> str:
    value, lo, hi = parts(m)
    return fmt(value) if lo is None and hi is None else f"{fmt(value)} {fmt_ci(m)}"


def _involves(event: EventRecord, version: int) -> bool:
    return version in (event.payload.get("from"), event.payload.get("to"),
                       event.payload.get("version"))


# -- gathering ----------------------------------------------------------------------------
def gather(ref: str) -> Evidence:
    """Read the version and all its evidence; NotFound for an unknown model or version."""
    version = resolve(ref)
    store = get_store()
    run, run_missing = None, False
    if version.run_id:
        try:
            run = store.runs.get(version.run_id)
        except NotFound:
            run_missing = True
    events = store.events
    metas = store.evaluations.list_for(version.name, version.version)
    newest = metas[-1] if metas else None
    subject = f"models/{version.name}"
    return Evidence(
        version=version, run=run, run_missing=run_missing,
        evaluation=store.evaluations.get(newest["id"]) if newest else None,
        evaluation_meta=newest, evaluation_count=len(metas),
        decisions=store.evaluations.decisions(version.name, version.version),
        overrides=[e for e in events.list(subject=subject, action="promotion.override")
                   if _involves(e, version.version)],
        alias_events=[e for e in events.list(subject=subject, action="alias.")
                      if _involves(e, version.version)],
    )


# -- sections -----------------------------------------------------------------------------
def _model_section(ev: Evidence) -> Section:
    v, m = ev.version, ev.version.manifest
    libraries = ", ".join(f"{k} {val}" for k, val in sorted((m.get("libraries") or {}).items()))
    return Section("Model", [Fields([
        ("reference", v.ref), ("flavor", v.flavor), ("model sha256", m.get("sha256") or "—"),
        ("registered", _when(v.created_at)), ("registered by", v.created_by),
        ("aliases", ", ".join(v.aliases) or "none"), ("run", v.run_id or "none recorded"),
        ("python", m.get("python") or "—"), ("libraries", libraries or "—"),
        ("serialization", _serialization(m)),
    ])])


def _serialization(manifest: Mapping[str, Any]) -> str:
    form = (manifest.get("options") or {}).get("format") or "—"
    if not manifest.get("pickle_based"):
        return f"{form} (not pickle-based)"
    return f"{form} (pickle-based, {'marked trusted' if manifest.get('trusted') else 'untrusted'})"


def _use_section(ev: Evidence) -> Section:
    intended = ev.version.manifest.get("intended_use")
    return Section("Description and intended use", [
        Para(ev.version.description or "No description was given at registration."),
        Para(f"Intended use: {intended}" if intended else
             "Intended use: not recorded at registration."),
    ])


def _datasets(ev: Evidence) -> list[dict[str, Any]]:
    """Training-data fingerprints from the manifest and the run's inputs, one per digest."""
    seen: dict[str, dict[str, Any]] = {}
    sources = [(d, "registration") for d in ev.version.manifest.get("datasets") or []]
    sources += [(d, f"run input ({d.get('context') or '—'})")
                for d in (ev.run.inputs if ev.run else [])]
    for d, source in sources:
        key = str(d.get("digest"))
        if key in seen:
            seen[key]["source"] += f", {source}"
        else:
            seen[key] = {**d, "source": source}
    return list(seen.values())


def _data_section(ev: Evidence) -> Section:
    data = _datasets(ev)
    if not data:
        return Section("Training data", [Para(
            "No training data was recorded: pass datasets= at registration or log the "
            "inputs of the run (run.log_input).")])
    blocks: list[Block] = [Table(["dataset", "sha256 digest", "rows", "source", "uri"], [
        [d.get("name") or "—", d.get("digest"), d.get("rows"), d["source"], d.get("uri") or "—"]
        for d in data])]
    for d in data:
        schema = d.get("schema") or {}
        if schema:
            blocks.append(Table(["column", "type"], [[c, t] for c, t in schema.items()],
                                caption=f"Schema of {d.get('name') or d.get('digest')}"))
    return Section("Training data", blocks)


def _run_section(ev: Evidence) -> Section | None:
    if ev.run_missing:
        return Section("Training run", [Para(
            f"Run {ev.version.run_id} is referenced but no longer in the store.")])
    run = ev.run
    if run is None:
        return None
    code = run.code or {}
    blocks: list[Block] = [Fields([
        ("run", run.id), ("experiment", run.experiment), ("name", run.name or "—"),
        ("status", run.status), ("started", _when(run.start_time)), ("user", run.user),
        ("git commit", code.get("git_commit") or "—"),
        ("uncommitted changes", code.get("git_dirty") if "git_dirty" in code else None),
    ])]
    if run.params:
        blocks.append(Table(["param", "value"], [[k, v] for k, v in sorted(run.params.items())],
                            caption="Parameters"))
    if run.metrics:
        blocks.append(Table(["metric", "last value"], sorted(
            [k, v] for k, v in run.metrics.items()), caption="Logged metrics"))
    return Section("Training run", blocks)


def _signature_section(ev: Evidence) -> Section:
    sig = ev.version.manifest.get("signature") or {}
    blocks: list[Block] = []
    inputs = sig.get("inputs") or []
    if inputs:
        blocks.append(Table(["input", "type", "nullable"], [
            [i.get("name"), i.get("type") or "—", i.get("nullable")] for i in inputs]))
    outputs = sig.get("outputs") or []
    if outputs:
        blocks.append(Table(["output", "type"], [[o.get("name"), o.get("type") or "—"]
                                                  for o in outputs]))
    files = ev.version.manifest.get("files") or {}
    blocks.append(Table(["file", "sha256"], [[p, d] for p, d in sorted(files.items())],
                        caption="Files (verified by sha256 before every load)"))
    if not inputs:
        blocks.insert(0, Para("No input signature was recorded."))
    return Section("Signature and files", blocks)


def _evaluation_section(ev: Evidence) -> list[Section]:
    e, meta = ev.evaluation, ev.evaluation_meta or {}
    if e is None:
        v = ev.version
        return [Section("Evaluation", [Para(
            f"No evaluation of {v.ref} has been stored yet: run `airlock eval {v.ref} "
            "--data …` to measure it.")])]
    data, cfg = e.get("dataset") or {}, e.get("config") or {}
    blocks: list[Block] = [Fields([
        ("evaluation", e.get("id")), ("evaluated", _when(meta.get("created_at"))),
        ("dataset", data.get("name") or "—"), ("dataset digest", data.get("digest") or "—"),
        ("rows", data.get("rows")), ("task", e.get("task")), ("target", e.get("target")),
        ("seed", cfg.get("seed")), ("bootstrap resamples", cfg.get("bootstrap")),
        ("confidence", cfg.get("confidence")), ("threshold", cfg.get("threshold")),
    ])]
    if ev.evaluation_count > 1:
        blocks.append(Para(f"{ev.evaluation_count} evaluations of this version are stored; "
                           "this card shows the newest."))
    blocks.append(Table(["metric", "value", "CI"], [
        [name, parts(m)[0], fmt_ci(m)] for name, m in (e.get("overall") or {}).items()]))
    return [Section("Evaluation", blocks), _slice_section(e, _gates(ev)), _fairness_section(e),
            *_baseline_section(e), *_importance_section(e)]


def _gates(ev: Evidence) -> list[SliceGate]:
    """The slice rules of every decision on the card's evaluation, as each decided."""
    eval_id = (ev.evaluation or {}).get("id")
    return [g for d in ev.decisions if d.get("evaluation_id") == eval_id
            for g in slice_gates(d.get("result"), d.get("policy_name"))]


def _support_note(c: Mapping[str, Any], col: str, value: str, gates: list[SliceGate]) -> str:
    state, rules = slice_support(c, col, value, gates)
    if state == "gated":
        return "gated by " + ", ".join(f"rule {g.rule} (min support {g.min_support})"
                                       for g in rules)
    if state == "skipped":
        return "not gated: " + ", ".join(f"rule {g.rule} needs {g.min_support}" for g in rules)
    return "under min support" if state == "reported" else ""


def _slice_section(e: Mapping[str, Any], gates: list[SliceGate]) -> Section:
    slices = e.get("slices") or {}
    if not slices:
        return Section("Slices", [Para("No slice columns were evaluated.")])
    primary = primary_metric(e)
    cells = [c for col in slices.values() for c in col.values()]
    others = [n for n in metric_names(cells) if n != primary]
    head = ["column", "value", "support", f"{primary} [CI]" if primary else "—", *others, "note"]
    rows = [[col, str(value), c.get("support"), _ci_text(c.get(primary)) if primary else "—",
             *(parts(c.get(n))[0] for n in others), _support_note(c, col, str(value), gates)]
            for col, values in slices.items() for value, c in values.items()]
    return Section("Slices", [Table(head, rows)])


def _fairness_section(e: Mapping[str, Any]) -> Section:
    fairness = e.get("fairness") or {}
    if not fairness:
        return Section("Fairness", [Para("No sensitive columns were evaluated.")])
    blocks: list[Block] = []
    for feature, result in fairness.items():
        groups = result.get("by_group") or {}
        names = metric_names(groups.values())
        blocks.append(Table(["group", *names, "support"], [
            [str(g), *(_ci_text(m.get(n)) for n in names), m.get("support")]
            for g, m in groups.items()], caption=f"Groups of {feature}"))
        rows = []
        for name, d in (result.get("disparities") or {}).items():
            if isinstance(d, Mapping) and "passed" in d:  # a rule: figure, CI and verdict
                verdict = "passed" if d.get("passed") else "FAILED"
                ci = fmt_ci(d)
                rows.append([name, d.get("value", d.get("ratio")),
                             verdict if ci == "—" else f"{ci} {verdict}"])
            else:
                rows.append([name, parts(d)[0], fmt_ci(d)])
        if rows:
            blocks.append(Table(["disparity", "value", "CI / rule"], rows,
                                caption=f"Disparities on {feature}"))
    return Section("Fairness", blocks)


def _baseline_section(e: Mapping[str, Any]) -> list[Section]:
    base = e.get("baseline")
    if not base:
        return []
    rows = [[m, d.get("candidate"), d.get("baseline"), d.get("delta"), fmt_ci(d),
             fmt_p(d.get("p_value")),
             "significant regression" if significant_regression(e, m, d) else ""]
            for m, d in (base.get("deltas") or {}).items()]
    ref = (base.get("model") or {}).get("ref") or "—"
    return [Section("Baseline comparison", [
        Para(f"Compared with {ref} on the same rows (paired bootstrap)."),
        Table(["metric", "candidate", "baseline", "delta", "CI", "p-value", "note"], rows)])]


def _importance_section(e: Mapping[str, Any]) -> list[Section]:
    """Permutation importance (and mean |SHAP| when computed), most important first."""
    imp = e.get("importance")
    if not imp:
        return []
    shap = imp.get("shap") or {}
    mean_abs = shap.get("mean_abs") or {}
    rows = [[f.get("rank"), name, f.get("value"), fmt_ci(f), *([mean_abs.get(name)]
                                                               if mean_abs else [])]
            for name, f in (imp.get("features") or {}).items()]
    head = ["rank", "feature", f"drop of {imp.get('metric')}", "CI",
            *(["mean |SHAP|"] if mean_abs else [])]
    note = (f"SHAP: {shap['reason']}" if shap.get("reason") else
            f"SHAP additivity: largest gap {shap.get('additivity_error')}, "
            f"{'additive' if shap.get('additive') else 'NOT additive'}" if shap else "")
    return [Section("Explanations", [
        Para(f"Permutation importance: the drop of {imp.get('metric')} when a column is "
             f"shuffled, mean of {imp.get('repeats')} shuffles (seed {imp.get('seed')})."),
        Table(head, rows), *([Para(note)] if note else [])])]


def _rule_text(rule: Any) -> str:
    if isinstance(rule, Mapping):
        return str(rule.get("text") or rule.get("metric") or rule.get("index") or rule)
    return str(rule)


def _failed_rules(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in result.get("rules") or [] if r.get("passed") is False]


def _gate_section(ev: Evidence) -> Section:
    blocks: list[Block] = []
    if ev.decisions:
        blocks.append(Table(["decided", "policy", "policy sha256", "evaluation", "outcome",
                             "failed rules"], [
            [_when(d.get("created_at")), d.get("policy_name"), d.get("policy_sha256"),
             d.get("evaluation_id"), "passed" if d.get("passed") else "FAILED",
             "; ".join(_rule_text(r) for r in _failed_rules(d.get("result") or {})) or "—"]
            for d in ev.decisions]))
    else:
        blocks.append(Para("No gate decision has been recorded for this version."))
    if ev.overrides:
        blocks.append(Table(["when", "actor", "alias", "reason", "failing rules"], [
            [_when(o.time), o.actor, o.payload.get("alias"), o.payload.get("reason"),
             "; ".join(_rule_text(r) for r in o.payload.get("failing_rules") or []) or "—"]
            for o in ev.overrides], caption="Overrides"))
    else:
        blocks.append(Para("No gate override has been recorded for this version."))
    return Section("Gate decisions and overrides", blocks)


def _alias_section(ev: Evidence) -> Section:
    if not ev.alias_events:
        return Section("Alias history", [Para("No alias has pointed at this version.")])
    return Section("Alias history", [Table(["when", "actor", "action", "alias", "from", "to"], [
        [_when(e.time), e.actor, e.action, e.payload.get("alias"),
         e.payload.get("from"), e.payload.get("to")] for e in ev.alias_events])])


# -- limitations --------------------------------------------------------------------------
def _wide(m: Any) -> float | None:
    """The CI width when it is wide (> WIDE_CI, relative to the value above 1)."""
    value, lo, hi = (num(x) for x in parts(m))
    if lo is None or hi is None:
        return None
    width = hi - lo
    return width if width > WIDE_CI * max(1.0, abs(value or 0.0)) else None


def _wide_list(metrics: Mapping[str, Any]) -> str:
    found = [(n, m) for n, m in metrics.items() if isinstance(m, Mapping) and _wide(m)]
    return ", ".join(f"{n} {fmt_ci(m)}" for n, m in found)


def _capped(items: list[str], what: str) -> list[str]:
    if len(items) <= MAX_LIMITATIONS:
        return items
    return [*items[:MAX_LIMITATIONS], f"… and {len(items) - MAX_LIMITATIONS} more {what}"]


def _slice_limitations(e: Mapping[str, Any], gates: list[SliceGate]) -> list[str]:
    min_support = (e.get("config") or {}).get("min_support")
    under, wide = [], []
    for col, values in (e.get("slices") or {}).items():
        for value, c in values.items():
            note = slice_note(c, col, str(value), gates, min_support)
            if note:  # the support the evaluation flagged or the decisions used
                under.append(f"Slice {col} = {value}: {note}.")
            if c.get("flagged"):
                continue
            if found := _wide_list({k: v for k, v in c.items() if k != "support"}):
                wide.append(f"Slice {col} = {value} ({fmt(c.get('support'))} rows): wide "
                            f"CIs for {found}.")
    return _capped(under, "slices under support") + _capped(wide, "slices with wide CIs")


def _fairness_limitations(e: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for feature, result in (e.get("fairness") or {}).items():
        for group, m in (result.get("by_group") or {}).items():
            if found := _wide_list(m):
                out.append(f"Group {feature} = {group} ({fmt(m.get('support'))} rows): wide "
                           f"CIs for {found}.")
        for name, d in (result.get("disparities") or {}).items():
            if isinstance(d, Mapping) and d.get("passed") is False:
                out.append(f"Four-fifths rule failed on {feature}: the selection-rate ratio "
                           f"{fmt(d.get('value', d.get('ratio')))} is below "
                           f"{short(d.get('bound', 0.8))}.")
            elif isinstance(d, Mapping) and (w := _wide(d)):
                out.append(f"Disparity {name} on {feature} is uncertain: CI {fmt_ci(d)} "
                           f"(width {fmt(w)}).")
    return _capped(out, "fairness findings")


def _gate_limitations(ev: Evidence) -> list[str]:
    out: dict[str, None] = {}
    for d in ev.decisions:
        for r in _failed_rules(d.get("result") or {}):
            if str(r.get("kind") or "").startswith("fair") or r.get("feature"):
                out[f"Fairness rule failed under policy {d.get('policy_name')}: "
                    f"{_rule_text(r)} (value {fmt(r.get('value'))}, bound "
                    f"{fmt(r.get('bound'))})."] = None
    return list(out)


def _limitations_section(ev: Evidence) -> Section:
    e = ev.evaluation
    if e is None:
        return Section("Limitations found", [Para(
            "No evaluation is stored, so no limitation could be measured.")])
    items = [f"Overall {name}: wide CI {fmt_ci(m)}." for name, m in
             (e.get("overall") or {}).items() if _wide(m)]
    items += _slice_limitations(e, _gates(ev)) + _fairness_limitations(e) + _gate_limitations(ev)
    regressed = (e.get("baseline") or {}).get("regressed_slices") or []
    items += [f"Regressed against the baseline: {r.get('metric')} in {r.get('column')} = "
              f"{r.get('value')} (delta {fmt(r.get('delta'))}, p {fmt_p(r.get('p_value'))})."
              for r in regressed]
    if not items:
        return Section("Limitations found", [Para(
            "None found by the automated checks (slice support, CI width > "
            f"{WIDE_CI}, fairness rules, four-fifths rule).")])
    return Section("Limitations found", [Bullets(items)])


def sections(ev: Evidence) -> list[Section]:
    run = _run_section(ev)
    return [_model_section(ev), _use_section(ev), _data_section(ev),
            *([run] if run else []), _signature_section(ev), *_evaluation_section(ev),
            _gate_section(ev), _alias_section(ev), _limitations_section(ev)]


# -- rendering ----------------------------------------------------------------------------
def _md(value: Any) -> str:
    """Text safe in Markdown: no raw HTML (``<`` and ``&`` become entities), no table column
    break, one line, and no heading or quote when it starts a line."""
    text = value if isinstance(value, str) else fmt(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
    text = " ".join(text.splitlines())
    return "\\" + text if text[:1] in ("#", ">") else text


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Para):
        return [_md(block.text), ""]
    if isinstance(block, Bullets):
        return [*(f"- {_md(item)}" for item in block.items), ""]
    if isinstance(block, Fields):
        return [*(f"- **{_md(k)}**: {_md(v)}" for k, v in block.pairs), ""]
    out = [f"*{_md(block.caption)}*", ""] if block.caption else []
    out.append("| " + " | ".join(_md(h) for h in block.headers) + " |")
    out.append("|" + "---|" * len(block.headers))
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in block.rows]
    return [*out, ""]


def to_markdown(title: str, secs: Sequence[Section]) -> str:
    lines = [f"# {_md(title)}", "", "_Generated by airlock from stored evidence._", ""]
    for sec in secs:
        lines += [f"## {_md(sec.title)}", ""]
        for block in sec.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip() + "\n"


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Fields):
        return facts((k, v if isinstance(v, str) else fmt(v)) for k, v in block.pairs)
    caption = f"<h3>{esc(block.caption)}</h3>" if block.caption else ""
    rows = [[c if isinstance(c, str) else fmt(c) for c in row] for row in block.rows]
    classes = ["bad" if any(c in ("FAILED", "significant regression") for c in r)
               else "warn" if any(c == "under min support" or c.startswith("not gated")
                                  for c in r) else "" for r in rows]
    return Html(caption + table(block.headers, rows, row_classes=classes))


def to_html(title: str, secs: Sequence[Section]) -> str:
    body = [f"<h1>{esc(title)}</h1>",
            '<p class="muted">Generated by airlock from stored evidence.</p>']
    for sec in secs:
        body.append(f"<h2>{esc(sec.title)}</h2>")
        body += [_html_block(b) for b in sec.blocks]
    return page(title, body)


def model_card(ref: str, *, format: str = "md") -> str:
    """The model card of the version ``ref`` names, as Markdown (``md``) or HTML."""
    if format not in FORMATS:
        raise UsageError(f"unknown card format {format!r}: use md or html")
    return model_card_for(gather(ref), format)


def model_card_for(ev: Evidence, format: str) -> str:
    """The card of evidence already gathered (an evidence pack writes both formats)."""
    title = f"Model card: {ev.version.ref}"
    secs = sections(ev)
    return to_markdown(title, secs) if format == "md" else to_html(title, secs)
