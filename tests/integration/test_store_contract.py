"""The store contract: every test runs on embedded SQLite and on PostgreSQL (``backend``).

Writes go through the public tracking API (``airlock.start_run`` and :class:`airlock.Run`),
reads through ``airlock.get_run`` / ``airlock.search_runs`` / the store, so each test checks
one observable behaviour end to end on both metadata backends.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

import airlock
import airlock.tracking._run as run_module
from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.store import MetricPoint, get_store

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def no_time_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only size or an explicit flush() writes the buffer (no time-based flush mid-test)."""
    monkeypatch.setattr(run_module, "FLUSH_SECONDS", 3600.0)


# -- runs ---------------------------------------------------------------------------------
def test_start_run_records_a_running_run_then_end_finishes_it() -> None:
    before = time.time_ns() // 1_000_000
    run = airlock.start_run("contract", name="first", params={"lr": 0.1}, tags={"team": "ml"})
    rec = airlock.get_run(run.id)
    assert rec.status == "RUNNING"
    assert rec.end_time is None
    assert rec.error is None
    assert rec.experiment == "contract"
    assert rec.name == "first"
    assert rec.user == "tester"  # AIRLOCK_ACTOR, set by the autouse fixture
    assert before <= rec.start_time <= time.time_ns() // 1_000_000
    assert rec.params == {"lr": "0.1"}
    assert rec.tags == {"team": "ml"}

    run.end()
    done = airlock.get_run(run.id)
    assert done.status == "FINISHED"
    assert done.end_time is not None and done.end_time >= done.start_time
    assert done.error is None


def test_end_with_failed_status_records_the_error() -> None:
    run = airlock.start_run("contract")
    run.end("FAILED", "RuntimeError: out of memory")
    rec = airlock.get_run(run.id)
    assert rec.status == "FAILED"
    assert rec.error == "RuntimeError: out of memory"


def test_end_run_of_unknown_run_is_not_found() -> None:
    with pytest.raises(NotFound, match="run not found: nope"):
        get_store().runs.end_run("nope", "FINISHED")


def test_get_unknown_run_is_not_found() -> None:
    with pytest.raises(NotFound, match="run not found: 0123456789abcdef"):
        airlock.get_run("0123456789abcdef")


# -- params and tags ------------------------------------------------------------------------
def test_params_are_immutable_but_relogging_the_same_value_is_fine() -> None:
    run = airlock.start_run("contract", params={"max_depth": 6})
    run.log_param("max_depth", 6)  # same value (as a string "6"): accepted
    run.log_params({"max_depth": "6", "lr": 0.05})
    with pytest.raises(InvalidInput, match=r"param 'max_depth' .* immutable") as err:
        run.log_param("max_depth", 7)
    assert "'6'" in str(err.value) and "'7'" in str(err.value)
    assert airlock.get_run(run.id).params == {"max_depth": "6", "lr": "0.05"}


def test_a_rejected_params_batch_writes_nothing() -> None:
    run = airlock.start_run("contract", params={"a": 1})
    with pytest.raises(InvalidInput):
        run.log_params({"b": 2, "a": 2})
    assert airlock.get_run(run.id).params == {"a": "1"}


def test_params_of_unknown_run_are_not_found() -> None:
    with pytest.raises(NotFound, match="run not found: ghost"):
        get_store().runs.log_params("ghost", {"a": "1"})


def test_tags_upsert() -> None:
    run = airlock.start_run("contract", tags={"team": "a", "stage": "dev"})
    run.set_tag("team", "b")
    run.set_tags({"stage": "prod", "owner": "kim"})
    assert airlock.get_run(run.id).tags == {"team": "b", "stage": "prod", "owner": "kim"}


# -- metrics --------------------------------------------------------------------------------
@pytest.mark.usefixtures("no_time_flush")
def test_log_metric_is_buffered_until_flush() -> None:
    run = airlock.start_run("contract")
    run.log_metric("loss", 0.5, step=1)
    assert airlock.get_run(run.id).metrics == {}
    assert get_store().runs.metric_history(run.id, "loss") == []
    run.flush()
    assert airlock.get_run(run.id).metrics == {"loss": 0.5}
    hist = get_store().runs.metric_history(run.id, "loss")
    assert [(p.key, p.value, p.step) for p in hist] == [("loss", 0.5, 1)]


