"""Batch scoring of passenger CSVs: every input column kept in order, `survival_probability` added."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

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


def score_csv(scorer: FrameScorer, source: str | Path, target: str | Path) -> int:
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise DataError(f"no such file: {source}")
    if source.resolve() == target.resolve():
        raise DataError("the output must not overwrite the input")
    try:
        # As text, so every input value is written back exactly as it came (29 stays 29, not 29.0;
        # an id keeps its leading zeros). The numeric inputs are read a second time, as numbers:
        # pandas' CSV parser converts them far faster than converting the text afterwards.
        text = pd.read_csv(source, dtype=str, keep_default_na=False, low_memory=False)
        numeric = [c for c in text.columns if canonical_name(c) in NUMERIC_SOURCE_COLUMNS]
        numbers = pd.read_csv(source, usecols=numeric, low_memory=False) if numeric else pd.DataFrame()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {source} as CSV: {exc}") from None
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
    # Write next to the target and rename, so a crash never leaves a half-written output.
    partial = target.with_name(f".{target.name}.partial")
    scored.to_csv(partial, index=False)
    partial.replace(target)
    return len(scored)
