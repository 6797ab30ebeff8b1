"""Batch scoring of passenger CSVs: every input column kept in order, `survival_probability` added."""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ml.core.table import NUMERIC_SOURCE_COLUMNS, DataError, canonical_name, normalize

OUTPUT_COLUMN = "survival_probability"


class FrameScorer(Protocol):
    def score_frame(self, frame: pd.DataFrame) -> np.ndarray: ...


def score_frame(scorer: FrameScorer, frame: pd.DataFrame) -> pd.DataFrame:
    """The input frame with `survival_probability` appended (a `survived` column is not used)."""
    if OUTPUT_COLUMN in frame.columns:
        raise DataError(f"the input already has a {OUTPUT_COLUMN} column")
    canonical = normalize(frame, require_target=False)
    probabilities = scorer.score_frame(canonical)
    out = frame.copy(deep=False)
    out[OUTPUT_COLUMN] = np.round(probabilities, 6)
    return out


def _ragged_error(source: Path) -> DataError:
    """Which row has more fields than the header (only on the error path: reads row by row)."""
    with source.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = csv.reader(handle)
        header = len(next(rows, []))
        for number, row in enumerate(rows, start=2):
            if len(row) > header:
                return DataError(f"{source}: line {number} has {len(row)} fields, the header has {header}")
    return DataError(f"{source}: some rows have more fields than the header")


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_csv(source: Path, **options: Any) -> pd.DataFrame:
    """pandas' read_csv, its errors as one short line (its own can run to several lines)."""
    try:
        with warnings.catch_warnings():
            # With index_col=False pandas drops the fields past the header's (with a warning)
            # rather than make the first column the index: either way data would be lost.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(source, low_memory=False, index_col=False, **options)
    except pd.errors.ParserWarning:
        raise _ragged_error(source) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        found = _FIELDS.search(str(exc))
        if found:
            expected, line, saw = found.groups()
            raise DataError(f"{source}: line {line} has {saw} fields, the header has {expected}") from None
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"cannot read {source} as CSV: {first[:200]}") from None


def score_csv(scorer: FrameScorer, source: str | Path, target: str | Path) -> int:
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise DataError(f"no such file: {source}")
    if target.is_dir():
        raise DataError(f"{target} is a directory: give the output a file name")
    if not target.parent.is_dir():
        raise DataError(f"no such directory for the output: {target.parent}")
    if source.resolve() == target.resolve():
        raise DataError("the output must not overwrite the input")
    # As text, so every input value is written back exactly as it came (29 stays 29, not 29.0;
    # an id keeps its leading zeros). The numeric inputs are read a second time, as numbers:
    # pandas' CSV parser converts them far faster than converting the text afterwards.
    text = _read_csv(source, dtype=str, keep_default_na=False)
    numeric = [c for c in text.columns if canonical_name(c) in NUMERIC_SOURCE_COLUMNS]
    numbers = _read_csv(source, usecols=numeric) if numeric else pd.DataFrame()
    if text.empty:
        raise DataError(f"{source} has a header but no passengers: nothing to score")
    frame = text.copy(deep=False)
    for column in numeric:
        parsed = pd.to_numeric(numbers[column], errors="coerce")
        missing = parsed.isna()
        garbled = text[column][missing].str.strip().ne("")  # blank means unknown; anything else is wrong
        if garbled.any():
            rows = ", ".join(str(i + 1) for i in garbled.index[garbled][:5])
            raise DataError(f"column {column} has values that are not numbers (row {rows})")
        frame[column] = parsed
    scored = score_frame(scorer, frame)
    scored[numeric] = text[numeric]  # write the numbers back as they were written
    # Write next to the target and rename, so a crash never leaves a half-written output; a
    # failure on the way removes the partial file.
    partial = target.with_name(f".{target.name}.partial")
    try:
        scored.to_csv(partial, index=False)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return len(scored)
