"""Contract diff: each rule both ways — what admits new data breaks consumers, what only
narrows is compatible."""

from __future__ import annotations

from typing import Any

import pytest

from airlock.contracts._diff import Change, diff_contracts
from airlock.contracts._model import (
    ColumnSpec,
    ContractSpec,
    Distribution,
    Expression,
    Freshness,
    Leakage,
    RowBounds,
    TableSpec,
)


def _spec(columns: dict[str, ColumnSpec] | None = None, **table: Any) -> ContractSpec:
    return ContractSpec(name="c", columns=columns or {}, table=TableSpec(**table))


def _col(**kw: Any) -> ContractSpec:
    return _spec({"x": ColumnSpec(**{"type": "int", **kw})})


def _only(old: ContractSpec, new: ContractSpec) -> Change:
    changes = diff_contracts(old, new).changes
    assert len(changes) == 1, changes
    return changes[0]


def _both(old: ContractSpec, new: ContractSpec) -> tuple[Change, Change]:
    """(old → new, new → old): the same rule read both ways."""
    return _only(old, new), _only(new, old)


def test_identical_contracts_have_no_changes() -> None:
    spec = _col(min=1, max=2, allowed=[1, 2], unique=True)
    diff = diff_contracts(spec, spec)
    assert diff.changes == []
    assert diff.breaking is False


def test_column_removed_breaks_and_added_is_compatible() -> None:
    removed, added = _both(_col(), _spec())
    assert (removed.kind, removed.column, removed.breaking) == ("column_removed", "x", True)
    assert (added.kind, added.column, added.breaking) == ("column_added", "x", False)


@pytest.mark.parametrize(("old", "new", "breaking"), [
    ("int", "float", True),  # admits fractions
    ("float", "int", False),  # every int is a float
    ("string", "int", True),
    ("int", "string", True),
    ("string", "category", False),
    ("category", "string", True),
    ("date", "datetime", True),
    ("datetime", "date", True),
])
def test_type_changes(old: str, new: str, breaking: bool) -> None:
    change = _only(_spec({"x": ColumnSpec(type=old)}),  # type: ignore[arg-type]
                   _spec({"x": ColumnSpec(type=new)}))  # type: ignore[arg-type]
    assert (change.field, change.old, change.new, change.breaking) == ("type", old, new,
                                                                       breaking)


def test_nullability() -> None:
    widened, narrowed = _both(_col(nullable=False), _col(nullable=True))
    assert (widened.kind, widened.field, widened.breaking) == ("widened", "nullable", True)
    assert (narrowed.kind, narrowed.breaking) == ("narrowed", False)
    more, fewer = _both(_col(max_null_fraction=0.01), _col(max_null_fraction=0.1))
    assert (more.field, more.breaking, fewer.breaking) == ("max_null_fraction", True, False)
    # not nullable → nullable with a maximum share still admits nulls
    assert _only(_col(nullable=False), _col(nullable=True, max_null_fraction=0.0)).breaking \
        is False


def test_allowed_set() -> None:
    grown, shrunk = _both(_col(allowed=["a", "b"]), _col(allowed=["a", "b", "c"]))
    assert (grown.kind, grown.breaking) == ("widened", True)
    assert "c" in grown.why
    assert (shrunk.kind, shrunk.breaking) == ("narrowed", False)
    dropped, added = _both(_col(allowed=["a"]), _col())
    assert (dropped.breaking, added.breaking) == (True, False)
    swapped = _only(_col(allowed=["a", "b"]), _col(allowed=["a", "c"]))
    assert swapped.breaking is True
    assert diff_contracts(_col(allowed=["b", "a"]), _col(allowed=["a", "b"])).changes == []


@pytest.mark.parametrize(("field", "narrow", "wide"), [("min", 1, 0), ("max", 9, 10)])
def test_numeric_range(field: str, narrow: int, wide: int) -> None:
    widened, narrowed = _both(_col(**{field: narrow}), _col(**{field: wide}))
    assert (widened.kind, widened.field, widened.breaking) == ("widened", field, True)
    assert (narrowed.kind, narrowed.breaking) == ("narrowed", False)
    dropped, added = _both(_col(**{field: narrow}), _col())
    assert (dropped.breaking, added.breaking) == (True, False)


def test_date_range() -> None:
    old = _spec({"d": ColumnSpec(type="date", min="2020-01-01", max="2020-12-31")})
    new = _spec({"d": ColumnSpec(type="date", min="2019-06-01", max="2020-12-31")})
    widened, narrowed = _both(old, new)
    assert (widened.field, widened.breaking, narrowed.breaking) == ("min", True, False)


def test_incomparable_bounds_break() -> None:
    old = _spec({"d": ColumnSpec(type="date", min="2020-01-01")})
    new = _spec({"d": ColumnSpec(type="date", min="last tuesday")})
    assert _only(old, new).breaking is True


def test_length_bounds() -> None:
    short, long = (_spec({"s": ColumnSpec(type="string", max_length=n)}) for n in (5, 10))
    widened, narrowed = _both(short, long)
    assert (widened.field, widened.breaking, narrowed.breaking) == ("max_length", True, False)
    hi, lo = (_spec({"s": ColumnSpec(type="string", min_length=n)}) for n in (3, 1))
    widened, narrowed = _both(hi, lo)
    assert (widened.field, widened.breaking, narrowed.breaking) == ("min_length", True, False)


