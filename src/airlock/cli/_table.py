"""The one text-table renderer of the CLI, and how numbers are rounded for people.

    print_table(["column", Col("p-value", priority=2), Col("note", wrap=True)], rows,
                title="drift", reasons=[None, "too few rows", None])

* **Width.** A table fits :func:`terminal_width` columns: ``COLUMNS`` when set, else the
  terminal's width, else 80 (piped output).
* **Columns by priority.** ``Col.priority`` 0 is always shown; when the table does not fit,
  the column with the highest priority number is left out first (the rightmost of equals),
  and a line under the table says how many columns were left out and which (``--json`` has
  them all). Only ``Col(wrap=True)`` cells (free text) wrap inside their column; numbers,
  ids and headers never wrap, so a value is never cut into misreadable pieces.
* **Reasons.** ``reasons[i]`` (a failure's detail, why a value is missing) is shown in a
  last ``reason`` column when it fits, else on its own lines under row ``i``, wrapped to the
  width: never cut, never dropped.
* **Numbers** (:func:`fmt_number`): integers with thousands separators (``12,345``);
  floats to 4 significant digits (``28.2``, ``85.88``, ``0.9312``); from 1,000 on, a float is
  rounded to a whole number with separators (``85,876``); below 0.001 (and from 10^15 on)
  in scientific notation with 3 significant digits (``8.33e-04``); ``nan``, ``inf``. Ids are
  cut to 8 characters as git does (:func:`short_id`). ``--json`` keeps full precision.
"""

from __future__ import annotations

import itertools
import math
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from rich.cells import cell_len

__all__ = ["Col", "fmt_number", "fmt_time", "fmt_value", "name_col", "print_table",
           "render_table", "short_id", "sparkline", "terminal_width", "wrap_text"]

SEP = "  "
RULE = "─"
REASON_MARK = "  ↳ "
WRAP_MIN = 12  # a wrapping column's least width by default (or its header's)
NAME_WIDTH = 20  # least width of a wrapping column of names (columns, rules, experiments)
ID_CHARS = 8
_SOFT = frozenset("-_/,:=")  # a long word may break after these
_NUMERIC = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:e[-+]?\d+)?%?|[-+]?inf|nan|-")


@dataclass(frozen=True)
class Col:
    """A column: its header, how readily it is left out, whether its text may wrap."""

    name: str
    priority: int = 0
    """0: always shown; otherwise the highest number is left out first when too wide."""
    wrap: bool = False
    """Free text that may wrap inside the column (never set it for numbers or ids)."""
    align: Literal["left", "right"] | None = None
    """None: right-aligned when every cell is a number, else left."""
    min_width: int = WRAP_MIN
    """A wrapping column is not made narrower than this (nor than its header)."""


def name_col(header: str, priority: int = 0) -> Col:
    """A column of names (columns, rules, experiments): wraps, but not below 20 cells."""
    return Col(header, priority=priority, wrap=True, min_width=NAME_WIDTH)


def terminal_width() -> int:
    """``COLUMNS`` when set, else the terminal's width, else 80 (piped output)."""
    return max(20, shutil.get_terminal_size((80, 24)).columns)


def fmt_number(x: float | int) -> str:
    """A number rounded for people (the rule is in the module docstring)."""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return f"{x:,}"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    size = abs(x)
    if size == 0:
        return "0"
    if size < 1e-3 or size >= 1e15:
        return f"{x:.2e}"
    if size >= 1000:
        return f"{x:,.0f}"
    text = f"{x:.4g}"
    if "e" in text:  # .4g switches to exponent form from 1e4 on; handled above
        text = f"{x:.4f}"
    return text


def fmt_value(v: Any) -> str:
    """One table cell: numbers by :func:`fmt_number`, None as ``-``, text as it is."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return fmt_number(v)
    return str(v)


def fmt_time(ms: int | None, *, seconds: bool = True) -> str:
    """A store timestamp (ms since the epoch) in UTC, ``-`` when there is none."""
    if ms is None:
        return "-"
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def short_id(value: str | None) -> str:
    """An id cut to 8 characters, as git abbreviates commits (``runs show`` takes prefixes)."""
    return "-" if not value else value[:ID_CHARS]


def wrap_text(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` cells: at spaces where it can, then after a
    ``-_/,:=`` inside a word that is wider than the line, else inside the word (never inside
    a number that fits a line); line breaks
    are kept, and so is a line that fits as it is (leading spaces included)."""
    width = max(1, width)
    out: list[str] = []
    for para in str(text).splitlines() or [""]:
        if cell_len(para) <= width:
            out.append(para)
            continue
        line = ""
        for word in para.split(" "):
            candidate = f"{line} {word}" if line else word
            if cell_len(candidate) <= width:
                line = candidate
                continue
            if line:
                out.append(line)
            while cell_len(word) > width:
                cut = _cut(word, width)
                out.append(word[:cut])
                word = word[cut:]
            line = word
        out.append(line)
    return out


def _cut(word: str, width: int) -> int:
    """Where to break ``word`` so the first piece fits ``width`` cells: after the last
    ``-_/,:=`` that does not start a number, else before the number the cut would split."""
    n, fits = 0, len(word)
    for i, ch in enumerate(word):
        n += cell_len(ch)
        if n > width:
            fits = max(1, i)
            break
    soft = max((i + 1 for i in range(fits) if word[i] in _SOFT and not (
        i + 1 < len(word) and word[i + 1].isdigit())), default=0)
    if soft >= fits // 2:
        return soft
    start = fits  # a hard cut: never inside a number (nor between it and its sign)
    if start < len(word) and (word[start].isdigit() or word[start] in ".,"):
        while start > 0 and (word[start - 1].isdigit() or word[start - 1] in ".,"):
            start -= 1
        if start > 0 and word[start - 1] in "+-":
            start -= 1
    return start if 0 < start < fits else fits


