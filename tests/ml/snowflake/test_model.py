"""The model Snowflake runs (ml.snowflake.model.TitanicSurvivalModel) scores exactly as the bot does.

Checked in process, then packaged with snowflake-ml's own ModelPackager (what Registry.log_model
uploads) and loaded back in a fresh interpreter where `ml` is importable only from the package's
code directory, the way the warehouse loads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.core.features import columns_from_frame, columns_from_passengers
from ml.core.model import ALL_FILES, SurvivalModel
from ml.core.passenger import Passenger
from ml.io.artifacts import hash_files, save_model
from ml.io.data import load_csv
from ml.snowflake.contract import DIED, INPUT_COLUMNS, RECORD_FILE, SURVIVED
from ml.snowflake.model import (
    TitanicSurvivalModel,
    input_frame,
    log_arguments,
    model_context,
    signatures,
)
from ml.snowflake.package import stage_code
from tests.support.models import PASSENGERS, fitted_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model") / "files"
    save_model(fitted_model(), directory)
    return directory


@pytest.fixture(scope="module")
def custom(model_dir: Path) -> TitanicSurvivalModel:
    return TitanicSurvivalModel(model_context(model_dir))


def warehouse_typed(frame: pd.DataFrame) -> pd.DataFrame:
    """What the warehouse hands the model: the signature's columns cast to its (nullable) types."""
    inputs = signatures()["predict_proba"].inputs
    return frame[[f.name for f in inputs]].astype({f.name: f.as_dtype() for f in inputs})


