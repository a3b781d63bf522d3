"""The prediction log: records, PII redaction, group-committed appends, spools, rolls into
Parquet segments, recovery and the reader (time filters, pruning, versions that differ)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.errors import AirlockError, InvalidInput, NotFound, UsageError
from airlock.predlog import (
    PredictionLog,
    PredictionLogError,
    Redactor,
    _read,
    _spool,
    _writer,
    make_batch_records,
    make_feedback,
    make_records,
    read_prediction_log,
    recover_spools,
    scan_prediction_log,
)
from airlock.predlog._spool import SpoolFile, convert_spool, iter_spool
from airlock.predlog._writer import CLOSED, NOT_OPEN
from airlock.store import ArtifactStore

DAY = 86_400_000
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)  # midnight UTC
SECRET = "alice.secret@example.com"


@pytest.fixture
def adult(adult_sample: Any) -> pa.Table:
    """The real Adult rows, without the label, with an e-mail column to redact."""
    table = adult_sample.drop("income").to_arrow()
    emails = pa.array([f"person{i}@example.com" for i in range(table.num_rows)])
    return table.append_column("email", emails)


@pytest.fixture
def where(tmp_path: Path) -> dict[str, Any]:
    return {"spool_dir": tmp_path / "spool", "artifact_uri": str(tmp_path / "artifacts")}


def outputs_for(inputs: pa.Table) -> pa.Table:
    age = inputs.column("age").cast(pa.float64())
    return pa.table({"proba": pc.divide(age, 100.0), "label": pc.greater(age, 40)})


def request(inputs: pa.Table, rid: str, ts_ms: int = T0, version: int = 1,
            route: str = "primary") -> pa.Table:
    return make_records(request_id=rid, ts_ms=ts_ms, endpoint="adult", route=route,
                        model="adult-income", version=version, status=200, latency_ms=1.5,
                        inputs=inputs, outputs=outputs_for(inputs))


def open_log(where: dict[str, Any], **kw: Any) -> PredictionLog:
    return PredictionLog("adult", **where, **kw)


def spool_files(where: dict[str, Any], stream: str = "predictions") -> list[Path]:
    folder = Path(where["spool_dir"]) / stream / "adult"
    return sorted(p for p in folder.iterdir() if p.suffix in (".arrows", ".sealed"))


def segments(where: dict[str, Any], stream: str = "predictions") -> list[Path]:
    return sorted((Path(where["artifact_uri"]) / stream / "adult").rglob("*.parquet"))


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def read_ids(where: dict[str, Any], **kw: Any) -> list[tuple[str, int]]:
    table = read_prediction_log("adult", **where, **kw)
    return list(zip(table.column("request_id").to_pylist(), table.column("row").to_pylist(),
                    strict=True))


# -- records ------------------------------------------------------------------------------
def test_make_records_one_row_per_input_row_with_the_fixed_schema(adult: pa.Table) -> None:
    ins = adult.slice(10, 3)
    shadow = pa.table({"proba": [0.1, 0.2, 0.3]})
    t = make_records(request_id="r1", ts_ms=T0 + 5, endpoint="adult", route="canary",
                     model="adult-income", version=4, status=200, latency_ms=2.25, inputs=ins,
                     outputs=outputs_for(ins), shadow_version=5, shadow_outputs=shadow)
    assert t.schema.names[:9] == ["request_id", "row", "ts", "endpoint", "route", "model",
                                  "version", "status", "latency_ms"]
    types = {f.name: f.type for f in t.schema}
    assert types["row"] == pa.int32() and types["version"] == pa.int32()
    assert types["status"] == pa.int16() and types["latency_ms"] == pa.float32()
    assert types["ts"] == pa.timestamp("ms", tz="UTC")
    assert types["inputs"] == pa.struct(list(ins.schema))
    assert t.column("row").to_pylist() == [0, 1, 2]
    assert t.column("request_id").to_pylist() == ["r1"] * 3
    assert t.column("ts").cast(pa.int64()).to_pylist() == [T0 + 5] * 3
    assert t.column("inputs").to_pylist() == ins.to_pylist()
    assert t.column("outputs").to_pylist() == outputs_for(ins).to_pylist()
    assert t.column("shadow_version").to_pylist() == [5] * 3
    assert t.column("shadow_outputs").to_pylist() == shadow.to_pylist()
    plain = request(ins, "r2")
    assert plain.column("shadow_outputs").null_count == 3
    assert plain.schema.field("shadow_outputs").type == pa.null()


def test_make_batch_records_equals_one_make_records_per_request(adult: pa.Table) -> None:
    counts = [1, 3, 0, 2, 5]
    starts = [sum(counts[:i]) for i in range(len(counts))]
    ins = adult.slice(100, sum(counts))
    ids = [f"req-{i}" for i in range(len(counts))]
    ts = [T0 + 7 * i for i in range(len(counts))]
    lat = [0.5 * i for i in range(len(counts))]
    status = [200, 200, 422, 200, 200]
    batch = make_batch_records(request_ids=ids, row_counts=counts, ts_ms=ts, latency_ms=lat,
                               status=status, endpoint="adult", route="primary",
                               model="adult-income", version=1, inputs=ins,
                               outputs=outputs_for(ins))
    one_by_one = pa.concat_tables([
        make_records(request_id=ids[i], ts_ms=ts[i], endpoint="adult", route="primary",
                     model="adult-income", version=1, status=status[i], latency_ms=lat[i],
                     inputs=ins.slice(starts[i], counts[i]),
                     outputs=outputs_for(ins.slice(starts[i], counts[i])))
        for i in range(len(counts))])
    assert batch.equals(one_by_one)


def test_record_errors_name_the_field(adult: pa.Table) -> None:
    ins = adult.slice(0, 2)
    with pytest.raises(InvalidInput, match="outputs has 1 rows, inputs has 2"):
        make_records(request_id="r", ts_ms=T0, endpoint="adult", route="primary", model="m",
                     version=1, status=200, latency_ms=1.0, inputs=ins,
                     outputs=outputs_for(ins.slice(0, 1)))
    with pytest.raises(InvalidInput, match="log field status=70000 is not a valid int16"):
        make_records(request_id="r", ts_ms=T0, endpoint="adult", route="primary", model="m",
                     version=1, status=70000, latency_ms=1.0, inputs=ins,
                     outputs=outputs_for(ins))
    with pytest.raises(InvalidInput, match="log field version='3' is not a valid int32"):
        make_records(request_id="r", ts_ms=T0, endpoint="adult", route="primary", model="m",
                     version="3", status=200, latency_ms=1.0,  # type: ignore[arg-type]
                     inputs=ins, outputs=outputs_for(ins))
    with pytest.raises(InvalidInput, match=r"inputs must be a pyarrow\.Table, got dict"):
        make_records(request_id="r", ts_ms=T0, endpoint="adult", route="primary", model="m",
                     version=1, status=200, latency_ms=1.0,
                     inputs={"age": [1]}, outputs=outputs_for(ins))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="row_counts add up to 3, inputs has 2 rows"):
        make_batch_records(request_ids=["a", "b"], row_counts=[1, 2], ts_ms=[T0, T0],
                           latency_ms=[1, 1], status=200, endpoint="adult", route="p",
                           model="m", version=1, inputs=ins, outputs=outputs_for(ins))
    with pytest.raises(InvalidInput, match="ts_ms has 1 entries, row_counts has 2"):
        make_batch_records(request_ids=["a", "b"], row_counts=[1, 1], ts_ms=[T0],
                           latency_ms=[1, 1], status=200, endpoint="adult", route="p",
                           model="m", version=1, inputs=ins, outputs=outputs_for(ins))


def test_make_feedback_stores_json_and_numeric_labels() -> None:
    t = make_feedback(["a", "b", "c", "d"], [1, 0.25, True, {"class": "x"}], T0)
    assert t.column("label_json").to_pylist() == ["1", "0.25", "true", '{"class":"x"}']
    assert t.column("label").to_pylist() == [1.0, 0.25, 1.0, None]
    assert [json.loads(s) for s in t.column("label_json").to_pylist()] == \
        [1, 0.25, True, {"class": "x"}]
    assert t.column("ts").cast(pa.int64()).to_pylist() == [T0] * 4
    with pytest.raises(InvalidInput, match=r"feedback label 1 \(nan\) is not JSON"):
        make_feedback(["a", "b"], [1, float("nan")], T0)
    with pytest.raises(InvalidInput, match="label has 1 entries, request_id has 2"):
        make_feedback(["a", "b"], [1], T0)
    with pytest.raises(InvalidInput, match="request_id 0 must be a non-empty string"):
        make_feedback([""], [1], T0)


# -- redaction ----------------------------------------------------------------------------
def oracle(salt: str, value: str) -> str:
    return hashlib.sha256((salt + value).encode()).hexdigest()[:16]


def test_hash_is_a_salted_sha256_prefix_and_keeps_nulls() -> None:
    values = pa.array([SECRET, None, "bob@example.com", SECRET])
    hashed = Redactor({"email": "hash"}, salt="pepper").hash(values).to_pylist()
    assert hashed == [oracle("pepper", SECRET), None, oracle("pepper", "bob@example.com"),
                      oracle("pepper", SECRET)]
    again = Redactor({"email": "hash"}, salt="pepper").hash(values).to_pylist()
    other = Redactor({"email": "hash"}, salt="salt2").hash(values).to_pylist()
    assert again == hashed
    assert other[0] != hashed[0] and other[1] is None
    numbers = Redactor({"x": "hash"}, salt="s").hash(pa.array([39, None, 39]))
    assert numbers.to_pylist() == [oracle("s", "39"), None, oracle("s", "39")]
    categories = pa.array(["Male", "Female", None, "Male"]).dictionary_encode()
    assert Redactor({"x": "hash"}, salt="s").hash(categories).to_pylist() == \
        [oracle("s", "Male"), oracle("s", "Female"), None, oracle("s", "Male")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=40), st.text(min_size=1))
def test_hash_invariants(values: list[str | None], salt: str) -> None:
    out = Redactor({"c": "hash"}, salt=salt).hash(pa.array(values, pa.string())).to_pylist()
    assert [o is None for o in out] == [v is None for v in values]
    for v, o in zip(values, out, strict=True):
        if v is not None:
            assert o == oracle(salt, v) and len(o) == 16
    pairs = [(v, o) for v, o in zip(values, out, strict=True) if v is not None]
    assert len({v for v, _ in pairs}) == len({o for _, o in pairs})


def test_mask_and_drop_on_the_inputs_struct(adult: pa.Table) -> None:
    ins = adult.slice(0, 4).set_column(
        adult.schema.get_field_index("race"), "race", pa.array(["White", None, "Black", None]))
    rec = request(ins, "r1")
    red = Redactor({"race": "mask", "email": "drop", "sex": "hash", "absent": "mask"},
                   salt="s").apply(rec)
    inputs = red.column("inputs").combine_chunks()
    assert "email" not in inputs.type.names
    assert inputs.field("race").to_pylist() == ["***", None, "***", None]
    assert inputs.field("sex").to_pylist() == [oracle("s", v) for v in
                                               ins.column("sex").to_pylist()]
    assert inputs.field("age").to_pylist() == ins.column("age").to_pylist()
    assert red.column("outputs").equals(rec.column("outputs"))
    everything = Redactor(dict.fromkeys(ins.column_names, "drop")).apply(rec)
    assert everything.schema.field("inputs").type == pa.null()


def test_redactor_errors() -> None:
    with pytest.raises(UsageError, match="unknown redaction 'blur' for column 'email'"):
        Redactor({"email": "blur"}, salt="s")  # type: ignore[dict-item]
    with pytest.raises(UsageError, match="hashing PII needs a secret salt"):
        Redactor({"email": "hash"})


def test_pii_never_reaches_the_disk(adult: pa.Table, where: dict[str, Any]) -> None:
    ins = adult.slice(0, 3).set_column(adult.schema.get_field_index("email"), "email",
                                       pa.array([SECRET, SECRET, None]))
    with open_log(where, redactor=Redactor({"email": "hash"}, salt="pepper")) as plog:
        plog.append(request(ins, "r1")).result()
        (spool,) = spool_files(where)
        assert SECRET.encode() not in spool.read_bytes()
        assert b"example.com" not in spool.read_bytes()
    (segment,) = segments(where)
    emails = pq.read_table(segment).column("inputs").combine_chunks().field("email")
    assert emails.to_pylist() == [oracle("pepper", SECRET)] * 2 + [None]


def test_hashing_a_nested_column_is_refused_at_append(where: dict[str, Any]) -> None:
    ins = pa.table({"age": [30], "tags": [["a", "b"]]})
    with open_log(where, redactor=Redactor({"tags": "hash"}, salt="s")) as plog, \
            pytest.raises(UsageError, match="cannot hash input 'tags' of type list"):
        plog.append(request(ins, "r1"))


# -- appending and rolling ----------------------------------------------------------------
def test_a_new_schema_gets_its_own_spool_and_alternating_does_not_churn(
        adult: pa.Table, where: dict[str, Any]) -> None:
    v1 = adult.select(["age", "sex", "education"])
    v2 = adult.select(["age", "hours_per_week"])
    with open_log(where) as plog:
        plog.append(request(v1.slice(0, 1), "a", version=1)).result()
        assert len(spool_files(where)) == 1
        plog.append(request(v2.slice(0, 1), "b", version=2)).result()
        assert len(spool_files(where)) == 2
        for i in range(10):  # a 50/50 canary between the two
            v = v1 if i % 2 else v2
            plog.append(request(v.slice(i, 1), f"c{i}", version=1 + i % 2)).result()
        assert len(spool_files(where)) == 2
    assert len(segments(where)) == 2 and spool_files(where) == []
    assert len(read_ids(where)) == 12


def test_rolls_by_size(adult: pa.Table, where: dict[str, Any]) -> None:
    with open_log(where, segment_max_bytes=16_384) as plog:
        for i in range(60):  # one commit each
            plog.append(request(adult.slice(i * 10, 10), f"r{i}")).result()
        wait_for(lambda: len(segments(where)) >= 3)
    segs = segments(where)
    assert len(segs) >= 3
    sizes = [pq.ParquetFile(s).metadata.num_rows for s in segs]
    assert sum(sizes) == 600
    assert spool_files(where) == []
    assert sorted(read_ids(where)) == sorted((f"r{i}", j) for i in range(60) for j in range(10))


def test_rolls_by_time_when_idle(adult: pa.Table, where: dict[str, Any]) -> None:
    with open_log(where, segment_max_seconds=0.3) as plog:
        plog.append(request(adult.slice(0, 5), "r1")).result()
        assert segments(where) == []
        wait_for(lambda: len(segments(where)) == 1)  # no append, no explicit roll
        wait_for(lambda: spool_files(where) == [])
        plog.append(request(adult.slice(5, 5), "r2")).result()
        assert len(spool_files(where)) == 1
    assert len(segments(where)) == 2
    assert sorted(read_ids(where)) == sorted((r, j) for r in ("r1", "r2") for j in range(5))


def test_segment_names_and_partition(adult: pa.Table, where: dict[str, Any]) -> None:
    with open_log(where) as plog:
        for i, ts in enumerate([T0 + 5_000, T0 + 1_000, T0 + 9_000]):
            plog.append(request(adult.slice(i, 1), f"r{i}", ts_ms=ts)).result()
        (spool,) = spool_files(where)
        spool_id = spool.name.split(".")[0]
    (seg,) = segments(where)
    assert seg.parent.name == "date=2024-03-01"
    assert seg.name == f"{T0 + 1_000}-{T0 + 9_000}-{spool_id}.parquet"
    assert spool_id.split("-")[0] == str(os.getpid())
    meta = pq.ParquetFile(seg)
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"


def test_concurrent_appends_from_8_threads_are_all_durable(
        adult: pa.Table, where: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[BaseException] = []
    fsyncs = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(_spool.os, "fsync", counting_fsync)

    def worker(w: int) -> None:
        try:
            futures = [plog.append(request(adult.slice(i, 1), f"w{w}-{i}"))
                       for i in range(150)]
            for f in futures:
                f.result(timeout=30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with open_log(where) as plog:
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert plog.pending_rows == 0
        assert len(fsyncs) < 1200 / 4  # group commit: one fsync covers many appends
        live = read_ids(where)  # from the spool, before any roll
    expected = sorted((f"w{w}-{i}", 0) for w in range(8) for i in range(150))
    assert sorted(live) == expected
    assert sorted(read_ids(where)) == expected  # from the segment


def test_async_callers_wait_with_wrap_future(adult: pa.Table, where: dict[str, Any]) -> None:
    async def main(plog: PredictionLog) -> None:
        await asyncio.gather(*(asyncio.wrap_future(plog.append(request(adult.slice(i, 1),
                                                                       f"a{i}")))
                               for i in range(50)))

    with open_log(where) as plog:
        asyncio.run(main(plog))
        assert len(read_ids(where)) == 50


def test_close_is_idempotent_and_then_appends_fail(adult: pa.Table,
                                                  where: dict[str, Any]) -> None:
    plog = open_log(where).open()
    fut = plog.append(request(adult.slice(0, 2), "r1"))
    assert fut.cancel() is False  # an acknowledged append cannot be withdrawn
    plog.close()
    plog.close()
    assert fut.result() is None
    with pytest.raises(UsageError) as err:
        plog.append(request(adult.slice(0, 1), "r2"))
    assert str(err.value) == CLOSED.format("adult")
    with pytest.raises(UsageError, match="is closed"):
        plog.roll()
    plog.flush()  # nothing left to wait for
    assert len(segments(where)) == 1 and read_ids(where) == [("r1", 0), ("r1", 1)]


def test_the_constructor_only_stores_configuration(adult: pa.Table, tmp_path: Path) -> None:
    where = {"spool_dir": tmp_path / "spool", "artifact_uri": str(tmp_path / "artifacts")}
    before = {t.name for t in threading.enumerate()}
    plog = PredictionLog("adult", **where)
    assert {t.name for t in threading.enumerate()} == before  # no thread
    assert not (tmp_path / "spool").exists()  # no I/O
    with pytest.raises(UsageError) as err:
        plog.append(request(adult.slice(0, 1), "r0"))
    assert str(err.value) == NOT_OPEN.format("adult")
    with pytest.raises(UsageError, match="is not open"):
        plog.flush()
    assert plog.open() is plog and plog.open() is plog  # idempotent
    assert {t.name for t in threading.enumerate()} - before == {
        "airlock-predlog-adult", "airlock-predlog-adult-roll"}
    plog.append(request(adult.slice(0, 1), "r0")).result()
    plog.close()
    assert {t.name for t in threading.enumerate()} == before
    with pytest.raises(UsageError, match="is closed"):
        plog.open()
    PredictionLog("adult", **where).close()  # never opened: nothing to stop


def test_bad_arguments_are_usage_errors(adult: pa.Table, where: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=r"invalid endpoint name '\.\./etc'"):
        PredictionLog("../etc", **where)
    with pytest.raises(UsageError, match="segment_max_bytes must be a positive number"):
        open_log(where, segment_max_bytes=0)
    with open_log(where) as plog:
        with pytest.raises(InvalidInput, match=r"append takes a pyarrow\.Table, got list"):
            plog.append([1, 2])  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="log rows need a 'ts' column"):
            plog.append(pa.table({"a": [1]}))
        empty = plog.append(request(adult.slice(0, 0), "none"))
        assert empty.done() and empty.result() is None


def test_backpressure_queues_everything_and_reports_pending_rows(
        adult: pa.Table, where: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real_commit = SpoolFile.commit

    def slow_commit(self: SpoolFile, table: pa.Table) -> None:
        gate.wait(10)
        real_commit(self, table)

    monkeypatch.setattr(SpoolFile, "commit", slow_commit)
    with open_log(where, high_water_rows=20) as plog:
        first = plog.append(request(adult.slice(0, 5), "first"))
        wait_for(lambda: plog.pending_rows == 5)  # the writer holds it, blocked
        futures = [plog.append(request(adult.slice(i, 5), f"r{i}")) for i in range(6)]
        assert plog.pending_rows == 35 and plog.overloaded
        assert not any(f.done() for f in [first, *futures])
        gate.set()
        for f in [first, *futures]:
            f.result(timeout=10)
        assert plog.pending_rows == 0 and not plog.overloaded
    assert len(read_ids(where)) == 35


def test_a_failed_write_fails_its_futures_and_keeps_earlier_rows(
        adult: pa.Table, where: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real = _spool._write_all
    fail = threading.Event()

    def disk_full(fd: int, data: bytes) -> None:
        if fail.is_set():
            real(fd, data[: len(data) // 2])  # half a message reaches the file
            raise OSError(28, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(_spool, "_write_all", disk_full)
    with open_log(where) as plog:
        plog.append(request(adult.slice(0, 2), "ok1")).result()
        fail.set()
        bad = plog.append(request(adult.slice(2, 2), "lost"))
        with pytest.raises(PredictionLogError, match="No space left on device") as err:
            bad.result(timeout=10)
        assert isinstance(err.value, AirlockError) and err.value.http_status == 503
        assert "rows not logged" in str(err.value)
        fail.clear()
        plog.append(request(adult.slice(4, 2), "ok2")).result()  # a fresh spool
    ids = read_ids(where)
    assert sorted(ids) == [("ok1", 0), ("ok1", 1), ("ok2", 0), ("ok2", 1)]


# -- spools, recovery ---------------------------------------------------------------------
def dead_spool(where: dict[str, Any], tables: list[pa.Table]) -> Path:
    """A spool as a writer that died leaves it: written, fsync'd, unlocked."""
    folder = Path(where["spool_dir"]) / "predictions" / "adult"
    folder.mkdir(parents=True, exist_ok=True)
    spool = SpoolFile(folder, tables[0].schema)
    for t in tables:
        spool.commit(t)
    os.close(spool.fd)
    return spool.path


