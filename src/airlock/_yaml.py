"""Reading a YAML configuration file (or an already-parsed mapping) with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airlock.errors import NotFound, UsageError

__all__ = ["read_mapping"]


def read_mapping(source: str | Path | dict[str, Any], what: str,
                 expected: str) -> tuple[dict[str, Any], str]:
    """The mapping in ``source`` and a label for messages (the file name, or ``what``).

    A missing file is NotFound; unreadable text, invalid YAML (with its line) or a document
    that is not a mapping (``expected`` says what it should hold) is a UsageError."""
    import yaml

    if isinstance(source, dict):
        return source, what
    path = Path(source)
    label = str(path)
    if not path.exists():
        raise NotFound(f"{what} file {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{label}: not valid YAML{at}: "
                         f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{label}: expected a mapping with {expected}, got "
                         f"{type(doc).__name__}")
    return doc, label
