"""Compare two contracts: which changes break the consumers of the data, which are compatible.

The rule, read as a consumer of the data: a change is **breaking** when the new contract
admits data the consumer did not have to handle under the old one; it is **compatible** when
it only narrows what may arrive (or changes nothing about the data). In detail:

=====================================  ==========  ============================================
change                                 breaking?   why
=====================================  ==========  ============================================
column removed                         yes         consumers reading it fail
column added                           no          consumers that ignore it are unaffected
type changed                           yes         except the narrowings ``float → int`` (every
                                                   int is a float) and ``string → category``;
                                                   ``int → float`` admits fractions: breaking
nullable false → true, or a larger     yes         consumers may now see (more) nulls
``max_null_fraction``
allowed values grown or dropped        yes         values the consumer may not handle
allowed values shrunk or added         no          only narrows
min lowered / max raised / bound       yes         the range widened
dropped (also min/max_length)
unique true → false                    yes         duplicates may now arrive
regex dropped or changed               yes         a changed pattern cannot be proven narrower
regex added                            no          only narrows
pii none → tag, or tag changed         yes         consumers must now protect the column
severity error → warn                  yes         failing data is no longer blocked
description, observed, name, version   no          metadata
table: row bounds widened, a unique    yes         as for columns; the reverse is compatible
key / freshness / expression /
distribution / leakage check dropped
or loosened, target changed
=====================================  ==========  ============================================

Each change has a ``kind``: ``column_added``, ``column_removed``, ``widened`` (admits more),
``narrowed`` (admits less) or ``changed`` (neither, or not comparable).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from airlock.contracts._model import ColumnSpec, ContractSpec, TableSpec

__all__ = ["Change", "ContractDiff", "diff_contracts"]

# type changes that only narrow what may arrive: (old, new)
COMPATIBLE_TYPE_CHANGES = frozenset({("float", "int"), ("string", "category")})


@dataclass(frozen=True)
class Change:
    kind: str  # column_added | column_removed | widened | narrowed | changed
    column: str | None  # None for table- and contract-level changes
    field: str | None  # e.g. "type", "max", "table.rows.min"; None for added/removed columns
    old: Any
    new: Any
    breaking: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ContractDiff:
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)

    @property
    def breaking(self) -> bool:
        """True when any change breaks consumers."""
        return any(c.breaking for c in self.changes)

    @property
    def breaking_changes(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def compatible_changes(self) -> list[Change]:
        return [c for c in self.changes if not c.breaking]

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "breaking": self.breaking,
                "changes": [c.to_dict() for c in self.changes]}


def diff_contracts(old: ContractSpec, new: ContractSpec) -> ContractDiff:
    """Every difference between ``old`` and ``new``, each marked breaking or compatible."""
    changes: list[Change] = []
    for name in old.columns:
        if name not in new.columns:
            changes.append(Change("column_removed", name, None, old.columns[name].type, None,
                                  True, "consumers reading this column will fail"))
    for name, col in new.columns.items():
        if name not in old.columns:
            changes.append(Change("column_added", name, None, None, col.type, False,
                                  "a new column; consumers that do not read it are unaffected"))
        else:
            changes += _column_changes(name, old.columns[name], col)
    changes += _table_changes(old.table, new.table)
    for attr in ("name", "version", "description"):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            changes.append(Change("changed", None, attr, a, b, False, "metadata only"))
    return ContractDiff(old=old.name, new=new.name, changes=changes)


# -- columns ---------------------------------------------------------------------------------

def _column_changes(name: str, a: ColumnSpec, b: ColumnSpec) -> list[Change]:
    out: list[Change] = []
    if a.type != b.type:
        ok = (a.type, b.type) in COMPATIBLE_TYPE_CHANGES
        out.append(Change("narrowed" if ok else "changed", name, "type", a.type, b.type,
                          not ok, f"every {b.type} value was a valid {a.type}" if ok else
                          f"consumers expecting {a.type} now get {b.type}"))
    out += _nulls(name, a, b)
    out += _allowed(name, a.allowed, b.allowed)
    for fld, low in (("min", True), ("max", False), ("min_length", True),
                     ("max_length", False)):
        out += _bound(name, fld, getattr(a, fld), getattr(b, fld), low=low)
    if a.unique != b.unique:
        out.append(_flag(name, "unique", a.unique, b.unique, "duplicates may now arrive",
                         "values are now unique"))
    if a.regex != b.regex:
        if a.regex is None:
            out.append(Change("narrowed", name, "regex", None, b.regex, False,
                              "a pattern was added: only narrows"))
        else:
            out.append(Change("widened" if b.regex is None else "changed", name, "regex",
                              a.regex, b.regex, True,
                              "the pattern was dropped" if b.regex is None else
                              "a changed pattern may admit values the old one rejected"))
    if a.pii != b.pii:
        grows = b.pii != "none"
        out.append(Change("changed", name, "pii", a.pii, b.pii, grows,
                          f"consumers must now treat the column as {b.pii} PII" if grows else
                          "the column is no longer tagged as PII"))
    if a.severity != b.severity:
        out.append(_flag(name, "severity", a.severity, b.severity,
                         "failing data is no longer blocked, only warned about",
                         "failing data is now blocked", breaking=b.severity == "warn"))
    for meta in ("description", "observed"):
        old, new = getattr(a, meta), getattr(b, meta)
        if old != new:
            out.append(Change("changed", name, meta, _plain(old), _plain(new), False,
                              "metadata only"))
    return out


def _nulls(name: str, a: ColumnSpec, b: ColumnSpec) -> list[Change]:
    """Compare the share of nulls each contract admits (0 when not nullable)."""
    def admitted(c: ColumnSpec) -> float:
        return 0.0 if not c.nullable else (
            1.0 if c.max_null_fraction is None else c.max_null_fraction)

    fld = "nullable" if a.nullable != b.nullable else "max_null_fraction"
    old, new = getattr(a, fld), getattr(b, fld)
    if admitted(a) == admitted(b):
        return [] if old == new else [Change("changed", name, fld, old, new, False,
                                             "the same share of nulls is admitted")]
    more = admitted(b) > admitted(a)
    return [Change("widened" if more else "narrowed", name, fld, old, new, more,
                   "consumers may now see (more) nulls" if more else "fewer nulls are admitted")]


def _allowed(name: str, a: list[Any] | None, b: list[Any] | None) -> list[Change]:
    if a == b or (a is not None and b is not None and _key_set(a) == _key_set(b)):
        return []
    if b is None:
        return [Change("widened", name, "allowed", a, None, True,
                       "the allowed set was dropped: any value may arrive")]
    if a is None:
        return [Change("narrowed", name, "allowed", None, b, False,
                       "an allowed set was added: only narrows")]
    added = sorted(_key_set(b) - _key_set(a))
    if added:
        return [Change("widened", name, "allowed", a, b, True,
                       f"new values consumers may not handle: {', '.join(added)}")]
    return [Change("narrowed", name, "allowed", a, b, False, "values were only removed")]


def _key_set(values: list[Any]) -> set[str]:
    return {repr(v) if not isinstance(v, str) else v for v in values}


def _bound(name: str | None, fld: str, a: Any, b: Any, *, low: bool) -> list[Change]:
    """A lower (``low``) or upper bound: lowering a minimum or raising a maximum widens."""
    if a == b:
        return []
    if b is None:
        return [Change("widened", name, fld, a, None, True, f"the {fld} bound was dropped")]
    if a is None:
        return [Change("narrowed", name, fld, None, b, False, f"a {fld} bound was added")]
    order = _compare(a, b)
    if order is None:
        return [Change("changed", name, fld, a, b, True,
                       f"the {fld} bounds cannot be compared ({a!r} vs {b!r})")]
    wider = order > 0 if low else order < 0
    return [Change("widened" if wider else "narrowed", name, fld, a, b, wider,
                   f"the range widened: {fld} {a} → {b}" if wider else
                   f"the range narrowed: {fld} {a} → {b}")]


def _compare(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 comparing numbers, or ISO dates/datetimes; None when not comparable."""
    x, y = _orderable(a), _orderable(b)
    if x is None or y is None or type(x) is not type(y):
        return None
    return (x > y) - (x < y)  # type: ignore[operator]