def test_torn_tail_loses_only_the_torn_message(adult: pa.Table, where: dict[str, Any]) -> None:
    path = dead_spool(where, [request(adult.slice(i, 2), f"r{i}") for i in range(5)])
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 7)
    assert sum(b.num_rows for b in iter_spool(path)) == 8
    (key,) = recover_spools(where["spool_dir"], where["artifact_uri"], "predictions", "adult")
    assert not path.exists()
    assert sorted(read_ids(where)) == sorted((f"r{i}", j) for i in range(4) for j in range(2))
    assert key.startswith("predictions/adult/date=2024-03-01/")


def test_an_empty_or_torn_schema_spool_is_just_removed(where: dict[str, Any],
                                                       adult: pa.Table) -> None:
    path = dead_spool(where, [request(adult.slice(0, 1), "r0")])
    with open(path, "r+b") as fh:
        fh.truncate(10)  # inside the schema message
    assert recover_spools(where["spool_dir"], where["artifact_uri"], "predictions",
                          "adult") == []
    assert not path.exists() and segments(where) == []


def test_recovery_skips_the_spools_of_a_live_writer(adult: pa.Table,
                                                   where: dict[str, Any]) -> None:
    with open_log(where) as plog:
        plog.append(request(adult.slice(0, 1), "live")).result()
        assert recover_spools(where["spool_dir"], where["artifact_uri"], "predictions",
                              "adult") == []
        assert len(spool_files(where)) == 1
    assert read_ids(where) == [("live", 0)]