@pytest.mark.usefixtures("no_time_flush")
def test_a_full_buffer_flushes_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "FLUSH_POINTS", 5)
    run = airlock.start_run("contract")
    for i in range(4):
        run.log_metric("x", float(i), step=i)
    assert get_store().runs.metric_history(run.id, "x") == []
    run.log_metric("x", 4.0, step=4)  # due: the background writer stores it, no flush()
    import time

    deadline = time.monotonic() + 10
    while (len(get_store().runs.metric_history(run.id, "x")) < 5
           and time.monotonic() < deadline):
        time.sleep(0.005)
    assert [p.value for p in get_store().runs.metric_history(run.id, "x")] == [0, 1, 2, 3, 4]
    run.end()


@pytest.mark.usefixtures("no_time_flush")
def test_log_metrics_shares_step_and_timestamp() -> None:
    run = airlock.start_run("contract")
    run.log_metrics({"acc": 0.9, "f1": 0.8}, step=3, timestamp=1_700_000_000_000)
    run.flush()
    store = get_store().runs
    assert store.metric_history(run.id, "acc") == [
        MetricPoint("acc", 0.9, 3, 1_700_000_000_000)]
    assert store.metric_history(run.id, "f1") == [MetricPoint("f1", 0.8, 3, 1_700_000_000_000)]
    assert airlock.get_run(run.id).metrics == {"acc": 0.9, "f1": 0.8}


def test_log_batch_writes_at_once_and_accepts_metric_points() -> None:
    run = airlock.start_run("contract")
    run.log_batch([("a", 1.0, 0, 1000), MetricPoint("a", 2.0, 1, 2000), ("b", 7, 0, 1000)])
    # no flush: log_batch is a direct write
    store = get_store().runs
    assert [(p.value, p.step, p.timestamp) for p in store.metric_history(run.id, "a")] == [
        (1.0, 0, 1000), (2.0, 1, 2000)]
    assert store.metric_history(run.id, "b") == [MetricPoint("b", 7.0, 0, 1000)]
    assert airlock.get_run(run.id).metrics == {"a": 2.0, "b": 7.0}


def test_latest_value_is_the_highest_step_then_the_latest_time() -> None:
    run = airlock.start_run("contract")
    # highest step wins even though it was logged earlier and has an older timestamp
    run.log_batch([("k", 1.0, 5, 1000), ("k", 2.0, 3, 5000)])
    # same step: the later timestamp wins, whatever the logging order
    run.log_batch([("j", 10.0, 2, 2000), ("j", 20.0, 2, 1000)])
    assert airlock.get_run(run.id).metrics == {"k": 1.0, "j": 10.0}

    # a later batch with a lower step does not move the latest value...
    run.log_batch([("k", 9.0, 4, 9999)])
    assert airlock.get_run(run.id).metrics["k"] == 1.0
    # ...one at the same step with a later time does, and so does a higher step
    run.log_batch([("k", 7.0, 5, 1001), ("j", 30.0, 3, 0)])
    assert airlock.get_run(run.id).metrics == {"k": 7.0, "j": 30.0}


def test_metric_history_is_ordered_by_step_then_time_across_flushes() -> None:
    run = airlock.start_run("contract")
    run.log_batch([("m", 3.0, 3, 100), ("m", 1.0, 1, 500)])
    run.log_batch([("m", 0.0, 0, 900), ("m", 2.5, 2, 300), ("m", 2.0, 2, 200)])
    run.log_batch([("m", 4.0, 4, 50), ("other", 1.0, 0, 1)])
    hist = run.history("m")
    assert [(p.step, p.timestamp, p.value) for p in hist] == [
        (0, 900, 0.0), (1, 500, 1.0), (2, 200, 2.0), (2, 300, 2.5), (3, 100, 3.0),
        (4, 50, 4.0)]
    assert all(p.key == "m" for p in hist)
    assert run.history("never-logged") == []


