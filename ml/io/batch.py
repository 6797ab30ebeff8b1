"""Batch scoring of passenger files: every input column kept in order, `survival_probability` added.

    score_file(model, "in.csv", "out.csv")          CSV -> CSV: each cell's text written back as it came
    score_file(model, "in.csv", "out.parquet")      CSV -> Parquet (the input columns as text)
    score_file(model, "in.parquet", "out.csv")      Parquet in (any column types), CSV or Parquet out

The file is streamed in record batches of ~131k rows (pyarrow's multi-threaded CSV reader, or
Parquet's row groups), so memory stays flat whatever its size. Per batch: the passenger attributes
(`ml.io.batch_columns`), each distinct attribute row validated (`invalid_rows`) and scored once by
the model's own predict path, grouped by tree path (`SurvivalModel.predict_proba_grouped`), and
the batch written out. Nothing is written where the target was until the whole file is scored:
the output is a temporary file beside it, renamed into place at the end, removed on any failure.

CSV output is what pandas' `to_csv` writes (minimal quoting; the probability rounded to 6 places
and written as Python's repr), so it is byte-identical to the pandas implementation this replaced.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ml.core.features import invalid_rows
from ml.core.model import InvalidRowsError, SurvivalModel
from ml.core.table import DataError
from ml.io import arrow_csv
from ml.io.batch_columns import OUTPUT_COLUMN, SHOWN_ROWS, ColumnPlan, distinct_rows
from ml.io.serving import Serving

__all__ = ["OUTPUT_COLUMN", "Progress", "UnscorableRowsError", "score_csv", "score_file"]

# rows scored so far, and the rows the whole file probably holds (None: unknown)
Progress = Callable[[int, "int | None"], None]


class ServesModel(Protocol):
    """A scorer (`ml.io.serving.Scorer`, or Snowflake's) whose default version scores the file."""

    def current(self) -> Serving: ...


class UnscorableRowsError(InvalidRowsError):
    """Rows that fail validation, counted as rows (a row with two problems is one row). Only the
    first few are kept: a file can hold millions."""

    def __init__(self, count: int, shown: list[tuple[int, str]]) -> None:
        self.count = count
        self.problems = shown
        listed = "; ".join(f"row {row + 1}: {why}" for row, why in shown)
        more = f" (and {count - len(shown)} more)" if count > len(shown) else ""
        ValueError.__init__(self, f"{count} row(s) cannot be scored: {listed}{more}")


def is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".parquet", ".pq")


def score_file(
    scorer: SurvivalModel | ServesModel,
    source: str | Path,
    target: str | Path,
    *,
    progress: Progress | None = None,
    batch_rows: int = arrow_csv.BATCH_ROWS,
    read_block: int = arrow_csv.READ_BLOCK,
) -> int:
    """Score a CSV or Parquet file (by its suffix) into CSV or Parquet (by the target's suffix);
    returns the number of rows written. `progress(rows, expected_rows)` is called after each batch."""
    source, target = Path(source), Path(target)
    _check_paths(source, target)
    model = scorer if isinstance(scorer, SurvivalModel) else scorer.current().model
    if is_parquet(source):
        batches, names, schema, expected = _parquet_input(source, batch_rows)
    else:
        names, header_bytes = arrow_csv.read_header(source)
        schema = None
        block = max(read_block, header_bytes + 1)
        batches = arrow_csv.text_batches(source, names, block_size=block, batch_rows=batch_rows)
        expected = _CsvEstimate(source.stat().st_size)
    plan = ColumnPlan(names)
    sink: _Sink = _ParquetSink(target, names, schema) if is_parquet(target) else _CsvSink(target, names)
    stream = arrow_csv.prefetched(batches)
    try:
        rows = _score(model, plan, stream, sink, expected, progress)
        if rows == 0:
            raise DataError(f"{source} has a header but no passengers: nothing to score")
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    finally:
        stream.close()
    return rows


score_csv = score_file  # the name callers knew; a .parquet on either side works too


def _check_paths(source: Path, target: Path) -> None:
    if not source.is_file():
        raise DataError(f"no such file: {source}")
    if target.is_dir():
        raise DataError(f"{target} is a directory: give the output a file name")
    if not target.parent.is_dir():
        raise DataError(f"no such directory for the output: {target.parent}")
    if target.exists() and source.resolve() == target.resolve():
        raise DataError("the output must not overwrite the input")


