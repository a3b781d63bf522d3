"""`airlock contract …`: infer, validate and diff data contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, print_json, table
from ._table import name_col

app = typer.Typer(help="Data contracts: infer, validate, diff.", no_args_is_help=True)


@app.command("infer")
def infer(
    data: str = typer.Argument(..., help="CSV, Parquet (file, folder or glob) or JSON lines."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the YAML here."),
    name: str | None = typer.Option(None, "--name", help="Contract name (default: file stem)."),
    keep_index: bool = typer.Option(False, "--keep-index",
                                    help="Keep the index columns pandas wrote to the file."),
) -> None:
    """Write a starting contract: types, nulls, ranges, categories, uniqueness, PII guesses."""
    from airlock._files import write_atomic
    from airlock.contracts import Contract

    text = Contract.infer(data, name=name, keep_index=keep_index).to_yaml()
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        write_atomic(output, text)
        console().print(f"contract written to {output}")


@app.command("validate")
def validate(
    contract: Path = typer.Argument(..., help="The contract YAML."),
    data: str = typer.Argument(..., help="A file, folder or glob, or a SQLAlchemy URL."),
    sql_table: str | None = typer.Option(None, "--table", help="With a database URL."),
    sql_query: str | None = typer.Option(None, "--query", help="With a database URL."),
    max_examples: int = typer.Option(5, "--max-examples", min=0),
    run: str | None = typer.Option(None, "--run", help="Link the result to this run id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate data against a contract; exit 1 when a check of severity error fails."""
    from airlock.contracts import Contract

    result = Contract.from_yaml(contract).validate(
        data, max_examples=max_examples, run=run, table=sql_table, query=sql_query)
    if as_json:
        print_json(result.to_dict())
    else:
        _print(result.to_dict())
    if not result.passed:
        raise typer.Exit(1)


# checks of the whole table: failing_rows is 1 when they failed, not a count of rows
_TABLE_CHECKS = frozenset({"rows", "psi", "leakage", "freshness", "column_present"})


def _print(out: dict[str, Any]) -> None:
    """The verdict, then a table of every failing check with its reason (under the row when
    it does not fit beside it: wrapped, never cut) and of the PSI checks that passed, with
    their value: nothing the JSON says fails is shown without why."""
    from rich.markup import escape

    failed = [ch for ch in out["checks"] if not ch["passed"]]
    verdict = "PASSED" if out["passed"] else "FAILED"
    console().print(f"[bold]{escape(out['contract'])}[/]: {verdict} — {out['rows']:,} rows, "
                    f"{len(out['checks'])} checks, {len(failed)} failing, "
                    f"{out['seconds']:.2f} s")
    shown = failed + [ch for ch in out["checks"]
                      if ch["passed"] and ch["name"] == "psi" and ch.get("detail")]
    if not shown:
        return
    table(None, ["result", "check", name_col("column"), "rows", Col("share", priority=1)],
          [[_mark(ch), ch["name"], ch.get("column") or "-", *_rows(ch)] for ch in shown],
          reasons=[_reason(ch) for ch in shown])


def _mark(ch: dict[str, Any]) -> str:
    if ch["passed"]:
        return "ok"
    return "WARN" if ch["severity"] == "warn" else "FAIL"


def _rows(ch: dict[str, Any]) -> list[Any]:
    """Failing rows and their share; ``-`` for checks of the whole table."""
    if ch["passed"] or not ch["failing_rows"] or ch["name"] in _TABLE_CHECKS:
        return ["-", "-"]
    return [ch["failing_rows"], _share(ch["failing_fraction"])]


def _reason(ch: dict[str, Any]) -> str:
    line = ch.get("detail") or ("passed" if ch["passed"] else "failed")
    if ch["examples"]:
        shown = [_short(repr(e)) for e in ch["examples"][:3]]
        more = " …" if len(ch["examples"]) > 3 else ""
        line += f"; e.g. {', '.join(shown)}{more}"
    return line


def _share(fraction: float) -> str:
    if 0 < fraction < 0.0001:
        return "<0.01%"
    return f"{fraction:.2%}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@app.command("diff")
def diff(
    old: Path = typer.Argument(..., help="The contract consumers rely on."),
    new: Path = typer.Argument(..., help="The proposed contract."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Which changes break consumers and which are compatible; exit 1 on a breaking one."""
    from airlock.contracts import Contract

    result = Contract.from_yaml(old).diff(Contract.from_yaml(new))
    out = result.to_dict()
    if as_json:
        print_json(out)
    else:
        changes = out.get("changes", [])
        table(None, ["change", name_col("column"), "field", Col("old", wrap=True),
                     Col("new", wrap=True), "breaking"],
              [[c.get("kind"), c.get("column") or "-", c.get("field") or "-", c.get("old"),
                c.get("new"), "yes" if c.get("breaking") else "no"] for c in changes],
              reasons=[c.get("why") for c in changes], reason_header="why",
              empty="no change")
        console().print("breaking changes found" if result.breaking else
                        "compatible: no change breaks consumers")
    if result.breaking:
        raise typer.Exit(1)