def table_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The shipped passengers as TITANIC_DATA holds them: NAME filled, TITLE NULL."""
    out = input_frame(columns_from_frame(frame.drop(columns=["name"])))
    out["TITLE"] = None
    out["NAME"] = frame["name"].to_numpy()
    return out


def test_same_probabilities_as_the_survival_model_on_passengers(custom: TitanicSurvivalModel) -> None:
    columns = columns_from_passengers(PASSENGERS)
    out = custom.predict_proba(input_frame(columns))
    assert list(out.columns) == [DIED, SURVIVED]
    np.testing.assert_array_equal(out[SURVIVED].to_numpy(), fitted_model().predict_proba(columns))
    np.testing.assert_allclose(out[DIED] + out[SURVIVED], 1.0, rtol=0, atol=1e-15)


def test_same_probabilities_on_the_table_layout_title_from_name(custom: TitanicSurvivalModel) -> None:
    frame = load_csv()
    expected = fitted_model().predict_frame(frame)  # local batch scoring: title from the name
    for inputs in (table_inputs(frame), warehouse_typed(table_inputs(frame))):
        np.testing.assert_array_equal(custom.predict_proba(inputs)[SURVIVED].to_numpy(), expected)


def test_title_is_resolved_per_row(custom: TitanicSurvivalModel) -> None:
    base = {
        "PCLASS": 3.0,
        "SEX": "male",
        "AGE": np.nan,
        "SIBSP": 0.0,
        "PARCH": 0.0,
        "FARE": np.nan,
        "EMBARKED": "S",
    }
    rows = pd.DataFrame(
        [
            {**base, "TITLE": "Master", "NAME": "Smith, Mr. John"},  # TITLE wins over NAME
            {**base, "TITLE": None, "NAME": "Smith, Master. John"},  # else the title in NAME
            {**base, "TITLE": None, "NAME": None},  # else inferred
        ]
    )
    got = custom.predict_proba(rows)[SURVIVED].to_numpy()
    model = fitted_model()
    as_master = model.predict_proba(
        columns_from_passengers(
            [Passenger(pclass=3, sex="male", sibsp=0, parch=0, embarked="S", title="Master")]
        )
    )
    inferred = model.predict_proba(
        columns_from_passengers([Passenger(pclass=3, sex="male", sibsp=0, parch=0, embarked="S")])
    )
    np.testing.assert_array_equal(got, [as_master[0], as_master[0], inferred[0]])
    assert as_master[0] != inferred[0]


def test_rows_that_cannot_be_scored_are_null_not_an_error(custom: TitanicSurvivalModel) -> None:
    inputs = input_frame(columns_from_passengers(PASSENGERS[:2]))
    bad = pd.concat([inputs.iloc[:1], inputs.iloc[:1], inputs.iloc[1:]], ignore_index=True)
    bad.loc[1, "PCLASS"] = np.nan  # no class: cannot be scored
    bad.loc[1, "SEX"] = "robot"
    out = custom.predict_proba(warehouse_typed(bad))[SURVIVED].to_numpy()
    assert np.isnan(out[1])
    np.testing.assert_array_equal(
        out[[0, 2]], fitted_model().predict_proba(columns_from_passengers(PASSENGERS[:2]))
    )


def test_a_version_saved_without_members_or_evidence_still_loads(tmp_path: Path) -> None:
    """Versions logged before ranges and evidence: two artifacts, scored exactly as before."""
    full = fitted_model()
    save_model(SurvivalModel(full.booster, full.spec, full.params), tmp_path / "old")
    context = model_context(tmp_path / "old")
    assert set(context.artifacts) == {"booster", "features"}
    custom = TitanicSurvivalModel(context)
    assert custom.model.uncertainty is None and custom.model.evidence is None
    columns = columns_from_passengers(PASSENGERS)
    out = custom.predict_proba(warehouse_typed(input_frame(columns)))
    np.testing.assert_array_equal(out[SURVIVED].to_numpy(), full.predict_proba(columns))


def test_files_that_do_not_match_their_records_checksum_are_refused(model_dir: Path, tmp_path: Path) -> None:
    """What the registry logs: the files and lifeboat.json with their checksum. A damaged file must
    fail the model's load in the warehouse (SQL, mv.run), not score with it."""
    files = tmp_path / "files"
    files.mkdir()
    for name in ALL_FILES:
        if (model_dir / name).is_file():
            (files / name).write_bytes((model_dir / name).read_bytes())
    (files / RECORD_FILE).write_text(json.dumps({"artifact_sha256": hash_files(files), "created_by": "t"}))
    assert "lifeboat" in model_context(files).artifacts
    TitanicSurvivalModel(model_context(files))  # intact: loads

    spec = json.loads((files / "features.json").read_text())
    spec["port_mode"] = "Q"  # still a valid spec: only the checksum can tell
    (files / "features.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="do not match the checksum"):
        TitanicSurvivalModel(model_context(files))

    (files / RECORD_FILE).write_text(json.dumps({"created_by": "t"}))  # a record without a checksum
    TitanicSurvivalModel(model_context(files))
    (files / RECORD_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        TitanicSurvivalModel(model_context(files))


def test_artifacts_from_different_directories_are_refused(model_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "evidence.json"
    elsewhere.write_bytes((model_dir / "evidence.json").read_bytes())
    context = model_context(model_dir)
    context.artifacts["evidence"] = str(elsewhere)
    with pytest.raises(ValueError, match="in one directory"):
        TitanicSurvivalModel(context)


def test_input_frame_matches_the_signature() -> None:
    frame = input_frame(columns_from_passengers(PASSENGERS))
    assert tuple(frame.columns) == INPUT_COLUMNS
    assert frame["PCLASS"].dtype == np.float64 and frame["NAME"].isna().all()
    assert [f.name for f in signatures()["predict_proba"].inputs] == list(INPUT_COLUMNS)
    assert [f.name for f in signatures()["predict_proba"].outputs] == [DIED, SURVIVED]


def test_stage_code_ships_sources_only(tmp_path: Path) -> None:
    staged = stage_code(tmp_path)
    files = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    assert {
        "__init__.py",
        "core/features.py",
        "core/model.py",
        "io/artifacts.py",
        "snowflake/model.py",
        "snowflake/contract.py",
    } <= files
    assert all(name.endswith(".py") for name in files)  # no __pycache__, no CSV


def test_stage_code_works_from_a_zip_import(tmp_path: Path) -> None:
    # Inside a stored procedure `ml` is imported from a zip: staging must still produce files.
    archive = tmp_path / "ml.zip"
    package = Path(__file__).resolve().parents[3] / "ml"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in package.rglob("*.py"):
            zf.write(path, Path("ml") / path.relative_to(package))
    code = (
        "import sys\n"
        f"sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import ml\n"
        "assert '.zip' in ml.__file__, ml.__file__\n"
        "from pathlib import Path\n"
        "from ml.snowflake.package import stage_code\n"
        f"staged = stage_code(Path({str(tmp_path / 'out')!r}))\n"
        "print(sorted(p.name for p in (staged / 'snowflake').iterdir()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "'model.py'" in done.stdout and "'contract.py'" in done.stdout


# The warehouse's loader (snowflake/ml/model/_model_composer/model_method/infer_function.py_template)
# in miniature: load the package, cast inputs to the signature's types, call, NaN -> None.
_LOAD_AND_SCORE = """
import json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path[:] = [p for p in sys.path if p not in ("", {project!r})]
try:
    import ml
    raise SystemExit("ml must not be importable before the package is loaded")
except ImportError:
    pass
import pandas as pd, numpy as np
from snowflake.ml.model._packager import model_packager
pk = model_packager.ModelPackager({package!r})
pk.load(as_custom_model=True)
import ml
assert ml.__file__.startswith({package!r}), ml.__file__
features = pk.meta.signatures["predict_proba"].inputs
frame = pd.read_json({inputs!r}, orient="split")
typed = frame[[f.name for f in features]].astype({{f.name: f.as_dtype() for f in features}})
out = pk.model.predict_proba(typed).replace({{pd.NA: None, np.nan: None}}).to_dict("records")
loaded = sorted(m for m in sys.modules if m in ("ml.core.training", "ml.registry", "ml.snowflake.session"))
model = pk.model.model
extras = {{"members": model.uncertainty is not None, "evidence": model.evidence is not None}}
print(json.dumps({{"rows": out, "training_stack_loaded": loaded, "extras": extras}}))
"""


def test_logged_package_loads_and_scores_like_the_bot(model_dir: Path, tmp_path: Path) -> None:
    from snowflake.ml.model._packager import model_packager

    arguments = log_arguments(model_dir, stage_code(tmp_path / "code"))
    package = tmp_path / "package"
    model_packager.ModelPackager(str(package)).save(name="TITANIC", **arguments)

    manifest = (package / "model.yaml").read_text()
    assert "model_type: custom" in manifest and "task: TABULAR_BINARY_CLASSIFICATION" in manifest
    conda = (package / "env" / "conda.yml").read_text()
    import xgboost

    assert f"xgboost=={xgboost.__version__}" in conda  # relax_version widens it at log time
    artifacts = {p.name for p in (package / "models").rglob("*") if p.parent.name == "artifacts"}
    assert artifacts == set(ALL_FILES)  # the members and the evidence too: an export explains fully

    frame = load_csv()
    inputs = table_inputs(frame)
    inputs.loc[0, "SEX"] = None  # one row the model must refuse
    inputs_json = tmp_path / "inputs.json"
    inputs.to_json(inputs_json, orient="split")
    script = _LOAD_AND_SCORE.format(
        project=str(Path(__file__).resolve().parents[3]), package=str(package), inputs=str(inputs_json)
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["training_stack_loaded"] == []
    assert result["extras"] == {"members": True, "evidence": True}
    survived = [row[SURVIVED] for row in result["rows"]]
    assert survived[0] is None
    np.testing.assert_allclose(survived[1:], fitted_model().predict_frame(frame)[1:], rtol=0, atol=1e-12)
    assert all(abs(row[DIED] + row[SURVIVED] - 1) < 1e-12 for row in result["rows"][1:])
