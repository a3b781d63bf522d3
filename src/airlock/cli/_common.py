"""Shared CLI plumbing: output (tables or JSON only), times, and the error → exit mapping.

Tables and number formatting live in :mod:`._table` (one renderer for every command)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer

from ._table import Col, fmt_time, fmt_value, print_table, terminal_width

__all__ = ["JSON_OPTION", "Col", "console", "fail", "fmt_time", "fmt_value", "print_json",
           "table"]

JSON_OPTION = typer.Option(False, "--json", help="Print JSON only (for scripts).")


def console() -> Any:
    """A rich console for prose lines, as wide as the tables (:func:`terminal_width`)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=terminal_width())


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def table(title: str | None, columns: Sequence[str | Col], rows: Sequence[Sequence[Any]], *,
          reasons: Sequence[str | None] | None = None, reason_header: str = "reason",
          empty: str = "(none)") -> None:
    """Print a table that fits the terminal (see :mod:`._table`): cells are strings or
    numbers (rounded for people), ``reasons[i]`` explains row ``i`` and is never dropped;
    ``empty`` is printed instead of a table without rows."""
    print_table(columns, rows, title=title, reasons=reasons, reason_header=reason_header,
                empty=empty)


def fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit with ``code``."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)