def test_metric_at_step_takes_the_newest_point_at_that_step_per_run() -> None:
    a, b = airlock.start_run("contract"), airlock.start_run("contract")
    a.log_batch([("m", 1.0, 2, 100), ("m", 5.0, 3, 100)])
    a.log_batch([("m", 2.0, 2, 300), ("m", 3.0, 2, 200), ("n", 9.0, 0, 1)])
    b.log_batch([("m", 7.0, 2, 50), ("m", 8.0, 2, 50)])  # same time: the one logged last
    store = get_store().runs
    assert store.metric_at_step([a.id, b.id], 2) == {a.id: {"m": 2.0}, b.id: {"m": 8.0}}
    assert store.metric_at_step([a.id], 0) == {a.id: {"n": 9.0}}
    assert store.metric_at_step([a.id, b.id], 99) == {}
    assert store.metric_at_step([], 2) == {}


def test_find_artifacts_by_suffix_newest_runs_first(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"x" * 3)
    (tmp_path / "notes_onnx").write_text("no dot: not an .onnx file")
    (tmp_path / "100%_done.html").write_text("<p>")
    old = airlock.start_run("contract")
    old.log_artifact(tmp_path / "model.onnx")
    started = airlock.get_run(old.id).start_time
    while time.time_ns() // 1_000_000 <= started:  # start times are in milliseconds:
        pass                                       # the next run must start after this one
    new = airlock.start_run("contract")
    new.log_artifact(tmp_path / "model.onnx", "deep/dir")
    new.log_artifact(tmp_path / "notes_onnx")
    new.log_artifact(tmp_path / "100%_done.html")
    store = get_store().runs
    found = store.find_artifacts([".onnx"])
    assert [(run_id, rec.path) for run_id, rec in found] == [
        (new.id, "deep/dir/model.onnx"), (old.id, "model.onnx")]
    assert found[0][1].size == 3 and len(found[0][1].sha256) == 64
    # the suffix is matched literally: % and _ are not wildcards
    assert [rec.path for _, rec in store.find_artifacts(["%_done.html"])] == ["100%_done.html"]
    assert [rec.path for _, rec in store.find_artifacts(["_onnx", ".onnx"], limit=1)] == [
        "deep/dir/model.onnx"]
    assert store.find_artifacts([]) == []


def test_history_of_unknown_run_is_not_found() -> None:
    with pytest.raises(NotFound, match="run not found: ghost"):
        get_store().runs.metric_history("ghost", "m")


def test_nan_and_infinities_round_trip_exactly() -> None:
    run = airlock.start_run("contract")
    run.log_metric("nan", math.nan, step=0)
    run.log_metric("pinf", math.inf, step=0)
    run.log_metric("ninf", -math.inf, step=0)
    run.log_batch([("mixed", 1.0, 0, 1), ("mixed", math.nan, 1, 2), ("mixed", math.inf, 2, 3),
                   ("mixed", -0.0, 3, 4), ("mixed", -math.inf, 4, 5)])
    run.flush()
    latest = airlock.get_run(run.id).metrics
    assert math.isnan(latest["nan"])
    assert latest["pinf"] == math.inf
    assert latest["ninf"] == -math.inf
    assert latest["mixed"] == -math.inf

    assert math.isnan(run.history("nan")[0].value)
    assert run.history("pinf")[0].value == math.inf
    assert run.history("ninf")[0].value == -math.inf
    values = [p.value for p in run.history("mixed")]
    assert values[0] == 1.0
    assert math.isnan(values[1])
    assert values[2] == math.inf
    assert values[3] == 0.0 and math.copysign(1.0, values[3]) == -1.0  # history keeps -0.0
    assert values[4] == -math.inf


def test_metrics_of_unknown_run_are_not_found() -> None:
    with pytest.raises(NotFound, match="run not found: ghost"):
        get_store().runs.log_metrics("ghost", [("m", 1.0, 0, 0)])