def test_a_new_log_recovers_dead_spools_at_start(adult: pa.Table,
                                                 where: dict[str, Any]) -> None:
    dead_spool(where, [request(adult.slice(0, 3), "old")])
    with open_log(where):
        wait_for(lambda: spool_files(where) == [])
    assert sorted(read_ids(where)) == [("old", 0), ("old", 1), ("old", 2)]


def test_a_segment_that_cannot_be_stored_keeps_its_spool(
        adult: pa.Table, where: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real_put = ArtifactStore.put_file

    def store_down(self: ArtifactStore, src: Path, key: str) -> tuple[int, str]:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_writer, "CONVERT_ATTEMPTS", 1)
    monkeypatch.setattr(ArtifactStore, "put_file", store_down)
    with open_log(where) as plog:
        plog.append(request(adult.slice(0, 3), "kept")).result()
        with pytest.raises(PredictionLogError, match=r"could not store the segment of .* "
                           r"the rows are safe in the spool"):
            plog.roll()
        assert [p.suffix for p in spool_files(where)] == [".sealed"] and segments(where) == []
        assert sorted(read_ids(where)) == [("kept", 0), ("kept", 1), ("kept", 2)]
        plog.append(request(adult.slice(3, 1), "next")).result()  # still logging
    with pytest.raises(PredictionLogError, match=r"could not recover 2 spool\(s\)"):
        recover_spools(where["spool_dir"], where["artifact_uri"], "predictions", "adult")
    monkeypatch.setattr(ArtifactStore, "put_file", real_put)  # the store is back
    assert len(recover_spools(where["spool_dir"], where["artifact_uri"], "predictions",
                              "adult")) == 2
    assert spool_files(where) == []
    assert sorted(read_ids(where)) == [("kept", 0), ("kept", 1), ("kept", 2), ("next", 0)]


