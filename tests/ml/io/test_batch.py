"""Batch scoring: exact pass-through of the input text, refusal of garbage, multi-core equality.

The oracle for "the same bytes and the same probabilities" is the pandas implementation batch
scoring had before Arrow (read as text, numbers read again as numbers, `normalize`, the model's
`predict_frame`, `to_csv`), kept here in `pandas_score_csv`.
"""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import ml.core.model as model_module
import ml.io.batch as batch_module
from bench.batch_bench import make_passengers_csv, make_varied_csv
from ml.core.features import columns_from_frame
from ml.core.model import InvalidRowsError, SurvivalModel
from ml.core.table import NUMERIC_SOURCE_COLUMNS, DataError, canonical_name, normalize
from ml.io import arrow_csv
from ml.io.batch import score_csv, score_file
from ml.io.data import load_csv, shipped_data_path
from ml.io.local_registry import LocalRegistry
from ml.io.serving import Scorer


@pytest.fixture(scope="module")
def model(trained_home_template: Path) -> SurvivalModel:
    registry = LocalRegistry(trained_home_template)
    try:
        return registry.load_model("V1")
    finally:
        registry.close()


def pandas_probabilities(model: SurvivalModel, source: Path) -> np.ndarray:
    text = pd.read_csv(source, dtype=str, keep_default_na=False, index_col=False)
    frame = text.copy()
    for column in [c for c in text.columns if canonical_name(c) in NUMERIC_SOURCE_COLUMNS]:
        frame[column] = pd.to_numeric(pd.read_csv(source, usecols=[column])[column], errors="coerce")
    return model.predict_frame(normalize(frame, require_target=False))


def pandas_score_csv(model: SurvivalModel, source: Path, target: Path) -> None:
    text = pd.read_csv(source, dtype=str, keep_default_na=False, index_col=False)
    text["survival_probability"] = np.round(pandas_probabilities(model, source), 6)
    text.to_csv(target, index=False)


def probabilities_of(model: SurvivalModel, source: Path, tmp_path: Path) -> np.ndarray:
    """What score_file computed for every row, before rounding (as the writer is handed them)."""
    seen: list[np.ndarray] = []
    original = batch_module._CsvSink.write

    def keep(sink: Any, batch: Any, probabilities: np.ndarray) -> None:
        seen.append(probabilities)
        original(sink, batch, probabilities)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_module._CsvSink, "write", keep)
        score_file(model, source, tmp_path / "probabilities.csv")
    return np.concatenate(seen)


def assert_same_as_pandas(model: SurvivalModel, source: Path, tmp_path: Path, **options: int) -> None:
    mine, theirs = tmp_path / "arrow.csv", tmp_path / "pandas.csv"
    score_file(model, source, mine, **options)
    pandas_score_csv(model, source, theirs)
    assert filecmp.cmp(mine, theirs, shallow=False), "the output's bytes differ from pandas'"
    assert not list(tmp_path.glob("*.partial"))


