"""The one atomic writer and the one table-file reader (airlock._files), and its JSON-lines
reader of records."""

from __future__ import annotations

import gzip
import io
import os
import threading
from pathlib import Path
from typing import IO

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airlock._files import (
    EMPTY,
    MIXED_FORMATS,
    NO_DATA_FILES,
    NO_MATCH,
    NOT_FOUND,
    NOT_JSON,
    NOT_UTF8,
    RAGGED,
    UNKNOWN_FORMAT,
    UNREADABLE,
    UNWRITABLE,
    parse_jsonl,
    read_jsonl,
    read_table,
    reading,
    scan_table,
    table_format,
    write_atomic,
)
from airlock.errors import AirlockError, InvalidInput, NotFound, UsageError

FRAME = pl.DataFrame({"id": [1, 2, 3], "city": ["Köln", "Lyon", None],
                      "score": [0.5, 1.5, 2.5]})


# -- write_atomic --------------------------------------------------------------------------

def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_atomic_writes_bytes_text_and_callbacks(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    assert write_atomic(target, b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"
    write_atomic(target, "Köln\n")
    assert target.read_text(encoding="utf-8") == "Köln\n"

    def chunks(fh: IO[bytes]) -> None:
        for i in range(100):
            fh.write(b"%d\n" % i)
    write_atomic(str(target), chunks)
    assert target.read_bytes() == b"".join(b"%d\n" % i for i in range(100))
    assert _leftovers(tmp_path) == []


def test_write_atomic_gives_normal_permissions_and_keeps_existing_ones(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.txt"
    write_atomic(fresh, "x")
    umask = os.umask(0o022)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would, not mkstemp's 600
    secret = tmp_path / "secret"
    write_atomic(secret, "s", mode=0o600)
    write_atomic(secret, "t")  # replacing keeps the mode it had
    assert secret.stat().st_mode & 0o777 == 0o600


def test_write_atomic_exception_mid_write_keeps_old_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, "old")

    def fails(fh: IO[bytes]) -> None:
        fh.write(b"half of the new")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        write_atomic(target, fails)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_write_atomic_failed_rename_keeps_old_content(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "card.md"
    write_atomic(target, "old")

    def no_space(*_: object) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(UsageError) as info:
        write_atomic(target, "new")
    assert str(info.value) == UNWRITABLE.format(path=target, fault="no space left on device")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_write_atomic_names_a_missing_or_unwritable_folder(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotFound) as info:
        write_atomic(tmp_path / "nope" / "x.txt", "x")
    assert str(info.value) == NOT_FOUND.format(path=tmp_path / "nope")

    def denied(**_: object) -> None:
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("tempfile.mkstemp", denied)
    with pytest.raises(UsageError) as err:
        write_atomic(tmp_path / "x.txt", "x")
    assert str(err.value) == UNWRITABLE.format(path=tmp_path / "x.txt", fault="permission denied")


def test_concurrent_writers_to_one_target_never_collide(tmp_path: Path) -> None:
    """Eight threads replace one file 25 times each while a reader watches: every read is one
    writer's complete payload, every write succeeds, and no temporary file is left."""
    target = tmp_path / "shared.bin"
    write_atomic(target, b"start")
    payloads = [bytes([65 + w]) * (64 * 1024 + w) for w in range(8)]
    errors: list[BaseException] = []
    seen: set[bytes] = set()
    done = threading.Event()

    def writer(w: int) -> None:
        try:
            for _ in range(25):
                write_atomic(target, payloads[w])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def reader() -> None:
        while not done.is_set():
            seen.add(target.read_bytes())

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    watch = threading.Thread(target=reader)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watch.join()
    assert errors == []
    assert seen <= {b"start", *payloads}
    assert target.read_bytes() in payloads
    assert _leftovers(tmp_path) == []


# -- reading: formats ----------------------------------------------------------------------

def _write(frame: pl.DataFrame, path: Path) -> Path:
    name = path.name.lower()
    if name.endswith((".csv", ".txt")):
        frame.write_csv(path)
    elif name.endswith(".tsv"):
        frame.write_csv(path, separator="\t")
    elif name.endswith(".csv.gz"):
        path.write_bytes(gzip.compress(frame.write_csv().encode()))
    elif name.endswith((".jsonl", ".ndjson")):
        frame.write_ndjson(path)
    elif name.endswith((".arrow", ".ipc", ".feather")):
        frame.write_ipc(path)
    else:
        frame.write_parquet(path)
    return path


@pytest.mark.parametrize("name", ["t.parquet", "t.pq", "t.csv", "t.tsv", "t.csv.gz", "t.jsonl",
                                  "t.ndjson", "t.arrow", "t.feather", "t.ipc"])
def test_every_format_reads_the_same_table(tmp_path: Path, name: str) -> None:
    path = _write(FRAME, tmp_path / name)
    lf = scan_table(path)
    assert isinstance(lf, pl.LazyFrame)
    assert pl.from_arrow(read_table(path)).equals(FRAME)  # type: ignore[union-attr]
    assert read_table(path, columns=["score", "nope"]).column_names == ["score"]


def test_folders_globs_and_hive_partitions(tmp_path: Path) -> None:
    root = tmp_path / "events"
    for year, part in ((2024, FRAME.head(2)), (2025, FRAME.tail(1))):
        (root / f"year={year}").mkdir(parents=True)
        part.write_parquet(root / f"year={year}" / "part-0.parquet")
    (root / "_SUCCESS").write_text("")
    (root / ".crc").mkdir()
    (root / ".crc" / "junk.parquet").write_bytes(b"not parquet")
    folder = pl.from_arrow(read_table(root))
    assert isinstance(folder, pl.DataFrame)
    assert folder.columns == ["id", "city", "score", "year"]
    assert folder["year"].to_list() == [2024, 2024, 2025]
    assert read_table(str(root / "**" / "*.parquet")).num_rows == 3
    csvs = tmp_path / "csvs"
    csvs.mkdir()
    _write(FRAME.head(1), csvs / "a.csv")
    _write(FRAME.tail(2), csvs / "b.csv")
    assert read_table(csvs).num_rows == 3
    assert table_format(csvs) == "csv"
    assert table_format(root) == "parquet"
    assert table_format(tmp_path / "nope.csv") is None


def test_text_columns_stay_unparsed(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,when\n007,2024-01-02\n")
    typed = scan_table(path).collect_schema()
    assert typed["id"] == pl.Int64 and typed["when"] == pl.Date
    raw = scan_table(path, text=["id", "when", "absent"]).collect()
    assert raw.row(0) == ("007", "2024-01-02")


# -- reading: pandas index columns ---------------------------------------------------------

def _pandas_files(tmp_path: Path) -> dict[str, Path]:
    unnamed = pd.DataFrame({"x": [1.0, 2.0]}, index=[10, 20])
    named = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index([10, 20], name="row_id"))
    out = {"unnamed": tmp_path / "unnamed.parquet", "named": tmp_path / "named.parquet",
           "feather": tmp_path / "named.feather"}
    unnamed.to_parquet(out["unnamed"])
    named.to_parquet(out["named"])
    named.reset_index().to_feather(out["feather"])  # feather: a plain column, not an index
    return out


def test_pandas_index_columns_are_ignored_unless_asked(tmp_path: Path) -> None:
    files = _pandas_files(tmp_path)
    assert pl.read_parquet(files["unnamed"]).columns == ["x", "__index_level_0__"]
    assert scan_table(files["unnamed"]).collect_schema().names() == ["x"]
    assert scan_table(files["named"]).collect_schema().names() == ["x"]
    assert scan_table(files["named"], keep_index=True).collect_schema().names() == [
        "x", "row_id"]
    assert scan_table(files["named"], keep_index=["row_id"]).collect_schema().names() == [
        "x", "row_id"]
    assert scan_table(files["feather"]).collect_schema().names() == ["row_id", "x"]


def test_monitor_profile_and_contract_infer_ignore_the_pandas_index(tmp_path: Path) -> None:
    from airlock.contracts import Contract
    from airlock.monitor import DriftMonitor, Profile

    path = tmp_path / "ref.parquet"
    frame = pd.DataFrame({"x": [float(i) for i in range(50)], "c": ["a", "b"] * 25},
                         index=[7 * i for i in range(50)])
    frame.to_parquet(path)
    assert set(Profile.from_data(path).columns) == {"x", "c"}
    assert set(Contract.infer(path).spec.columns) == {"x", "c"}
    # the current data has no index column: drift scores it rather than refusing it
    result = DriftMonitor().fit(path).score(pl.DataFrame({"x": [1.0] * 50, "c": ["a"] * 50}))
    assert set(result.columns) == {"x", "c"}


# -- reading: every error, one message each, naming the file -------------------------------

def _error(path: Path | str) -> AirlockError:
    with pytest.raises(AirlockError) as info:
        lf = scan_table(path)
        with reading(path):
            lf.collect()
    return info.value


def test_missing_paths_are_not_found(tmp_path: Path) -> None:
    err = _error(tmp_path / "gone.parquet")
    assert isinstance(err, NotFound)
    assert str(err) == NOT_FOUND.format(path=tmp_path / "gone.parquet")
    pattern = str(tmp_path / "*.parquet")
    assert str(_error(pattern)) == NO_MATCH.format(path=pattern)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("#")
    assert str(_error(tmp_path / "docs")) == NO_DATA_FILES.format(path=tmp_path / "docs")


@pytest.mark.parametrize(("name", "content", "fault"), [
    ("empty.parquet", b"", EMPTY),
    ("empty.csv", b"", EMPTY),
    ("short.parquet", b"PAR1", "not a Parquet file (too short: no header and footer)"),
    ("garbage.parquet", b"this is not a parquet file at all", "not a Parquet file "
                                                                 "(no Parquet footer)"),
    ("latin1.csv", "name,city\nJosé,Köln\n".encode("latin-1"), NOT_UTF8),
    ("latin1-header.csv", "straße,n\nx,1\n".encode("latin-1"), NOT_UTF8),
    ("ragged.csv", b"a,b\n1,2\n3,4,5\n", RAGGED),
    ("nul.csv", b"a\x00b,c\n1,2\n", "a column name holds a NUL byte"),
    ("garbage.arrow", b"\x00\x01garbage", "not a valid Arrow IPC file"),
    ("garbage.jsonl", b'{"a": 1}\nnot json\n', "not a valid JSON lines file"),
])
def test_broken_files_are_one_usage_error_naming_the_file(tmp_path: Path, name: str,
                                                          content: bytes, fault: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    err = _error(path)
    assert isinstance(err, InvalidInput)
    assert str(err).startswith(UNREADABLE.format(path=path, fault=fault))
    assert "\n" not in str(err)


def test_unknown_and_mixed_formats(tmp_path: Path) -> None:
    odd = tmp_path / "t.xlsx"
    odd.write_bytes(b"PK")
    assert str(_error(odd)) == UNKNOWN_FORMAT.format(path=odd)
    zipped = tmp_path / "t.parquet.gz"
    zipped.write_bytes(gzip.compress(b"x"))
    assert str(_error(zipped)) == UNKNOWN_FORMAT.format(path=zipped)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _write(FRAME, mixed / "a.csv")
    _write(FRAME, mixed / "b.parquet")
    assert str(_error(mixed)) == MIXED_FORMATS.format(path=mixed, formats="CSV, Parquet")


def _valid_bytes(fmt: str) -> bytes:
    frame = pl.DataFrame({"a": list(range(40)), "b": ["x", "yy"] * 20})
    buf = io.BytesIO()
    if fmt == ".parquet":
        frame.write_parquet(buf)
    elif fmt == ".arrow":
        frame.write_ipc(buf)
    elif fmt == ".jsonl":
        frame.write_ndjson(buf)
    else:
        frame.write_csv(buf, separator="\t" if fmt == ".tsv" else ",")
    return buf.getvalue()


VALID = {fmt: _valid_bytes(fmt) for fmt in (".parquet", ".arrow", ".jsonl", ".csv", ".tsv")}


@st.composite
def _damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(VALID)))
    base = VALID[fmt]
    how = draw(st.sampled_from(["random", "truncated", "flipped"]))
    if how == "random":
        return fmt, draw(st.binary(min_size=1, max_size=400))
    if how == "truncated":
        return fmt, base[: draw(st.integers(1, len(base) - 1))]
    data = bytearray(base)
    for pos, byte in draw(st.lists(st.tuples(st.integers(0, len(base) - 1),
                                             st.integers(0, 255)), min_size=1, max_size=8)):
        data[pos] = byte
    return fmt, bytes(data)


@settings(max_examples=150, deadline=2000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_damaged())
def test_damaged_files_raise_only_airlock_errors(tmp_path: Path, case: tuple[str, bytes]) -> None:
    """Garbage, truncated or bit-flipped files: a table or an airlock error, nothing else."""
    fmt, data = case
    path = tmp_path / f"fuzz{fmt}"
    path.write_bytes(data)
    try:
        table = read_table(path)
    except AirlockError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert table.num_columns >= 1


# -- JSON lines of records ------------------------------------------------------------------
def test_json_lines_name_each_record_and_each_fault(tmp_path: Path) -> None:
    from airlock.errors import InvalidInput, NotFound, UsageError, file_not_found

    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"text": "a"}\n\n  \n"b"\n[1, 2]\n', encoding="utf-8")
    assert read_jsonl(cases, "cases file") == [({"text": "a"}, "cases.jsonl line 1"),
                                               ("b", "cases.jsonl line 4"),
                                               ([1, 2], "cases.jsonl line 5")]
    assert parse_jsonl(["1"], "stdin") == [(1, "stdin line 1")]
    with pytest.raises(InvalidInput) as bad:
        parse_jsonl(["1", "", "{oops"], "stdin")
    assert str(bad.value) == NOT_JSON.format(where="stdin line 3",
                                             fault="Expecting property name enclosed in "
                                                   "double quotes")
    with pytest.raises(NotFound) as missing:
        read_jsonl(tmp_path / "nope.jsonl", "cases file")
    assert str(missing.value) == str(file_not_found(tmp_path / "nope.jsonl", "cases file"))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"text": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(UsageError, match=r"^cannot read .*latin\.jsonl: "):
        read_jsonl(latin, "cases file")


def test_stream_jsonl_yields_bad_lines_as_errors_and_skips_long_ones() -> None:
    from airlock._files import stream_jsonl

    data = (b'{"a": 1}\n\n' + b'"' + b"x" * 100 + b'"\n' + b"\xff\xfe\n" + b"{nope\n"
            + b'{"b": 2}')  # no newline at the end
    lines = list(stream_jsonl(io.BytesIO(data), "f.jsonl", max_line_bytes=40,
                              limit_name="max_input_bytes"))
    assert [(x.number, x.value) for x in lines] == [(1, {"a": 1}), (3, None), (4, None),
                                                   (5, None), (6, {"b": 2})]
    assert [x.error for x in lines] == [
        None, "f.jsonl line 3: a line of 102 bytes is over the limit of 40 bytes "
              "(max_input_bytes)",
        "f.jsonl line 4: the text is not UTF-8 (re-encode the file as UTF-8)",
        "f.jsonl line 5: not JSON (Expecting property name enclosed in double quotes)", None]
    with pytest.raises(NotFound, match="no such file"):
        list(stream_jsonl("/nonexistent/x.jsonl", "x.jsonl", max_line_bytes=10))
