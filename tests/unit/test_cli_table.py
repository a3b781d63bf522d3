"""The CLI's one table renderer: fits the width, leaves columns out by priority and says so,
never wraps a number or a header, never drops a row's reason; numbers rounded for people."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.cli._table import (
    REASON_MARK,
    Col,
    fmt_number,
    render_table,
    short_id,
    sparkline,
    wrap_text,
)


@pytest.mark.parametrize(("value", "text"), [
    (28.200000000000003, "28.2"), (0.000833333, "8.33e-04"), (85.8759, "85.88"),
    (0.93, "0.93"), (1.0, "1"), (0.0, "0"), (-0.5, "-0.5"), (0.0012345, "0.001234"),
    (999.94, "999.9"), (85875.9, "85,876"), (1234567, "1,234,567"), (12, "12"),
    (1e20, "1.00e+20"), (-3.2e-7, "-3.20e-07"), (float("inf"), "inf"), (float("nan"), "nan"),
    (True, "true"),
])
def test_numbers_are_rounded_by_one_rule(value: float, text: str) -> None:
    assert fmt_number(value) == text


def test_columns_are_left_out_by_priority_and_named() -> None:
    cols = ["id", Col("a", priority=1), Col("bbbbbbbbbb", priority=3), Col("c", priority=2)]
    rows = [["x" * 20, "1", "2" * 30, "3"]]
    lines = render_table(cols, rows, width=40)
    assert lines[0].split() == ["id", "a", "c"]
    assert lines[-1] == "(1 column left out to fit 40 columns: bbbbbbbbbb; --json has them all)" \
        or " ".join(lines[-2:]).startswith("(1 column left out to fit 40 columns: bbbbbbbbbb")
    assert all(len(line) <= 40 for line in lines)


def test_a_narrower_column_left_out_is_taken_back_when_it_fits() -> None:
    cols = ["id", Col("wide", priority=1), Col("n", priority=2)]
    lines = render_table(cols, [["x" * 10, "y" * 40, "7"]], width=30)
    assert lines[0].split() == ["id", "n"]  # "wide" dropped first would not do: it is wider


def test_numbers_and_headers_never_wrap_text_does() -> None:
    cols = ["metric_name", Col("note", wrap=True)]
    lines = render_table(cols, [[123456.789, "a long note " * 6]], width=30)
    assert lines[0].split() == ["metric_name", "note"]
    assert lines[2].split()[0] == "123,457"
    assert all(len(line) <= 30 for line in lines)
    assert " ".join(" ".join(li[13:].split()) for li in lines[2:]) == ("a long note " * 6).strip()


def test_reasons_go_beside_the_row_or_under_it_never_dropped() -> None:
    rows = [["range", "FAIL"], ["type", "ok"]]
    beside = render_table(["check", "result"], rows, reasons=["too big", None], width=80)
    assert beside[0].split() == ["check", "result", "reason"]
    assert beside[2].split() == ["range", "FAIL", "too", "big"]
    long = "expected values at most 300; e.g. 301, 302, 303 and many more values " * 2
    under = render_table(["check", "result"], rows, reasons=[long, None], width=40)
    assert under[0].split() == ["check", "result"]
    assert under[3].startswith(REASON_MARK)
    said = " ".join(li.strip().removeprefix("↳").strip() for li in under[3:-1])
    assert said == " ".join(long.split())
    assert all(len(line) <= 40 for line in under)


def test_empty_tables_say_so() -> None:
    assert render_table(["a"], [], title="runs", empty="no runs") == ["runs", "no runs"]


def test_wrap_prefers_spaces_then_separators_and_never_splits_a_number() -> None:
    assert wrap_text("od280/od315_of_diluted_wines", 20) == ["od280/od315_of_", "diluted_wines"]
    assert wrap_text("alcohol=-10.125", 9) == ["alcohol=", "-10.125"]
    assert wrap_text("x1234567890", 6) == ["x", "123456", "7890"]  # a number wider: cut
    assert wrap_text("  indented", 20) == ["  indented"]


def test_ids_and_sparklines() -> None:
    assert short_id("285f82ea66e3430fb71b68e7d5753cdc") == "285f82ea" and short_id(None) == "-"
    assert sparkline([1, 2, 3]) == "▁▅█"
    assert sparkline([5, 5]) == "▁▁"
    assert sparkline([1, float("nan"), 3]) == "▁ █"
    assert len(sparkline(list(range(100)))) == 24


words = st.text(alphabet="abcdefgh-_/.0123456789", min_size=1, max_size=14)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(words, st.floats(allow_nan=False, width=32), words,
                          st.one_of(st.none(), st.lists(words, max_size=8).map(" ".join))),
                min_size=1, max_size=6),
       st.integers(min_value=40, max_value=120))
def test_any_table_fits_and_keeps_every_reason(rows: list[tuple[str, float, str, str | None]],
                                               width: int) -> None:
    cols = [Col("name", wrap=True), Col("value", priority=1), Col("text", wrap=True,
                                                                  priority=2)]
    lines = render_table(cols, [r[:3] for r in rows], reasons=[r[3] for r in rows],
                         width=width)
    assert all(len(line) <= width for line in lines)
    flat = " ".join(lines)
    for r in rows:
        for word in (r[3] or "").split():
            assert word[: width - 8] in flat