# -- search ---------------------------------------------------------------------------------
@pytest.fixture
def grid() -> dict[str, str]:
    """Five runs in experiment 'grid' (plus one elsewhere); returns name → run id."""
    spec = {
        # name: (val_auc or None, max_depth, team tag, finished?)
        "a": (0.95, 6, "red", True),
        "b": (0.85, 6, "blue", True),
        "c": (0.97, 8, "red", False),
        "d": (None, 6, "red and blue", True),
        "e": (0.91, 4, "blue", True),
    }
    ids = {}
    for name, (auc, depth, team, finish) in spec.items():
        run = airlock.start_run("grid", name=f"run-{name}", params={"max_depth": depth},
                                tags={"team": team})
        if auc is not None:
            run.log_batch([("val_auc", auc, 0, 1)])
        if finish:
            run.end()
        ids[name] = run.id
    other = airlock.start_run("other", params={"max_depth": 6})
    other.log_batch([("val_auc", 0.99, 0, 1)])
    ids["other"] = other.id
    return ids


def _search(filter: str | None = None, **kw: object) -> list[str]:
    return [r.id for r in airlock.search_runs(filter, experiment="grid", **kw)]  # type: ignore[arg-type]


def test_search_by_metric_and_param(grid: dict[str, str]) -> None:
    found = _search("metrics.val_auc > 0.9 and params.max_depth = 6")
    assert found == [grid["a"]]
    assert set(_search("metrics.val_auc > 0.9")) == {grid["a"], grid["c"], grid["e"]}
    assert set(_search("metrics.val_auc <= 0.91")) == {grid["b"], grid["e"]}
    assert set(_search("metrics.val_auc != 0.85")) == {grid["a"], grid["c"], grid["e"]}
    assert set(_search("params.max_depth != '6'")) == {grid["c"], grid["e"]}
    # the "and" keyword is case-insensitive; without an experiment every experiment is searched
    everywhere = {r.id for r in airlock.search_runs("metrics.val_auc >= 0.95 AND "
                                                    "params.max_depth == 6")}
    assert everywhere == {grid["a"], grid["other"]}


def test_search_returns_full_records(grid: dict[str, str]) -> None:
    [rec] = airlock.search_runs("attributes.name = 'run-a'", experiment="grid")
    assert rec.id == grid["a"]
    assert rec.params == {"max_depth": "6"}
    assert rec.tags == {"team": "red"}
    assert rec.metrics == {"val_auc": 0.95}
    assert rec.experiment == "grid"


def test_search_by_tag_attribute_and_like(grid: dict[str, str]) -> None:
    assert set(_search("tags.team = 'red'")) == {grid["a"], grid["c"]}
    # a quoted value may contain the word "and"
    assert _search("tags.team = 'red and blue'") == [grid["d"]]
    assert set(_search('tags.team like "%blue%"')) == {grid["b"], grid["d"], grid["e"]}
    assert _search("attributes.status = 'RUNNING'") == [grid["c"]]
    assert len(_search("attributes.status = 'FINISHED'")) == 4
    assert set(_search("attributes.name LIKE 'run-_'")) == {grid[n] for n in "abcde"}
    assert _search("attributes.status = 'FINISHED' and tags.team = 'red'") == [grid["a"]]
    assert _search("tags.team = 'green'") == []
    assert _search("tags.nosuchtag = 'red'") == []


def test_search_by_time_attribute(grid: dict[str, str]) -> None:
    recs = {r.id: r for r in airlock.search_runs(experiment="grid")}
    cut = recs[grid["c"]].start_time
    later = set(_search(f"attributes.start_time >= {cut}"))
    earlier = set(_search(f"attributes.start_time < {cut}"))
    assert grid["c"] in later
    assert later == {i for i, r in recs.items() if r.start_time >= cut}
    assert earlier == {i for i, r in recs.items() if r.start_time < cut}


def test_search_without_filter_lists_newest_first(grid: dict[str, str]) -> None:
    found = airlock.search_runs(experiment="grid")
    assert {r.id for r in found} == {grid[n] for n in "abcde"}
    starts = [r.start_time for r in found]
    assert starts == sorted(starts, reverse=True)


def test_order_by_metric_puts_missing_values_last(grid: dict[str, str]) -> None:
    asc = _search(order_by="metrics.val_auc")
    assert asc == [grid["b"], grid["e"], grid["a"], grid["c"], grid["d"]]
    assert _search(order_by="metrics.val_auc ASC") == asc
    desc = _search(order_by="metrics.val_auc DESC")
    assert desc == [grid["c"], grid["a"], grid["e"], grid["b"], grid["d"]]