def _orderable(v: Any) -> float | datetime | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            d = datetime.fromisoformat(v)
        except ValueError:
            try:
                d = datetime.combine(date.fromisoformat(v), datetime.min.time())
            except ValueError:
                return None
        return d.replace(tzinfo=None)
    return None


def _flag(name: str | None, fld: str, old: Any, new: Any, widened_why: str,
          narrowed_why: str, *, breaking: bool | None = None) -> Change:
    """A true/false rule (``unique``) or a strictness switch: dropping it widens."""
    wider = (old is True and new is False) if breaking is None else breaking
    return Change("widened" if wider else "narrowed", name, fld, old, new, wider,
                  widened_why if wider else narrowed_why)


# -- table -----------------------------------------------------------------------------------

def _table_changes(a: TableSpec, b: TableSpec) -> list[Change]:
    out: list[Change] = []
    ra, rb = a.rows, b.rows
    for fld, low in (("min", True), ("max", False)):
        out += _bound(None, f"table.rows.{fld}", getattr(ra, fld, None), getattr(rb, fld, None),
                      low=low)
    ka, kb = {tuple(k) for k in a.unique}, {tuple(k) for k in b.unique}
    for key in sorted(ka - kb):
        out.append(Change("widened", None, "table.unique", list(key), None, True,
                          f"key ({', '.join(key)}) is no longer unique: duplicates may arrive"))
    for key in sorted(kb - ka):
        out.append(Change("narrowed", None, "table.unique", None, list(key), False,
                          f"key ({', '.join(key)}) must now be unique"))
    out += _freshness(a, b)
    ea, eb = {e.name: e for e in a.expressions}, {e.name: e for e in b.expressions}
    for n in sorted(ea.keys() | eb.keys()):
        x, y = ea.get(n), eb.get(n)
        if x != y:
            tighter = x is not None and y is not None and x.sql == y.sql and \
                y.severity == "error"
            out.append(_rule(f"table.expressions.{n}", x, y, loosened=not tighter))
    out += _distribution(a, b)
    if a.target != b.target:
        out.append(Change("changed", None, "table.target", a.target, b.target, True,
                          "the target column changed"))
    if a.leakage != b.leakage:
        out.append(_rule("table.leakage", a.leakage, b.leakage,
                         loosened=a.leakage is not None and b.leakage is not None
                         and (b.leakage.max_auc > a.leakage.max_auc
                              or b.leakage.severity == "warn" != a.leakage.severity)))
    return out


