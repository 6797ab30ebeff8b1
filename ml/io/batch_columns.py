"""A batch of a file's text -> the model's attribute columns, as `ml.core.table.normalize` and
`ml.core.features.columns_from_frame` build them from a DataFrame, plus which rows are equal.

Numbers are converted with Arrow; each label (sex, port, title) is worked out once per distinct
text and remembered across batches. Every step from attributes to probability works row by row,
so rows with equal attributes get bit-identical probabilities: `distinct_rows` finds them, and a
batch is validated and scored once per distinct row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ml.core.features import Columns, port_label, sex_label
from ml.core.passenger import NAME_TITLE_PATTERN, normalize_title, title_from_name
from ml.core.table import CLASS_WORDS, NUMERIC_SOURCE_COLUMNS, DataError, require_scoring_columns

OUTPUT_COLUMN = "survival_probability"
SHOWN_ROWS = 5  # rows named in an error message
MEMO_LIMIT = 200_000  # distinct labels remembered across batches (names can all differ)
# From this many distinct names in a batch, titles are found by Arrow's regex engine (RE2) over the
# distinct names rather than by Python's re one name at a time (~0.35 s vs 2.2 s per million).
REGEX_TITLES_FROM = 4096
_TITLE_GROUP = NAME_TITLE_PATTERN.replace("(", "(?P<title>", 1)
_NULL_TEXT = pa.scalar(None, pa.string())
_NAN_BITS = np.float64("nan").view(np.uint64)
_MISSING = object()


class ColumnPlan:
    """Which input columns feed which passenger attribute (checked once, from the header)."""

    def __init__(self, names: list[str]) -> None:
        if OUTPUT_COLUMN in names:
            raise DataError(f"the input already has a {OUTPUT_COLUMN} column")
        canonical = require_scoring_columns(names)
        self.index = {name: i for i, name in enumerate(canonical)}
        # Every column whose name is a number's is checked, as normalize does, used or not.
        self.numeric = [(i, names[i], c) for i, c in enumerate(canonical) if c in NUMERIC_SOURCE_COLUMNS]
        self._memo: dict[str, dict[str, Any]] = {"sex": {}, "embarked": {}, "title": {}, "pclass": {}}
        self._regex_titles_agree = True

    def columns(self, batch: pa.RecordBatch, first_row: int) -> tuple[Columns, list[np.ndarray]]:
        """The batch's attributes, and per attribute one uint64 word per row that is equal where
        the attribute's values are (for `distinct_rows`)."""
        n = batch.num_rows
        numbers = {c: _numbers(batch.column(i), name, first_row) for i, name, c in self.numeric}
        words: list[np.ndarray] = []

        def number(attribute: str) -> np.ndarray:
            return numbers[attribute] if attribute in numbers else np.full(n, math.nan)

        def labels(attribute: str, column: str, label: Callable[[str], Any]) -> np.ndarray:
            if column not in self.index:
                return np.full(n, None, dtype=object)
            values, codes = self._labels(batch.column(self.index[column]), label, self._memo[attribute])
            words.append(codes)
            return values

        pclass = number("pclass")
        if "pclass" not in self.index:  # seaborn's `class`: First, Second, Third
            pclass = labels("pclass", "pclass_name", _class_number).astype(np.float64)
        columns = {
            "pclass": pclass,
            "sex": labels("sex", "sex", sex_label),
            "age": number("age"),
            "sibsp": number("sibsp"),
            "parch": number("parch"),
            "fare": number("fare"),
            "embarked": labels("embarked", "embarked", port_label),
            "title": labels("title", "title", normalize_title)
            if "title" in self.index
            else labels("title", "name", title_from_name),
        }
        for attribute in ("pclass", "age", "sibsp", "parch", "fare"):
            values = columns[attribute]
            missing = np.isnan(values)
            bits = values.view(np.uint64)
            words.append(np.where(missing, _NAN_BITS, bits) if missing.any() else bits)
        return columns, words

    def _labels(
        self, column: pa.Array, label: Callable[[str], Any], memo: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """`label` once per distinct text (as ml.core.features.map_distinct does for a frame),
        spread over the rows; and a code per row, equal where the labels are."""
        encoded = pc.dictionary_encode(column if column.type == pa.string() else column.cast(pa.string()))
        if label is title_from_name and len(encoded.dictionary) >= REGEX_TITLES_FROM:
            table = self._titles(encoded.dictionary)
        else:
            if len(memo) > MEMO_LIMIT:
                memo.clear()
            results = []
            for text in encoded.dictionary.to_pylist():
                result = memo.get(text, _MISSING)
                if result is _MISSING:
                    result = memo[text] = label(text)
                results.append(result)
            table = np.empty(len(results), dtype=object)
            table[:] = results
        return _spread(table, encoded.indices)

    def _titles(self, names: pa.Array) -> np.ndarray:
        """title_from_name for many distinct names: the pattern in Arrow, then normalize_title
        once per distinct title text. Checked against title_from_name on a sample of every batch;
        should they ever differ, title_from_name decides from then on."""
        if not self._regex_titles_agree:
            return _object_array([title_from_name(name) for name in names.to_pylist()])
        found = pc.extract_regex(names, _TITLE_GROUP).field("title")
        encoded = pc.dictionary_encode(found)
        titles = _object_array([normalize_title(text) for text in encoded.dictionary.to_pylist()] + [None])
        out = titles[encoded.indices.fill_null(len(titles) - 1).to_numpy()]
        sample = np.linspace(0, len(names) - 1, min(len(names), 2000)).astype(np.int64)
        expected = [title_from_name(name) for name in names.take(pa.array(sample)).to_pylist()]
        if list(out[sample]) != expected:
            self._regex_titles_agree = False
            return self._titles(names)
        return out


def _class_number(text: str) -> float:
    return float(CLASS_WORDS.get(text.lower(), math.nan))


def _object_array(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _spread(table: np.ndarray, indices: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Labels per distinct text -> (labels per row, a code per row: equal codes, equal labels)."""
    table = _object_array([*table, None])  # the last slot: what a null takes
    if indices.null_count:
        indices = indices.fill_null(len(table) - 1)
    rows = indices.to_numpy()
    if len(table) > 64:  # many distinct texts: code their labels through Arrow's hash table
        codes = pc.dictionary_encode(pa.array(table, type=pa.string())).indices.fill_null(-1)
        code_of_text = codes.to_numpy(zero_copy_only=False).astype(np.uint64)
    else:
        seen: dict[Any, int] = {}
        code_of_text = np.fromiter((seen.setdefault(v, len(seen)) for v in table), np.uint64, len(table))
    return table[rows], code_of_text[rows]


def _numbers(column: pa.Array, name: str, first_row: int) -> np.ndarray:
    """Text -> float64, a blank cell NaN; anything else that is not a number is refused."""
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):  # typed Parquet
        return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if column.type != pa.string():
        column = column.cast(pa.string())
    try:  # plain numbers and empty cells
        values = pc.cast(pc.if_else(pc.equal(column, ""), _NULL_TEXT, column), pa.float64())
    except pa.ArrowInvalid:
        values = _padded_numbers(column, name, first_row)
    # Arrow reads 'nan' as a number; pandas reads it (and 'NA', 'null') as missing, and
    # normalize then refuses the cell for not being blank. So it stays refused.
    nan = pc.fill_null(pc.is_nan(values), False)
    if pc.any(nan).as_py():
        raise _not_numbers(name, np.flatnonzero(nan.to_numpy(zero_copy_only=False)), first_row)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)  # nulls become NaN


def _padded_numbers(column: pa.Array, name: str, first_row: int) -> pa.Array:
    """' 29 ' is 29 and a cell of spaces is blank, as in pandas; the rest is refused by row."""
    blank = pc.equal(pc.utf8_trim_whitespace(column), "")
    trimmed = pc.if_else(blank, _NULL_TEXT, pc.ascii_trim_whitespace(column))
    try:
        return pc.cast(trimmed, pa.float64())
    except pa.ArrowInvalid:
        pass
    encoded = pc.dictionary_encode(trimmed)
    bad = []
    for j, text in enumerate(encoded.dictionary.to_pylist()):
        try:
            pc.cast(pa.array([text]), pa.float64())
        except pa.ArrowInvalid:
            bad.append(j)
    rows = np.flatnonzero(np.isin(encoded.indices.fill_null(-1).to_numpy(), bad))
    raise _not_numbers(name, rows, first_row)


def _not_numbers(name: str, rows: np.ndarray, first_row: int) -> DataError:
    shown = ", ".join(str(first_row + int(r) + 1) for r in rows[:SHOWN_ROWS])
    more = f" and {len(rows) - SHOWN_ROWS} more in this batch" if len(rows) > SHOWN_ROWS else ""
    return DataError(f"column {name} has values that are not numbers (row {shown}{more})")


def distinct_rows(words: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse): the first row of each distinct combination of `words`, and each row's
    combination. A 64-bit hash finds them; a check that no hash merged unequal rows keeps it
    exact (a collision only turns the sharing off for this batch)."""
    n = len(words[0]) if words else 0
    digest = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for word in words:
            digest ^= word
            digest *= np.uint64(0x100000001B3)
            digest ^= digest >> np.uint64(29)
    _, first, inverse = np.unique(digest, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if any(not np.array_equal(word[first][inverse], word) for word in words):
        everyone = np.arange(n)
        return everyone, everyone
    return first, inverse
