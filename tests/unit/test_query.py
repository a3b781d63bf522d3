"""The run search language: parsing (exact messages) and a property of metric filters."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airlock
from airlock.errors import UsageError
from airlock.store import Clause, OrderBy, parse_filter, parse_order_by

ATTRS = "['end_time', 'id', 'name', 'start_time', 'status', 'user']"


# -- parse_filter: happy paths ------------------------------------------------------------
@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_filter_is_no_clause(text: str | None) -> None:
    assert parse_filter(text) == []


def test_metric_and_param_clauses() -> None:
    assert parse_filter("metrics.val_auc > 0.9 and params.max_depth = 6") == [
        Clause("metrics", "val_auc", ">", 0.9),
        Clause("params", "max_depth", "=", "6"),
    ]


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("metric.loss <= 1", Clause("metrics", "loss", "<=", 1.0)),
        ("metrics.loss >= -2.5e3", Clause("metrics", "loss", ">=", -2500.0)),
        ("metrics.loss < 0", Clause("metrics", "loss", "<", 0.0)),
        ("metrics.loss != 3", Clause("metrics", "loss", "!=", 3.0)),
        ("metrics.loss == 3", Clause("metrics", "loss", "=", 3.0)),
        ("param.opt = 'adam'", Clause("params", "opt", "=", "adam")),
        ('params.opt = "adam"', Clause("params", "opt", "=", "adam")),
        ("params.opt != sgd", Clause("params", "opt", "!=", "sgd")),
        ("tag.team LIKE 'ml-%'", Clause("tags", "team", "like", "ml-%")),
        ("tags.team like 'a'", Clause("tags", "team", "like", "a")),
        ("attr.status = 'FINISHED'", Clause("attributes", "status", "=", "FINISHED")),
        ("attribute.name like 'run-%'", Clause("attributes", "name", "like", "run-%")),
        ("attributes.user = tester", Clause("attributes", "user", "=", "tester")),
        ("attributes.start_time > 1700000000000",
         Clause("attributes", "start_time", ">", 1.7e12)),
        ("attributes.end_time <= 5", Clause("attributes", "end_time", "<=", 5.0)),
        ("METRICS.loss > 1", Clause("metrics", "loss", ">", 1.0)),
        ("metrics.`val auc` < 1e-3", Clause("metrics", "val auc", "<", 0.001)),
        ("params.`model.depth` = 4", Clause("params", "model.depth", "=", "4")),
        ("metrics.loss/val-1:x > 0", Clause("metrics", "loss/val-1:x", ">", 0.0)),
        ("  metrics.loss>0.5  ", Clause("metrics", "loss", ">", 0.5)),
    ],
)
def test_one_clause(text: str, clause: Clause) -> None:
    assert parse_filter(text) == [clause]


def test_and_is_case_insensitive_and_quoted_and_is_a_value() -> None:
    text = "tags.note = 'cats and dogs' AND metrics.m > 1 And params.p = \"x and y\""
    assert parse_filter(text) == [
        Clause("tags", "note", "=", "cats and dogs"),
        Clause("metrics", "m", ">", 1.0),
        Clause("params", "p", "=", "x and y"),
    ]


# -- parse_filter: errors, with their exact messages ---------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.val_auc",
         "cannot read filter clause 'metrics.val_auc': expected ENTITY.KEY OP VALUE, "
         "e.g. metrics.val_auc > 0.9"),
        ("val_auc > 0.9",
         "cannot read filter clause 'val_auc > 0.9': expected ENTITY.KEY OP VALUE, "
         "e.g. metrics.val_auc > 0.9"),
        ("metrics.a > 1 and nonsense",
         "cannot read filter clause 'nonsense': expected ENTITY.KEY OP VALUE, "
         "e.g. metrics.val_auc > 0.9"),
        ("model.depth = 6",
         "unknown filter entity 'model' in 'model.depth = 6': use metrics, params, tags "
         "or attributes"),
        ("metrics.val_auc like 0.9", "operator 'like' does not apply to metrics.val_auc"),
        ("attributes.start_time like 5", "operator 'like' does not apply to attributes.start_time"),
        ("metrics.val_auc > high", "metrics.val_auc compares with a number, not 'high'"),
        ("metrics.val_auc > '0.9x'", "metrics.val_auc compares with a number, not '0.9x'"),
        ("attributes.end_time < yesterday",
         "attributes.end_time compares with a number, not 'yesterday'"),
        ("attributes.colour = 'red'", f"unknown run attribute 'colour': use one of {ATTRS}"),
        ("params.max_depth > 6",
         "operator '>' does not apply to params.max_depth: use =, != or like"),
        ("tags.team <= 'b'", "operator '<=' does not apply to tags.team: use =, != or like"),
        ("attributes.status != 'X' and attributes.name < 'b'",
         "operator '<' does not apply to attributes.name: use =, != or like"),
    ],
)
def test_filter_errors_name_the_clause(text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_filter(text)
    assert str(err.value) == message


# -- parse_order_by -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "order"),
    [
        (None, None),
        ("", None),
        ("metrics.val_auc", OrderBy("metrics", "val_auc", False)),
        ("metrics.val_auc ASC", OrderBy("metrics", "val_auc", False)),
        ("metrics.val_auc DESC", OrderBy("metrics", "val_auc", True)),
        ("metric.val_auc desc", OrderBy("metrics", "val_auc", True)),
        ("params.`learning rate` asc", OrderBy("params", "learning rate", False)),
        ("tag.team", OrderBy("tags", "team", False)),
        ("attr.start_time Desc", OrderBy("attributes", "start_time", True)),
    ],
)
def test_order_by(text: str | None, order: OrderBy | None) -> None:
    assert parse_order_by(text) == order


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("val_auc desc",
         "cannot read order-by 'val_auc desc': expected e.g. metrics.val_auc DESC"),
        ("model.val_auc",
         "cannot read order-by 'model.val_auc': expected e.g. metrics.val_auc DESC"),
        ("metrics.val_auc sideways",
         "cannot read order-by 'metrics.val_auc sideways': expected e.g. metrics.val_auc DESC"),
        ("attributes.colour", f"unknown run attribute 'colour': use one of {ATTRS}"),
    ],
)
def test_order_by_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_order_by(text)
    assert str(err.value) == message


# -- property: metric filters select exactly the runs above the threshold -------------------
metric_values = st.floats(allow_nan=True, allow_infinity=True, width=64)
thresholds = st.floats(allow_nan=False, allow_infinity=True, width=64)


_PY_OPS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__,
           "=": float.__eq__, "!=": float.__ne__}


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(metric_values, min_size=1, max_size=5), threshold=thresholds,
       op=st.sampled_from(sorted(_PY_OPS)))
def test_metric_filter_matches_python_comparison(values: list[float], threshold: float,
                                                 op: str) -> None:
    experiment = f"prop-{uuid.uuid4().hex[:8]}"  # the store is shared by all examples
    runs = {}
    for value in values:
        run = airlock.start_run(experiment)
        run.log_batch([("m", value, 0, 0)])
        run.end()
        runs[run.id] = value

    def expected(which: str) -> set[str]:
        # NaN is unordered: no comparison matches it (not even !=, as in SQL)
        return {i for i, v in runs.items()
                if not math.isnan(v) and _PY_OPS[which](v, threshold)}

    above = airlock.search_runs(f"metrics.m > {threshold!r}", experiment=experiment)
    assert {r.id for r in above} == expected(">")
    found = airlock.search_runs(f"metrics.m {op} {threshold!r}", experiment=experiment)
    assert {r.id for r in found} == expected(op)
