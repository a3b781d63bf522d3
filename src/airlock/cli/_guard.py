"""`airlock guard …`: check texts against a guard policy, evaluate a policy on labelled
data, and red-team it with variants of seed attacks (exit 1 when a gate bound is missed)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import typer

from ._common import JSON_OPTION, Col, console, fail, print_json, table

app = typer.Typer(help="Guardrails for LLM features: PII, prompt injection, output policies.",
                  no_args_is_help=True)

POLICY_OPTION = typer.Option("default", "--policy", "-p",
                             help="'default', 'rules' or a guard policy YAML file.")
STAGE_OPTION = typer.Option("input", "--stage", help="input, output or context.")


MSG_EMPTY = "{where}: the text is empty"
MSG_NOT_TEXT = "{where}: expected an object with a \"text\" or \"prompt\" string"
MSG_NO_TEXTS = "no texts to check"
# a JSON string escapes a byte to at most 6 characters (\u0000): a line longer than this
# cannot hold a text within max_input_bytes, and is read past without being kept
_JSON_OVERHEAD = 6
_LINE_SLACK = 65_536
_CHUNK_ITEMS = 256
_CHUNK_BYTES = 8 << 20


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
    """Check texts; exit 1 when any is blocked, 2 when an input could not be checked (the
    other inputs still are). --json prints one JSON line per input, in input order: its
    index (0-based line), its id, the verdict and latency_ms, or an "error"."""
    from airlock.guard import Guard, default_notice

    if source not in (None, "-"):
        fail(f"unexpected argument {source!r}: use --text, --file or '-' for stdin")
    if stage not in ("input", "output", "context"):
        fail(f"--stage must be input, output or context (got {stage!r})")
    if (text is None) == ((file if file is not None else source) is None):
        fail("give exactly one of --text, --file or '-' (stdin)")
    if text is not None and not text:
        fail(MSG_EMPTY.format(where="--text"))
    guard = Guard(policy)
    notice = default_notice(policy)
    if notice:
        sys.stderr.write(notice + "\n")
    where = file if file is not None else source
    out = _Output(as_json, None if text is not None else
                  "stdin" if where == "-" else Path(str(where)).name)
    chunk: list[Item] = []
    size = 0
    for item in _inputs(text, file if file is not None else source,
                        guard.policy.max_input_bytes):
        if isinstance(item, _Bad):
            _flush(guard, chunk, stage, out)
            chunk, size = [], 0
            out.error(item)
            continue
        chunk.append(item)
        size += len(item[0])
        if len(chunk) >= _CHUNK_ITEMS or size >= _CHUNK_BYTES:
            _flush(guard, chunk, stage, out)
            chunk, size = [], 0
    _flush(guard, chunk, stage, out)
    out.finish()


Item = tuple[str, int, Any]
"""An input: its text, its index (the 0-based line of a JSON-lines input; 0 for --text) and
its ``id`` when the input has one (else None)."""


class _Bad(NamedTuple):
    """An input that could not be checked: its index, id (when known) and the message."""

    at: int
    ident: Any
    message: str


class _Output:
    """Prints verdicts as they come (--json) or collects them for one table; counts."""

    def __init__(self, as_json: bool, name: str | None) -> None:
        self.as_json = as_json
        self.name = name  # the input file's name (None: --text)
        self.rows: list[tuple[Item, Any]] = []
        self.checked = self.blocked = self.bad = 0

    def verdict(self, item: Item, v: Any) -> None:
        self.checked += 1
        self.blocked += not v.allowed
        if self.as_json:
            _write(_line(v.to_dict(), item[1], item[2]))
        else:
            self.rows.append((item, v))

    def error(self, bad: _Bad) -> None:
        self.bad += 1
        sys.stderr.write(f"error: {bad.message}\n")
        if self.as_json:
            _write({**_head(bad.at, bad.ident), "error": bad.message})

    def finish(self) -> None:
        if not self.as_json and self.rows:
            _print([i for i, _ in self.rows], [v for _, v in self.rows])
        if self.bad:
            raise typer.Exit(2)  # each bad input had its one line
        if not self.checked:
            fail(MSG_NO_TEXTS)
        if self.blocked:
            raise typer.Exit(1)


def _write(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _flush(guard: Any, chunk: list[Item], stage: str, out: _Output) -> None:
    """Check a chunk in one batch; when an input is refused (over max_input_bytes), check
    the chunk one by one so only that input becomes an error line."""
    from airlock.errors import InvalidInput

    if not chunk:
        return
    try:
        verdicts = guard.check_batch([t for t, _, _ in chunk], stage)
    except InvalidInput:
        for item in chunk:
            try:
                v = guard.check(item[0], stage)
            except InvalidInput as exc:
                where = "--text" if out.name is None else f"{out.name} line {item[1] + 1}"
                out.error(_Bad(item[1], item[2], f"{where}: {exc}"))
            else:
                out.verdict(item, v)
        return
    for item, v in zip(chunk, verdicts, strict=True):
        out.verdict(item, v)


def _inputs(text: str | None, file: str | None, max_bytes: int) -> Iterator[Item | _Bad]:
    if text is not None:
        yield (text, 0, None)
        return
    from airlock._files import stream_jsonl

    assert file is not None
    max_line = max_bytes * _JSON_OVERHEAD + _LINE_SLACK
    lines = (stream_jsonl(sys.stdin.buffer, "stdin", max_line_bytes=max_line,
                          limit_name="max_input_bytes") if file == "-" else
             stream_jsonl(file, Path(file).name, max_line_bytes=max_line,
                          limit_name="max_input_bytes"))
    for line in lines:
        index = line.number - 1
        row = line.value
        ident = row.get("id") if isinstance(row, dict) else None
        ident = ident if isinstance(ident, str | int) and not isinstance(ident, bool) else None
        if line.error is not None:
            yield _Bad(index, None, line.error)
            continue
        value = row.get("text", row.get("prompt")) if isinstance(row, dict) else None
        if not isinstance(value, str):
            yield _Bad(index, ident, MSG_NOT_TEXT.format(where=line.where))
        elif not value:
            yield _Bad(index, ident, MSG_EMPTY.format(where=line.where))
        else:
            yield (value, index, ident)


def _head(index: int, ident: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index}
    if ident is not None:
        out["id"] = ident
    return out


def _line(v: dict[str, Any], index: int, ident: Any) -> dict[str, Any]:
    return {**_head(index, ident), "allowed": v["allowed"], "action": v["action"],
            "findings": [{k: f[k] for k in ("type", "start", "end", "score", "detector")}
                         for f in v["findings"]],
            "redacted": v["redacted"], "message": v["message"], "stage": v["stage"],
            "latency_ms": v["latency_ms"]}


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

    if stage not in ("input", "output", "context"):
        fail(f"--stage must be input, output or context (got {stage!r})")
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


@app.command("redteam")
def redteam_command(
    policy: str = POLICY_OPTION,
    seeds: Path = typer.Option(..., "--seeds", help="Seed attacks: JSON lines with \"text\"."),
    transforms: str | None = typer.Option(
        None, "--transforms",
        help="Comma-separated: leet, spacing, homoglyph, base64, translation, "
             "paraphrase-template, payload-split (default: all)."),
    variants: int = typer.Option(3, "--variants", min=1, help="Variants per seed and "
                                                              "transform."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the variants."),
    stage: str = STAGE_OPTION,
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report here."),
    min_recall: float | None = typer.Option(None, "--min-recall", min=0.0, max=1.0,
                                            help="Exit 1 when a transform's recall is "
                                                 "below."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Variants of seed attacks per transform through the policy: recall per transform
    (Wilson 95% CI) and the variants that got through."""
    from airlock.guard import redteam

    if stage not in ("input", "output", "context"):
        fail(f"--stage must be input, output or context (got {stage!r})")
    names = None if transforms is None else [t.strip() for t in transforms.split(",")
                                             if t.strip()]
    rt = redteam(policy, seeds, transforms=names, variants=variants, seed=seed,
                 stage=stage)  # type: ignore[arg-type]
    if report is not None:
        rt.render_html(report)
    missed = rt.below(min_recall) if min_recall is not None else []
    if as_json:
        print_json({**rt.to_dict(), "min_recall": min_recall, "passed": not missed,
                    "below": missed})
    else:
        _print_redteam(rt, report)
        for line in missed:
            console().print(f"[bold red]gate missed[/]: {line}")
    if missed:
        raise typer.Exit(1)


def _rate_cell(r: dict[str, Any]) -> str:
    if r.get("recall") is None:
        return "-"
    return f"{r['recall']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def _print_redteam(rt: Any, report: Path | None) -> None:
    console().print(f"[bold]{rt.policy}[/]: {rt.seeds} seeds, {rt.variants} variants each "
                    f"per transform, seed {rt.seed}, stage {rt.stage}")
    rows = [["(seeds as written)", rt.original["variants"], rt.original["caught"],
             _rate_cell(rt.original)]]
    rows += [[r["transform"], r["variants"], r["caught"], _rate_cell(r)]
             for r in rt.per_transform]
    rows.append(["all transforms", rt.overall["variants"], rt.overall["caught"],
                 _rate_cell(rt.overall)])
    table("recall per transform", ["transform", "variants", "caught",
                                   "recall [95% CI]"], rows)
    shown = rt.missed[:10]
    if shown:
        table(f"got through: first {len(shown)} of {len(rt.missed)}",
              ["seed", "transform", Col("variant", wrap=True, min_width=30)],
              [[m["seed"], m["transform"], m["text"]] for m in shown])
    if report is not None:
        console().print(f"report written to {report}")


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