def _pad(text: str, width: int, align: str) -> str:
    gap = " " * max(0, width - cell_len(text))
    return gap + text if align == "right" else text + gap


def render_table(columns: Sequence[str | Col], rows: Sequence[Sequence[Any]], *,
                 title: str | None = None, reasons: Sequence[str | None] | None = None,
                 width: int | None = None, reason_header: str = "reason",
                 empty: str = "(none)") -> list[str]:
    """The table as lines of at most ``width`` cells (default :func:`terminal_width`)."""
    width = width or terminal_width()
    out = [title] if title else []
    if not rows:
        return [*out, empty]
    cols = [c if isinstance(c, Col) else Col(c) for c in columns]
    cells = [[fmt_value(v) for v in row] for row in rows]
    why = [(r or "").strip() for r in (reasons or [])][: len(cells)]
    why += [""] * (len(cells) - len(why))
    natural = [max([cell_len(c.name)] + [max(map(cell_len, row[i].splitlines() or [""]))
                                         for row in cells]) for i, c in enumerate(cols)]
    least = [min(n, max(cell_len(c.name), c.min_width)) if c.wrap else n
             for c, n in zip(cols, natural, strict=True)]
    shown = list(range(len(cols)))

    def needed(keep: list[int], sizes: Sequence[int]) -> int:
        return sum(sizes[i] for i in keep) + len(SEP) * max(0, len(keep) - 1)

    while needed(shown, least) > width:
        droppable = [i for i in shown if cols[i].priority > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (cols[i].priority, i)))
    for i in sorted(set(range(len(cols))) - set(shown), key=lambda i: (cols[i].priority, i)):
        if needed([*shown, i], least) <= width:  # a narrower column left out may still fit
            shown = sorted([*shown, i])
    # the reasons get a column of their own only when every column keeps its natural width
    reason_w = max([cell_len(reason_header)] + [cell_len(r) for r in why])
    inline = any(why) and not any("\n" in r for r in why) and (
        needed(shown, natural) + len(SEP) + reason_w <= width)
    widths = {i: least[i] for i in shown}
    spare = width - needed(shown, least)
    for i in shown:  # the room left goes to the wrapping columns, left to right
        if cols[i].wrap and spare > 0:
            grow = min(spare, natural[i] - widths[i])
            widths[i] += grow
            spare -= grow
    align = {i: cols[i].align or ("right" if all(
        _NUMERIC.fullmatch(row[i].strip()) for row in cells) else "left") for i in shown}

    def line(parts: Sequence[tuple[str, int, str]]) -> str:
        return SEP.join(_pad(t, w, a) for t, w, a in parts).rstrip()

    header = [(cols[i].name, widths[i], align[i]) for i in shown]
    if inline:
        header.append((reason_header, 0, "left"))
    out.append(line(header))
    full = sum(widths.values()) + len(SEP) * (len(shown) - 1) + (
        len(SEP) + reason_w if inline else 0)
    out.append(RULE * min(width, full))
    indent = " " * cell_len(REASON_MARK)
    for row, reason in zip(cells, why, strict=True):
        wrapped = {i: (wrap_text(row[i], widths[i]) if cols[i].wrap
                       else row[i].splitlines() or [""]) for i in shown}
        for k in range(max((len(v) for v in wrapped.values()), default=1)):
            parts = [(wrapped[i][k] if k < len(wrapped[i]) else "", widths[i], align[i])
                     for i in shown]
            if inline:
                parts.append((reason if k == 0 else "", 0, "left"))
            out.append(line(parts))
        if reason and not inline:
            for k, text in enumerate(wrap_text(reason, width - len(REASON_MARK))):
                out.append((REASON_MARK if k == 0 else indent) + text)
    left_out = [cols[i].name for i in range(len(cols)) if i not in shown]
    if left_out:
        noun = "column" if len(left_out) == 1 else "columns"
        out.extend(wrap_text(f"({len(left_out)} {noun} left out to fit {width} columns: "
                             f"{', '.join(left_out)}; --json has them all)", width))
    return out


SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24


def sparkline(values: list[float], width: int = SPARK_WIDTH) -> str:
    """At most ``width`` bars, low ▁ to high █; more points are averaged per bar; a
    non-finite point shows as a space."""
    if len(values) > width:
        edges = [round(i * len(values) / width) for i in range(width + 1)]
        buckets = [values[a:b] for a, b in itertools.pairwise(edges)]
        values = [sum(v) / len(v) if all(math.isfinite(x) for x in v) else math.nan
                  for v in buckets if v]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    top = len(SPARKS) - 1
    return "".join(" " if not math.isfinite(v) else
                   SPARKS[0 if span == 0 else round((v - lo) / span * top)] for v in values)


def print_table(columns: Sequence[str | Col], rows: Sequence[Sequence[Any]], *,
                title: str | None = None, reasons: Sequence[str | None] | None = None,
                reason_header: str = "reason", empty: str = "(none)") -> None:
    """Print :func:`render_table` to stdout."""
    lines = render_table(columns, rows, title=title, reasons=reasons,
                         reason_header=reason_header, empty=empty)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