def test_recovery_leaves_a_spool_being_created_alone(where: dict[str, Any]) -> None:
    """A writer creates its spool, then locks it: recovery must not take it in between."""
    folder = Path(where["spool_dir"]) / "predictions" / "adult"
    folder.mkdir(parents=True)
    fresh, stale = folder / f".{os.getpid()}-{'a' * 32}.creating", folder / ".1-b.creating"
    fresh.touch()
    stale.touch()
    old = time.time() - 3600
    os.utime(stale, (old, old))
    recover_spools(where["spool_dir"], where["artifact_uri"], "predictions", "adult")
    assert fresh.exists() and not stale.exists()


def test_converted_but_not_deleted_spool_is_read_once(adult: pa.Table,
                                                     where: dict[str, Any]) -> None:
    """A crash between storing the segment and deleting the spool."""
    path = dead_spool(where, [request(adult.slice(0, 4), "r1")])
    store = ArtifactStore(where["artifact_uri"])
    key = convert_spool(path, store, "predictions/adult")
    assert key is not None and path.exists()
    assert sorted(read_ids(where)) == [("r1", i) for i in range(4)]
    assert recover_spools(where["spool_dir"], where["artifact_uri"], "predictions",
                          "adult") == [key]  # the same key, overwritten
    assert len(segments(where)) == 1
    assert sorted(read_ids(where)) == [("r1", i) for i in range(4)]


