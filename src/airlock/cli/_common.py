"""Shared CLI plumbing: output (tables or JSON only), times, and the error → exit mapping."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import typer

__all__ = ["JSON_OPTION", "console", "fail", "fmt_time", "print_json", "table"]

JSON_OPTION = typer.Option(False, "--json", help="Print JSON only (for scripts).")


def console() -> Any:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal:  # piped: rich's 80-column default would fold every table cell
        out.width = max(out.width, 160)
    return out


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def fmt_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "-" if v is None else str(v)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[fmt_value(v) for v in r])
    console().print(t)


def fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit with ``code``."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)