def _parquet_input(
    source: Path, batch_rows: int
) -> tuple[Iterator[pa.RecordBatch], list[str], pa.Schema, Callable[[int, pa.RecordBatch], int]]:
    try:
        metadata = pq.read_metadata(source)
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowInvalid, OSError) as exc:
        raise _parquet_error(source, exc) from None

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            with pq.ParquetFile(source) as parquet:
                yield from parquet.iter_batches(batch_size=batch_rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise _parquet_error(source, exc) from None

    total = metadata.num_rows
    return batches(), list(schema.names), schema, lambda _rows, _batch: total


def _parquet_error(source: Path, exc: BaseException) -> DataError:
    return DataError(f"cannot read {source} as Parquet: {arrow_csv.short(exc)}")


@dataclass
class _CsvEstimate:
    """The rows a CSV file probably holds: its size over the bytes per row read so far."""

    file_bytes: int
    read_bytes: int = 0

    def __call__(self, rows: int, batch: pa.RecordBatch) -> int:
        self.read_bytes += arrow_csv.text_bytes(batch)
        return max(rows, round(rows * self.file_bytes / max(self.read_bytes, 1)))


class _Problems:
    """Rows that cannot be scored: how many, and the first few with their reasons."""

    def __init__(self) -> None:
        self.count = 0
        self.shown: list[tuple[int, str]] = []

    def add(self, found: list[tuple[int, str]], inverse: np.ndarray, first_row: int) -> None:
        """`found` names distinct rows; every row with those attributes has the same problems."""
        why_by_distinct: dict[int, list[str]] = {}
        for distinct, why in found:
            why_by_distinct.setdefault(distinct, []).append(why.rstrip("."))
        rows = np.flatnonzero(np.isin(inverse, list(why_by_distinct)))
        self.count += len(rows)
        for row in rows[: SHOWN_ROWS - len(self.shown)]:
            self.shown.append((first_row + int(row), ", ".join(why_by_distinct[int(inverse[row])])))

    def error(self) -> UnscorableRowsError:
        return UnscorableRowsError(self.count, self.shown)


def _score(
    model: SurvivalModel,
    plan: ColumnPlan,
    batches: Iterator[pa.RecordBatch],
    sink: _Sink,
    expected: Callable[[int, pa.RecordBatch], int],
    progress: Progress | None,
) -> int:
    rows = 0
    share = True
    problems = _Problems()
    for number, batch in enumerate(batches):
        columns, words = plan.columns(batch, rows)
        # Sharing pays when rows repeat. When the last try found mostly distinct rows (a real
        # list), skip it, trying again every 8th batch.
        if share or number % 8 == 0:
            first, inverse = distinct_rows(words)
            share = len(first) <= 0.5 * batch.num_rows
        else:
            first = inverse = np.arange(batch.num_rows)
        distinct = {name: values[first] for name, values in columns.items()}
        found = invalid_rows(distinct)
        if found:  # nothing more is written, but the rest is read so every bad row is counted
            problems.add(found, inverse, rows)
        elif not problems.count:
            sink.write(batch, model.predict_proba_grouped(distinct)[inverse])
        rows += batch.num_rows
        if progress is not None:
            progress(rows, expected(rows, batch))
    if problems.count:
        raise problems.error()
    return rows


class _Sink:
    """Writes to a temporary file beside the target; `commit` renames it into place."""

    def __init__(self, target: Path) -> None:
        # A name of its own, so two runs writing one target never share a partial file; created
        # with the mode open() would have given the target (the umask applies).
        self.partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        os.close(os.open(self.partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        self.target = target

    def write(self, batch: pa.RecordBatch, probabilities: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def commit(self) -> None:
        self.close()
        self.partial.replace(self.target)

    def abort(self) -> None:
        try:
            self.close()
        finally:
            self.partial.unlink(missing_ok=True)


class _CsvSink(_Sink):
    def __init__(self, target: Path, names: list[str]) -> None:
        super().__init__(target)
        self.file = self.partial.open("wb", buffering=0)
        self.file.write(arrow_csv.header_line([*names, OUTPUT_COLUMN]))

    def write(self, batch: pa.RecordBatch, probabilities: np.ndarray) -> None:
        self.file.write(arrow_csv.lines(batch.columns, arrow_csv.probability_lines(probabilities)))

    def close(self) -> None:
        self.file.close()


class _ParquetSink(_Sink):
    """The input columns as they came (a CSV's as text), then the probability as a double."""

    def __init__(self, target: Path, names: list[str], schema: pa.Schema | None) -> None:
        super().__init__(target)
        fields = list(schema) if schema is not None else [pa.field(name, pa.string()) for name in names]
        self.schema = pa.schema([*fields, pa.field(OUTPUT_COLUMN, pa.float64())])
        self.writer: Any = pq.ParquetWriter(str(self.partial), self.schema, compression="snappy")

    def write(self, batch: pa.RecordBatch, probabilities: np.ndarray) -> None:
        columns = [*batch.columns, pa.array(np.round(probabilities, 6))]
        self.writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