def test_unique() -> None:
    dropped, added = _both(_col(unique=True), _col(unique=False))
    assert (dropped.kind, dropped.breaking) == ("widened", True)
    assert (added.kind, added.breaking) == ("narrowed", False)


def test_regex() -> None:
    def text(regex: str | None) -> ContractSpec:
        return _spec({"s": ColumnSpec(type="string", regex=regex)})

    dropped, added = _both(text("^a"), text(None))
    assert (dropped.kind, dropped.breaking) == ("widened", True)
    assert (added.kind, added.breaking) == ("narrowed", False)
    changed, back = _both(text("^a"), text("^ab"))  # even a narrower pattern: not provable
    assert (changed.kind, changed.breaking, back.breaking) == ("changed", True, True)


def test_pii_tag() -> None:
    def text(pii: str) -> ContractSpec:
        return _spec({"s": ColumnSpec(type="string", pii=pii)})  # type: ignore[arg-type]

    tagged, untagged = _both(text("none"), text("email"))
    assert (tagged.field, tagged.breaking, untagged.breaking) == ("pii", True, False)
    assert _only(text("email"), text("phone")).breaking is True


def test_severity_and_description() -> None:
    loosened, tightened = _both(_col(severity="error"), _col(severity="warn"))
    assert (loosened.field, loosened.breaking, tightened.breaking) == ("severity", True, False)
    a, b = _both(_col(description="a"), _col(description="b"))
    assert (a.breaking, b.breaking) == (False, False)
    meta = diff_contracts(ContractSpec(name="a", version=1, columns={}),
                          ContractSpec(name="b", version=2, columns={}))
    assert {c.field for c in meta.changes} == {"name", "version"}
    assert meta.breaking is False


def test_table_rows() -> None:
    widened, narrowed = _both(_spec(rows=RowBounds(min=10, max=100)),
                              _spec(rows=RowBounds(min=10, max=1000)))
    assert (widened.field, widened.breaking, narrowed.breaking) == ("table.rows.max", True,
                                                                    False)
    dropped, added = _both(_spec(rows=RowBounds(min=10)), _spec())
    assert (dropped.field, dropped.breaking, added.breaking) == ("table.rows.min", True, False)


def test_table_unique_keys() -> None:
    dropped, added = _both(_spec(unique=[["a", "b"]]), _spec())
    assert (dropped.field, dropped.breaking, added.breaking) == ("table.unique", True, False)


def test_table_freshness() -> None:
    day, week = (_spec(freshness=Freshness(column="t", max_age=a)) for a in ("24h", "7d"))
    loosened, tightened = _both(day, week)
    assert (loosened.breaking, tightened.breaking) == (True, False)
    dropped, added = _both(day, _spec())
    assert (dropped.breaking, added.breaking) == (True, False)
    other = _spec(freshness=Freshness(column="u", max_age="1h"))
    assert _only(day, other).breaking is True


def test_table_expressions() -> None:
    strict = _spec(expressions=[Expression(name="e", sql="a > 0")])
    warn = _spec(expressions=[Expression(name="e", sql="a > 0", severity="warn")])
    loosened, tightened = _both(strict, warn)
    assert (loosened.breaking, tightened.breaking) == (True, False)
    dropped, added = _both(strict, _spec())
    assert (dropped.breaking, added.breaking) == (True, False)
    rewritten = _spec(expressions=[Expression(name="e", sql="a > 1")])
    assert _only(strict, rewritten).breaking is True


def test_table_distribution_and_leakage() -> None:
    tight = _spec(distribution=Distribution(reference="r.parquet", max_psi={"a": 0.1}))
    loose = _spec(distribution=Distribution(reference="r.parquet", max_psi={"a": 0.3}))
    loosened, tightened = _both(tight, loose)
    assert (loosened.breaking, tightened.breaking) == (True, False)
    fewer = _spec(distribution=Distribution(reference="r.parquet", max_psi={}))
    assert _only(tight, fewer).breaking is True
    strict, lax = (_spec(target="y", leakage=Leakage(max_auc=a)) for a in (0.9, 0.99))
    loosened, tightened = _both(strict, lax)
    assert (loosened.field, loosened.breaking, tightened.breaking) == ("table.leakage", True,
                                                                       False)
    target = _only(_spec(target="y"), _spec(target="z"))
    assert (target.field, target.breaking) == ("table.target", True)


def test_contract_diff_summary_and_dict() -> None:
    old = _spec({"a": ColumnSpec(type="int"), "b": ColumnSpec(type="int", nullable=False)})
    new = _spec({"a": ColumnSpec(type="int"), "b": ColumnSpec(type="int"),
                 "c": ColumnSpec(type="string")})
    diff = diff_contracts(old, new)
    assert diff.breaking is True
    assert [c.column for c in diff.breaking_changes] == ["b"]
    assert [c.column for c in diff.compatible_changes] == ["c"]
    data = diff.to_dict()
    assert data["breaking"] is True
    assert data["changes"][0] == {"kind": "widened", "column": "b", "field": "nullable",
                                  "old": False, "new": True, "breaking": True,
                                  "why": "consumers may now see (more) nulls"}
    assert diff_contracts(old, old).to_dict() == {"old": "c", "new": "c", "breaking": False,
                                                  "changes": []}
