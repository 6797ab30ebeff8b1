"""Batch scoring of passenger CSVs: every input column kept in order, `survival_probability` added."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from ml.data import DataError, normalize

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
        frame = pd.read_csv(source, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {source} as CSV: {exc}") from None
    scored = score_frame(scorer, frame)
    # Write next to the target and rename, so a crash never leaves a half-written output.
    partial = target.with_name(f".{target.name}.partial")
    scored.to_csv(partial, index=False)
    partial.replace(target)
    return len(scored)
