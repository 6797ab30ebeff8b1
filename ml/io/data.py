"""Reading passenger files: the shipped 891 passengers, or any CSV in a supported layout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from ml.core.table import DataError, normalize

SHIPPED_DATA = "titanic.csv"


def shipped_data_path() -> Path:
    """The 891-passenger training set shipped inside the package."""
    return Path(str(resources.files("ml") / "data" / SHIPPED_DATA))


def load_csv(path: str | Path | None = None, *, require_target: bool = True) -> pd.DataFrame:
    """Read a passenger CSV (the shipped data when `path` is None) in any supported layout."""
    source = Path(path) if path is not None else shipped_data_path()
    if not source.exists():
        raise DataError(f"no such file: {source}")
    try:
        frame = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {source} as CSV: {exc}") from None
    if frame.empty:
        raise DataError(f"{source} has no rows")
    return normalize(frame, require_target=require_target)
