"""Reading JSON-lines files (prompt sets, labelled data, LLM cases) with errors that name the
file and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airlock.errors import InvalidInput, UsageError, file_not_found

__all__ = ["parse_jsonl", "read_jsonl"]


def parse_jsonl(lines: list[str], name: str) -> list[tuple[Any, str]]:
    """Each non-blank line's JSON value with where it came from (``name line N``)."""
    out: list[tuple[Any, str]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), f"{name} line {i}"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} line {i}: not JSON ({exc.msg})") from None
    return out


def read_jsonl(path: str | Path, what: str) -> list[tuple[Any, str]]:
    """:func:`parse_jsonl` of a file; ``what`` names it in errors ("cases file", ...)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise file_not_found(path, what) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return parse_jsonl(lines, path.name)