def test_a_spool_converted_while_being_listed_is_read_from_its_segment(
        adult: pa.Table, where: dict[str, Any]) -> None:
    path = dead_spool(where, [request(adult.slice(0, 2), "r1")])
    convert_spool(path, ArtifactStore(where["artifact_uri"]), "predictions/adult")
    path.unlink()  # gone between the reader's listing of spools and its reading them
    store = ArtifactStore(where["artifact_uri"])
    batches = list(_read._read_spools(store, "predictions/adult", [path], set(),
                                              None, None, None))
    assert [b.column("request_id").to_pylist() for b in batches] == [["r1", "r1"]]


# -- reading ------------------------------------------------------------------------------
@pytest.fixture
def three_days(adult: pa.Table, where: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Segments on three days (one per 6 hours) and one live spool on day 3."""
    with open_log(where) as plog:
        for i in range(12):
            ts = T0 + i * DAY // 4
            plog.append(request(adult.slice(i * 2, 2), f"s{i}", ts_ms=ts)).result()
            plog.roll()
    live = open_log(where).open()
    live.append(request(adult.slice(40, 2), "live", ts_ms=T0 + 3 * DAY + 1)).result()
    yield where
    live.close()


def ts_of(where: dict[str, Any], **kw: Any) -> list[int]:
    table = read_prediction_log("adult", **where, **kw)
    return sorted(table.column("ts").cast(pa.int64()).to_pylist())


def test_reader_filters_since_until_half_open(three_days: dict[str, Any]) -> None:
    everything = [T0 + i * DAY // 4 for i in range(12) for _ in range(2)] + [T0 + 3 * DAY + 1] * 2
    assert ts_of(three_days) == sorted(everything)
    since = datetime(2024, 3, 1, 12, tzinfo=UTC)
    until = datetime(2024, 3, 2, 18, tzinfo=UTC)
    lo, hi = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
    assert ts_of(three_days, since=since, until=until) == [t for t in sorted(everything)
                                                           if lo <= t < hi]
    assert ts_of(three_days, since=until) == [t for t in sorted(everything) if t >= hi]
    naive = datetime(2024, 3, 1, 12)  # taken as UTC
    assert ts_of(three_days, since=naive, until=until) == ts_of(three_days, since=since,
                                                                until=until)
    without_spools = {k: v for k, v in three_days.items() if k != "spool_dir"}
    assert T0 + 3 * DAY + 1 not in ts_of(without_spools)


def test_reader_prunes_segments_before_opening_them(three_days: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real_open = ArtifactStore.open

    def spy(self: ArtifactStore, key: str) -> Any:
        opened.append(key)
        return real_open(self, key)

    monkeypatch.setattr(ArtifactStore, "open", spy)
    since = datetime(2024, 3, 2, tzinfo=UTC)
    until = datetime(2024, 3, 2, 12, tzinfo=UTC)
    table = read_prediction_log("adult", artifact_uri=three_days["artifact_uri"],
                                since=since, until=until)
    assert table.num_rows == 4
    assert len(opened) == 2 and all("/date=2024-03-02/" in k for k in opened)
    opened.clear()
    list(scan_prediction_log("adult", artifact_uri=three_days["artifact_uri"],
                             until=datetime(2024, 3, 1, 6, tzinfo=UTC)))
    assert len(opened) == 1


def test_scan_streams_segment_by_segment_and_projects(three_days: dict[str, Any]) -> None:
    batches = list(scan_prediction_log("adult", **three_days, columns=["request_id"]))
    assert len(batches) == 13  # 12 segments + the live spool
    assert all(b.schema.names == ["request_id"] for b in batches)
    since = datetime(2024, 3, 2, tzinfo=UTC)
    projected = read_prediction_log("adult", **three_days, since=since, columns=["route"])
    assert projected.column_names == ["route"] and projected.num_rows == 8 * 2 + 2
    with pytest.raises(UsageError, match="unknown column 'bogus' for the predictions log"):
        list(scan_prediction_log("adult", **three_days, columns=["bogus"]))


def test_reader_combines_versions_with_different_inputs(adult: pa.Table,
                                                         where: dict[str, Any]) -> None:
    v1 = adult.select(["age", "sex"])
    v2 = adult.select(["age", "hours_per_week", "education"])
    with open_log(where) as plog:
        plog.append(request(v1.slice(0, 2), "v1", version=1)).result()
        plog.roll()
        plog.append(request(v2.slice(2, 3), "v2", version=2)).result()
        table = read_prediction_log("adult", **where)  # one segment + one live spool
    assert table.num_rows == 5
    inputs = table.column("inputs").combine_chunks()
    assert set(inputs.type.names) == {"age", "sex", "hours_per_week", "education"}
    rows = table.to_pylist()
    assert [r["inputs"]["sex"] for r in rows[:2]] == v1.column("sex").to_pylist()[:2]
    assert all(r["inputs"]["hours_per_week"] is None for r in rows[:2])
    assert [r["inputs"]["education"] for r in rows[2:]] == \
        v2.column("education").to_pylist()[2:5]
    assert all(r["inputs"]["sex"] is None for r in rows[2:])
    def key(r: dict[str, Any]) -> tuple[str, int]:
        return r["request_id"], r["row"]

    after = read_prediction_log("adult", **where).to_pylist()  # both rolled now
    assert sorted(after, key=key) == sorted(rows, key=key)


def test_reader_of_an_empty_log(where: dict[str, Any]) -> None:
    with pytest.raises(NotFound) as err:  # a path that does not exist is not an empty log
        read_prediction_log("adult", **where)
    assert str(err.value) == f"no such spool folder: {where['spool_dir']}"
    with pytest.raises(NotFound, match=r"no such prediction log location: .*artifacts"):
        read_prediction_log("adult", artifact_uri=where["artifact_uri"])
    open_log(where).open().close()  # opened, nothing appended
    table = read_prediction_log("adult", **where)
    assert table.num_rows == 0 and "request_id" in table.column_names
    with pytest.raises(NotFound, match="endpoint 'wine' has no prediction log here; logged "
                                       "endpoints: adult"):
        read_prediction_log("wine", **where)
    with pytest.raises(UsageError, match="since must be a datetime"):
        list(scan_prediction_log("adult", **where, since="2024-01-01"))  # type: ignore[arg-type]


def test_feedback_stream(where: dict[str, Any]) -> None:
    with open_log(where, stream="feedback") as fb:
        fb.append(make_feedback(["r1", "r2"], [1, 0], T0)).result()
        fb.append(make_feedback(["r3"], ["cat"], T0 + DAY)).result()
    table = read_prediction_log("adult", **where, stream="feedback",
                                until=datetime(2024, 3, 2, tzinfo=UTC))
    assert table.column("request_id").to_pylist() == ["r1", "r2"]
    assert table.column("label").to_pylist() == [1.0, 0.0]
    assert len(segments(where, "feedback")) == 1