def test_order_by_param_tag_and_attribute(grid: dict[str, str]) -> None:
    # params compare as strings: "8" > "6" > "4"
    by_depth = _search(order_by="params.max_depth desc")
    assert by_depth[0] == grid["c"]
    assert set(by_depth[1:4]) == {grid["a"], grid["b"], grid["d"]}
    assert by_depth[4] == grid["e"]
    by_team = _search(order_by="tags.team")
    assert set(by_team[:2]) == {grid["b"], grid["e"]}  # "blue" < "red" < "red and blue"
    assert by_team[-1] == grid["d"]
    assert _search(order_by="attributes.name") == [grid[n] for n in "abcde"]
    assert _search(order_by="attributes.name desc") == [grid[n] for n in "edcba"]


def test_limit(grid: dict[str, str]) -> None:
    assert _search(order_by="metrics.val_auc desc", limit=2) == [grid["c"], grid["a"]]
    assert _search("tags.team = 'red'", order_by="attributes.name", limit=1) == [grid["a"]]
    assert len(_search(limit=10)) == 5


def test_search_unknown_experiment_is_not_found(grid: dict[str, str]) -> None:
    with pytest.raises(NotFound, match="experiment not found: nope"):
        airlock.search_runs(experiment="nope")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metrics.val_auc > 0.9 and depth = 6", "cannot read filter clause 'depth = 6'"),
        ("metrics.val_auc", "cannot read filter clause 'metrics.val_auc'"),
        ("model.depth = 6", "unknown filter entity 'model' in 'model.depth = 6'"),
        ("metrics.val_auc like '0.9%'", "operator 'like' does not apply to metrics.val_auc"),
        ("metrics.val_auc > high", "metrics.val_auc compares with a number, not 'high'"),
        ("params.max_depth > 6", "operator '>' does not apply to params.max_depth"),
        ("attributes.colour = 'red'", "unknown run attribute 'colour'"),
    ],
)
def test_bad_filter_is_a_usage_error_naming_the_clause(text: str, fragment: str) -> None:
    airlock.start_run("grid").end()
    with pytest.raises(UsageError) as err:
        airlock.search_runs(text, experiment="grid")
    assert fragment in str(err.value)
    assert not isinstance(err.value, NotFound)


def test_bad_order_by_is_a_usage_error() -> None:
    airlock.start_run("grid").end()
    with pytest.raises(UsageError, match="cannot read order-by 'val_auc desc'"):
        airlock.search_runs(experiment="grid", order_by="val_auc desc")


# -- events -------------------------------------------------------------------------------
def test_every_run_start_and_finish_appends_an_event_and_the_chain_verifies() -> None:
    assert airlock.verify_events().ok
    ok_run = airlock.start_run("contract", name="ok")
    ok_run.end()
    with pytest.raises(KeyError), airlock.start_run("contract", name="bad") as bad_run:
        raise KeyError("x")

    ok_events = airlock.list_events(subject=f"runs/{ok_run.id}")
    assert [e.action for e in ok_events] == ["run.started", "run.finished"]
    assert ok_events[0].payload == {"experiment": "contract", "name": "ok"}
    assert ok_events[1].payload == {"status": "FINISHED", "error": None}
    bad_events = airlock.list_events(subject=f"runs/{bad_run.id}")
    assert [e.action for e in bad_events] == ["run.started", "run.finished"]
    assert bad_events[1].payload == {"status": "FAILED", "error": "KeyError: 'x'"}

    every = airlock.list_events()
    assert [e.seq for e in every] == [1, 2, 3, 4]
    assert all(e.actor == "tester" for e in every)
    assert [e.prev_hash for e in every[1:]] == [e.hash for e in every[:-1]]
    assert airlock.list_events(action="run.fin") == [every[1], every[3]]
    assert airlock.list_events(limit=2) == every[2:]

    result = airlock.verify_events()
    assert result.ok, result.reason
    assert result.checked == 4


def test_ending_a_run_twice_appends_one_finish_event() -> None:
    run = airlock.start_run("contract")
    run.end()
    run.end()
    assert [e.action for e in airlock.list_events(subject=f"runs/{run.id}")] == [
        "run.started", "run.finished"]
