"""Batch scoring: exact pass-through of the input text, refusal of garbage, multi-core equality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ml.core.model as model_module
from ml.core.features import columns_from_frame
from ml.core.table import DataError
from ml.io.batch import score_csv
from ml.io.data import load_csv
from ml.io.local_registry import LocalRegistry
from ml.io.serving import Scorer


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


def test_a_value_that_is_not_a_number_is_refused_and_nothing_is_written(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("pclass,sex,age\n1,female,29\n3,male,thirty\n")
    with pytest.raises(DataError, match=r"column age has values that are not numbers \(row 2\)"):
        score_csv(Scorer(registry), source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_big_batches_use_every_core_and_give_the_same_probabilities(registry: LocalRegistry) -> None:
    model = registry.load_model("V1")
    frame = load_csv()
    rows = np.random.default_rng(0).integers(0, len(frame), model_module.PARALLEL_ROWS + 5)
    columns = columns_from_frame(frame.iloc[rows].reset_index(drop=True))
    parallel = model.predict_proba(columns)
    assert model._parallel is not None  # the multi-thread booster did the work
    one_thread = model.booster.inplace_predict(model.spec.transform(columns), predict_type="margin")
    np.testing.assert_array_equal(parallel, 1.0 / (1.0 + np.exp(-one_thread.astype(np.float64))))
