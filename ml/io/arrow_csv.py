"""CSV text with Arrow: the header, record batches of text read in the background, clear errors,
and lines written back with pandas' minimal quoting.

Every column is read as text (an empty cell is "", never null), so what is written back is exactly
the cell's text. pyarrow's own `CSVWriter` cannot write these bytes: it quotes every text cell
(or refuses cells with commas), so lines are joined here with Arrow's compute functions.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from ml.core.table import DataError

READ_BLOCK = 2 << 20  # bytes Arrow parses at a time; a row longer than this is refused
# Arrow's streaming reader decodes blocks ahead: with 8 MB blocks its pool reached ~440 MB on a
# 10M-row file, with 2 MB ~160 MB. Blocks are put together into batches of about this many rows,
# so the per-batch work in Python is spread over many rows.
BATCH_ROWS = 131_072
HEADER_CHUNK = 1 << 20
HEADER_LIMIT = 16 << 20  # a header line longer than this is not a CSV header
SHOWN_TEXT = 60  # characters of a bad line quoted in an error message


def short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _parse_options(handler: Callable[[Any], str] | None = None) -> pv.ParseOptions:
    # Quoted cells may hold commas, doubled quotes and line breaks, as pandas allows.
    return pv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler)


# -- reading -----------------------------------------------------------------------------------------
def _header_bytes(source: Path) -> bytes:
    """The first line, up to its first line break outside quotes."""
    head = bytearray()
    odd_quotes = 0  # quotes seen before this chunk, modulo 2
    with source.open("rb") as handle:
        while chunk := handle.read(HEADER_CHUNK):
            data = np.frombuffer(chunk, np.uint8)
            quotes = np.cumsum(data == ord('"')) + odd_quotes
            breaks = np.flatnonzero(data == ord("\n"))
            outside = breaks[quotes[breaks] % 2 == 0]
            if outside.size:
                head += chunk[: int(outside[0]) + 1]
                break
            head += chunk
            odd_quotes = int(quotes[-1]) % 2
            if len(head) > HEADER_LIMIT:
                break
    if len(head) > HEADER_LIMIT:
        raise DataError(
            f"cannot read {source} as CSV: the header line is longer than {HEADER_LIMIT >> 20} MB"
        )
    return bytes(head)  # without a line break: the whole file is its header


def read_header(source: Path) -> tuple[list[str], int]:
    """The column names, as Arrow parses them (quotes allowed; a UTF-8 BOM dropped), and the
    header's length in bytes (Arrow's blocks must hold it whole)."""
    header = _header_bytes(source)
    if not header.strip():
        raise DataError(f"cannot read {source} as CSV: it is empty (no header, no passengers)")
    try:
        reader = pv.open_csv(
            pa.BufferReader(header),
            read_options=pv.ReadOptions(block_size=len(header) + 1, use_threads=False),
            parse_options=_parse_options(),
        )
        names = list(reader.schema.names)
        reader.close()
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise read_error(source, exc) from None
    return names, len(header)


def text_batches(
    source: Path, names: list[str], *, block_size: int = READ_BLOCK, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Record batches of about `batch_rows` rows, every column as text."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in _text_blocks(source, names, block_size):
        pending.append(batch)
        count += batch.num_rows
        if count >= batch_rows:
            yield _concat(pending)
            pending, count = [], 0
    if pending:
        yield _concat(pending)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _text_blocks(source: Path, names: list[str], block_size: int) -> Iterator[pa.RecordBatch]:
    convert = pv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    read = pv.ReadOptions(block_size=block_size, use_threads=True)
    try:
        reader = pv.open_csv(
            source, read_options=read, parse_options=_parse_options(), convert_options=convert
        )
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                if batch.num_rows:
                    yield batch
        finally:
            reader.close()
    except pa.ArrowInvalid as exc:
        raise read_error(source, exc, block_size) from None


def read_error(source: Path, exc: BaseException, block_size: int = READ_BLOCK) -> DataError:
    """A clear, bounded message for what Arrow's CSV reader refused."""
    text = str(exc)
    if "straddl" in text:
        return DataError(
            f"cannot read {source} as CSV: a row is longer than {block_size / 1e6:.0f} MB"
            " (is it a CSV file? an unclosed quote?)"
        )
    if "Expected" in text and "columns, got" in text:
        where = _first_ragged_row(source, block_size)
        if where:
            return DataError(f"cannot read {source} as CSV: {where}")
    if "invalid UTF8" in text or isinstance(exc, UnicodeDecodeError):
        return DataError(f"cannot read {source} as CSV: it is not UTF-8 text ({short(exc, 120)})")
    return DataError(f"cannot read {source} as CSV: {short(exc)}")


