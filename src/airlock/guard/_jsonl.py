"""JSON lines for guard's data files: the reader is :mod:`airlock._files`' (the one file
reader); named here for the guard modules that import it from ``._jsonl``."""

from __future__ import annotations

from airlock._files import parse_jsonl, read_jsonl

__all__ = ["parse_jsonl", "read_jsonl"]