# -- the same bytes and probabilities as pandas --------------------------------------------------------
def test_every_input_value_is_written_back_exactly(registry: LocalRegistry, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('id,Pclass,Sex,Age,Fare,note\n007,1,female,29,,"a, b"\n008,3,male,,7.250,x\n')
    rows = score_csv(Scorer(registry), source, tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert rows == 2
    assert lines[0] == "id,Pclass,Sex,Age,Fare,note,survival_probability"
    assert lines[1].startswith('007,1,female,29,,"a, b",') and lines[2].startswith("008,3,male,,7.250,x,")
    first, second = (float(line.rsplit(",", 1)[1]) for line in lines[1:])
    assert first > 0.8 > 0.2 > second


def test_the_shipped_passengers_give_pandas_bytes_and_bits(model: SurvivalModel, tmp_path: Path) -> None:
    assert_same_as_pandas(model, shipped_data_path(), tmp_path)
    np.testing.assert_array_equal(
        probabilities_of(model, shipped_data_path(), tmp_path),
        pandas_probabilities(model, shipped_data_path()),
    )


def test_distinct_rows_in_small_batches_give_pandas_bytes_and_bits(
    model: SurvivalModel, tmp_path: Path
) -> None:
    source = make_varied_csv(tmp_path / "in.csv", 20_000, seed=5)
    assert_same_as_pandas(model, source, tmp_path, batch_rows=3_000, read_block=1 << 20)
    np.testing.assert_array_equal(
        probabilities_of(model, source, tmp_path), pandas_probabilities(model, source)
    )


def test_awkward_text_round_trips_as_pandas_writes_it(model: SurvivalModel, tmp_path: Path) -> None:
    source = tmp_path / "edge.csv"
    source.write_bytes(
        b"\xef\xbb\xbfid,Pclass,Sex,Age,Fare,Name,note\r\n"
        b'007,1,female,29,,"Smith, Mrs. Jane","a, b"\r\n'
        b'008,3,male,,7.250,"O\'Brien, Mr. ""Pat""",x\r\n'
        b'009,2,male,4,,"Li, Master. Wei","multi\nline"\r\n'
        b'010,2,female,,,"Doe, Miss. ""Q""","cr\r\nlf"\r\n'
        b'011,1,male,40,1e1,"X, Dr. Y",""\r\n'
        b"\r\n"
        b'012,3,female, 30 ,,"Z, Mrs. W",   \r\n'
        b'013,3,FEMALE,0.5,,"\xc3\x89lise, Mlle. \xc3\x80",caf\xc3\xa9\r\n'
    )
    assert_same_as_pandas(model, source, tmp_path)
    assert (
        (tmp_path / "arrow.csv")
        .read_text()
        .splitlines()[1]
        .startswith('007,1,female,29,,"Smith, Mrs. Jane","a, b",')
    )


def test_kaggle_seaborn_and_snowflake_layouts(model: SurvivalModel, tmp_path: Path) -> None:
    shipped = pd.read_csv(shipped_data_path())
    kaggle = shipped.rename(columns={"pclass": "Pclass", "sex": "Sex", "age": "Age", "name": "Name"})
    kaggle.insert(0, "PassengerId", range(1, len(kaggle) + 1))
    seaborn = shipped.drop(columns=["pclass", "name"]).assign(
        **{"class": shipped["pclass"].map({1: "First", 2: "Second", 3: "Third"}), "alive": "no"}
    )
    snowflake = shipped.rename(columns=str.upper).assign(
        TITLE=shipped["name"].str.extract(r",\s*([^.]+)\.")[0]
    )
    for i, frame in enumerate((kaggle, seaborn, snowflake)):
        folder = tmp_path / f"layout{i}"
        folder.mkdir()
        frame.to_csv(folder / "in.csv", index=False)
        assert_same_as_pandas(model, folder / "in.csv", folder)


def test_probability_text_is_what_pandas_writes_for_every_6_decimal_value() -> None:
    p = np.arange(1_000_001) / 1e6
    written = arrow_csv.probability_lines(p).to_pylist()
    assert written == pd.Series(np.round(p, 6)).astype(str).add("\n").tolist()


def test_big_batches_use_every_core_and_give_the_same_probabilities(registry: LocalRegistry) -> None:
    model = registry.load_model("V1")
    frame = load_csv()
    rows = np.random.default_rng(0).integers(0, len(frame), model_module.PARALLEL_ROWS + 5)
    columns = columns_from_frame(frame.iloc[rows].reset_index(drop=True))
    parallel = model.predict_proba(columns)
    assert model._parallel is not None  # the multi-thread booster did the work
    one_thread = model.booster.inplace_predict(model.spec.transform(columns), predict_type="margin")
    np.testing.assert_array_equal(parallel, 1.0 / (1.0 + np.exp(-one_thread.astype(np.float64))))


# -- Parquet -----------------------------------------------------------------------------------------
def test_parquet_out_holds_the_input_text_and_the_probabilities(model: SurvivalModel, tmp_path: Path) -> None:
    source = make_passengers_csv(tmp_path / "in.csv", 5_000, seed=4)
    assert score_file(model, source, tmp_path / "out.parquet") == 5_000
    table = pq.read_table(tmp_path / "out.parquet")
    text = pd.read_csv(source, dtype=str, keep_default_na=False)
    assert table.column_names == [*text.columns, "survival_probability"]
    for name in text.columns:
        assert table.column(name).to_pylist() == text[name].tolist()
    np.testing.assert_array_equal(
        table.column("survival_probability").to_numpy(), np.round(pandas_probabilities(model, source), 6)
    )


def test_typed_parquet_in_scores_as_its_csv_does(model: SurvivalModel, tmp_path: Path) -> None:
    source = make_passengers_csv(tmp_path / "in.csv", 5_000, seed=4)
    pd.read_csv(source).to_parquet(tmp_path / "typed.parquet", index=False)
    score_file(model, source, tmp_path / "from_csv.parquet")
    assert score_file(model, tmp_path / "typed.parquet", tmp_path / "from_parquet.parquet") == 5_000
    assert score_file(model, tmp_path / "typed.parquet", tmp_path / "from_parquet.csv") == 5_000
    expected = pq.read_table(tmp_path / "from_csv.parquet").column("survival_probability")
    assert pq.read_table(tmp_path / "from_parquet.parquet").column("survival_probability").equals(expected)
    written = pd.read_csv(tmp_path / "from_parquet.csv", float_precision="round_trip")["survival_probability"]
    np.testing.assert_array_equal(written.to_numpy(), expected.to_numpy())


# -- refused input, and nothing left behind -----------------------------------------------------------
def refused(
    model: SurvivalModel,
    tmp_path: Path,
    data: bytes,
    match: str,
    error: type[Exception] = DataError,
    **options: int,
) -> str:
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    with pytest.raises(error, match=match) as raised:
        score_file(model, source, tmp_path / "out.csv", **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    return str(raised.value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            b"pclass,sex,age\n1,female,29\n3,male,40,x\n",
            r"line 3 has 4 fields, the header has 3: '3,male,40,x'",
        ),
        (b"pclass,sex,age\n1,female,29\n3,male\n", r"line 3 has 2 fields, the header has 3"),
        (b"pclass,sex,age\n", r"has a header but no passengers"),
        (b"", r"cannot read .* it is empty"),
        (b"pclass,sex,name\n1,female,\xff\xfe\n", r"not UTF-8"),
        (b"pclass,sex,survival_probability\n1,female,0.5\n", r"already has a survival_probability"),
        (b"sex,age\nfemale,3\n", r"missing column pclass \(found: sex, age\)"),
        (
            b"pclass,sex,age\n" + b"1,female,29\n" * 4 + b"3,male,thirty\n",
            r"column age has values that are not numbers \(row 5\)",
        ),
        (b"pclass,sex,age\n1,female,NaN\n", r"column age has values that are not numbers \(row 1\)"),
    ],
    ids=["too-many", "too-few", "header-only", "empty", "not-utf8", "has-output", "no-class", "word", "nan"],
)
def test_what_cannot_be_read_is_refused_in_one_line(
    model: SurvivalModel, tmp_path: Path, data: bytes, match: str
) -> None:
    assert len(refused(model, tmp_path, data, match)) < 300


def test_a_ragged_row_deep_in_a_big_file_is_named(model: SurvivalModel, tmp_path: Path) -> None:
    rows = b"".join(b"%d,female,29\n" % (1 + i % 3) for i in range(100_000))
    refused(model, tmp_path, b"pclass,sex,age\n" + rows + b"1,male,3,4,5\n", r"line 100002 has 5 fields")


def test_an_unclosed_quote_and_a_huge_header_get_short_messages(model: SurvivalModel, tmp_path: Path) -> None:
    unclosed = b'pclass,sex,name\n1,female,"' + b"x" * 5_000_000 + b"\n1,female,y\n"
    assert len(refused(model, tmp_path, unclosed, r"cannot read .* as CSV")) < 300
    header = b"pclass,sex," + b"y" * (arrow_csv.HEADER_LIMIT + 1) + b"\n1,female,x\n"
    assert len(refused(model, tmp_path, header, r"header line is longer than 16 MB")) < 300


def test_invalid_rows_in_every_batch_are_counted_by_row(model: SurvivalModel, tmp_path: Path) -> None:
    good = b"1,female,29\n" * 99
    data = b"pclass,sex,age\n" + (good + b"4,robot,29\n") * 300  # 30,000 rows in 10 batches
    message = refused(
        model,
        tmp_path,
        data,
        r"^300 row\(s\) cannot be scored: row 100: Class must be 1st, 2nd or 3rd, .*; row 200: ",
        InvalidRowsError,
        batch_rows=3_000,
    )
    assert "(and 295 more)" in message


def test_an_existing_output_is_replaced_only_on_success(model: SurvivalModel, tmp_path: Path) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    target.write_text("old\n")
    source.write_bytes(b"pclass,sex\n1,female\n9,male\n")
    with pytest.raises(InvalidRowsError):
        score_file(model, source, target)
    assert target.read_text() == "old\n"
    source.write_bytes(b"pclass,sex\n1,female\n")
    assert score_file(model, source, target) == 1
    assert target.read_text().startswith("pclass,sex,survival_probability\n1,female,0.")


def test_progress_reports_rows_and_a_fair_estimate_of_the_total(model: SurvivalModel, tmp_path: Path) -> None:
    source = make_passengers_csv(tmp_path / "in.csv", 60_000, seed=2)
    seen: list[tuple[int, int | None]] = []
    score_file(
        model,
        source,
        tmp_path / "out.csv",
        progress=lambda rows, total: seen.append((rows, total)),
        batch_rows=1,  # one batch per 1 MB block read: about 14,000 rows
        read_block=1 << 20,
    )
    done = [rows for rows, _ in seen]
    assert len(done) >= 3 and done == sorted(done) and done[-1] == 60_000
    first_estimate = seen[0][1]
    assert first_estimate is not None and 54_000 <= first_estimate <= 66_000


def test_a_value_that_is_not_a_number_is_refused_and_nothing_is_written(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("pclass,sex,age\n1,female,29\n3,male,thirty\n")
    with pytest.raises(DataError, match=r"column age has values that are not numbers \(row 2\)"):
        score_csv(Scorer(registry), source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_a_header_longer_than_a_read_block_is_read(model: SurvivalModel, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    wide = "x" * (arrow_csv.READ_BLOCK + 10)
    source.write_text(f"pclass,sex,{wide}\n1,female,a\n3,male,b\n")
    assert score_file(model, source, tmp_path / "out.csv") == 2