def _first_ragged_row(source: Path, block_size: int) -> str | None:
    """Multi-threaded parsing does not know row numbers: after the error, a second, serial pass
    finds the first row whose number of fields differs from the header's."""
    found: list[Any] = []

    def handler(row: Any) -> str:
        found.append(row)
        return "error"

    try:
        reader = pv.open_csv(
            source,
            read_options=pv.ReadOptions(block_size=block_size, use_threads=False),
            parse_options=_parse_options(handler),
            convert_options=pv.ConvertOptions(include_columns=[]),
        )
        for _ in reader:
            pass
    except pa.ArrowInvalid:
        pass
    if not found:
        return None
    row = found[0]
    text = row.text[: SHOWN_TEXT + 1]
    shown = text[:SHOWN_TEXT] + ("…" if len(text) > SHOWN_TEXT else "")
    line = f"line {row.number}" if row.number is not None else "a line"
    return f"{line} has {row.actual_columns} fields, the header has {row.expected_columns}: {shown!r}"


class _Reader(threading.Thread):
    """Iterates `batches` on its own thread, handing each batch (or its error) over a queue of one."""

    DONE = object()

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        super().__init__(name="csv-reader", daemon=True)
        self.batches = batches
        self.handed: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.stop = threading.Event()

    def hand(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.handed.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            for batch in self.batches:
                if not self.hand(batch):
                    return
            self.hand(self.DONE)
        except BaseException as exc:  # raised in the consumer
            self.hand(exc)
        finally:
            close = getattr(self.batches, "close", None)
            if close is not None:
                close()  # the file, closed by the thread that read it


def prefetched(batches: Iterator[pa.RecordBatch]) -> Generator[pa.RecordBatch, None, None]:
    """Parse the next batch on a thread while this one is scored and written. One batch waits at
    most, so memory stays bounded; closing the iterator stops the thread."""
    reader = _Reader(batches)
    reader.start()
    try:
        while (item := reader.handed.get()) is not reader.DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        reader.stop.set()
        reader.join()


def text_bytes(batch: pa.RecordBatch) -> int:
    """About how many bytes of the file a batch of text came from (cells, commas, line ends)."""
    cells = sum(pc.sum(pc.binary_length(column)).as_py() or 0 for column in batch.columns)
    return int(cells) + batch.num_rows * max(batch.num_columns, 1)


# -- writing -----------------------------------------------------------------------------------------
def _probability_table() -> tuple[np.ndarray, np.ndarray]:
    """repr() of k / 1e6 where it is not '0.dddddd' (k < 100: '1.2e-05'; k = 1e6: '1.0')."""
    special = [repr(k / 1e6) for k in range(100)] + ["1.0"]
    table = np.zeros((len(special), 10), dtype=np.uint8)
    lengths = np.zeros(len(special), dtype=np.int64)
    for row, text in enumerate(special):
        data = (text + "\n").encode()
        table[row, : len(data)] = np.frombuffer(data, np.uint8)
        lengths[row] = len(data)
    return table, lengths


_SPECIAL_TEXT, _SPECIAL_LENGTHS = _probability_table()
_POW10 = 10 ** np.arange(5, -1, -1, dtype=np.int64)  # the six decimals of k, most significant first


def probability_lines(probabilities: np.ndarray) -> pa.Array:
    """np.round(p, 6) as pandas' to_csv writes it (Python's repr: '0.5', '0.000123', '1.2e-05',
    '1.0'), each with the line's '\\n', as an Arrow string array built in numpy."""
    k = np.rint(np.asarray(probabilities, dtype=np.float64) * 1e6).astype(np.int64)
    if k.size and (k.min() < 0 or k.max() > 1_000_000):
        raise ValueError("probabilities must be between 0 and 1")
    n = k.size
    text = np.zeros((n, 10), dtype=np.uint8)
    text[:, 0], text[:, 1] = ord("0"), ord(".")
    digits = (k[:, None] // _POW10) % 10
    text[:, 2:8] = digits + ord("0")
    # '0.' and the six decimals without trailing zeros (k >= 100 has a non-zero one among them)
    last = 5 - np.argmax((digits != 0)[:, ::-1], axis=1)
    lengths = last + 3
    text[np.arange(n), lengths] = ord("\n")
    lengths = lengths + 1
    special = (k < 100) | (k == 1_000_000)
    if special.any():
        which = np.where(k[special] == 1_000_000, 100, k[special])
        text[special] = _SPECIAL_TEXT[which]
        lengths[special] = _SPECIAL_LENGTHS[which]
    data = text[np.arange(10)[None, :] < lengths[:, None]]  # each row's bytes, back to back
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


_QUOTED_BYTES = (b",", b'"', b"\n", b"\r")  # what pandas' csv.QUOTE_MINIMAL quotes


def _needs_quotes(column: pa.Array) -> np.ndarray | None:
    """Rows whose text holds a comma, quote or line break (None: no row does). Most columns hold
    none, which four memchr-speed searches of the column's bytes tell; else numpy finds the rows."""
    _, offsets_buffer, data_buffer = column.buffers()
    if data_buffer is None:
        return None
    offsets = np.frombuffer(offsets_buffer, np.int32, column.offset + len(column) + 1)[column.offset :]
    start, end = int(offsets[0]), int(offsets[-1])
    raw = memoryview(data_buffer)[start:end].tobytes()
    if not any(special in raw for special in _QUOTED_BYTES):
        return None
    data = np.frombuffer(raw, np.uint8)
    hits = np.flatnonzero((data == 44) | (data == 34) | (data == 10) | (data == 13))
    rows = np.searchsorted(offsets, hits + start, side="right") - 1
    mask = np.zeros(len(column), dtype=bool)
    mask[rows] = True
    return mask


def _quoted(column: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")


def minimal_quoting(column: pa.Array) -> pa.Array:
    mask = _needs_quotes(column)
    if mask is None:
        return column
    if mask.mean() > 0.25:  # most rows (a name column): quote every cell, keep the quoted ones
        return pc.if_else(mask, _quoted(column), column)
    return pc.replace_with_mask(column, mask, _quoted(column.filter(mask)))


def header_line(names: list[str]) -> bytes:
    cells = [
        f'"{name.replace(chr(34), chr(34) * 2)}"' if any(c in name for c in ',"\r\n') else name
        for name in names
    ]
    return (",".join(cells) + "\n").encode()


def as_text(column: pa.Array) -> pa.Array:
    """A column as text (a typed Parquet column with Arrow's formatting); null as empty (a null
    cell would make its whole line null when the cells are joined)."""
    if column.type == pa.string() and not column.null_count:
        return column
    return column.cast(pa.string()).fill_null("")


def lines(cells: list[pa.Array], line_ends: pa.Array) -> memoryview:
    """Each row's cells, minimally quoted and joined by commas, then its line end, as bytes."""
    joined = pc.binary_join_element_wise(*(minimal_quoting(as_text(c)) for c in cells), line_ends, ",")
    _, offsets, data = joined.buffers()
    start, end = np.frombuffer(offsets, np.int32, joined.offset + len(joined) + 1)[[joined.offset, -1]]
    return memoryview(data)[start:end]