def _rule(fld: str, a: Any, b: Any, *, loosened: bool = True) -> Change:
    """A table rule added (compatible), dropped (breaking) or changed (breaking unless it is
    known to have only tightened)."""
    if a is None:
        return Change("narrowed", None, fld, None, _plain(b), False, "a check was added")
    if b is None:
        return Change("widened", None, fld, _plain(a), None, True, "a check was dropped")
    return Change("changed" if loosened else "narrowed", None, fld, _plain(a), _plain(b),
                  loosened, "the check was loosened or changed in a way that may admit more "
                  "data" if loosened else "the check only tightened")


def _plain(v: Any) -> Any:
    return v.model_dump(exclude_defaults=True) if hasattr(v, "model_dump") else v


def _freshness(a: TableSpec, b: TableSpec) -> list[Change]:
    fa, fb = a.freshness, b.freshness
    if fa == fb:
        return []
    tighter = (fa is not None and fb is not None and fa.column == fb.column
               and fa.now == fb.now and fb.max_age_seconds <= fa.max_age_seconds
               and not (fb.severity == "warn" != fa.severity))
    return [_rule("table.freshness", fa, fb, loosened=not tighter)]


def _distribution(a: TableSpec, b: TableSpec) -> list[Change]:
    da, db = a.distribution, b.distribution
    if da == db:
        return []
    tighter = (da is not None and db is not None and da.reference == db.reference
               and da.bins == db.bins and set(da.max_psi) <= set(db.max_psi)
               and all(db.max_psi[c] <= v for c, v in da.max_psi.items())
               and not (db.severity == "warn" != da.severity))
    return [_rule("table.distribution", da, db, loosened=not tighter)]
