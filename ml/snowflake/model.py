"""The model as Snowflake runs it: a CustomModel wrapping the very SurvivalModel the bot uses.

Logged to the registry with the files `SurvivalModel.to_parts` writes as artifacts (booster.ubj and
features.json; members.ubj and evidence.json when the version has them, so an exported version
explains an answer as fully as a local one) and the `ml` package as code, so `MODEL(...)!PREDICT_PROBA`
in SQL, `mv.run` and the bot all score with `ml.core.features` + the same booster: one feature
definition, no re-implementation. SQL and `mv.run` return the point probability only.

At inference this module needs numpy, pandas, xgboost and snowflake-ml-python's custom_model
(present wherever a registry model runs), never ml.core.training or the registry code (a test loads
the packaged model in a fresh interpreter and checks).

No `from __future__ import annotations` here on purpose: snowflake-ml checks the inference
method's annotations by identity (`X: pd.DataFrame`), which string annotations would fail.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from snowflake.ml.model import custom_model

from ml.core.features import Columns, columns_from_frame, invalid_rows
from ml.core.model import BOOSTER_FILE, EVIDENCE_FILE, MEMBERS_FILE, SPEC_FILE, SurvivalModel
from ml.io.artifacts import hash_files, load_model
from ml.snowflake.contract import DIED, FUNCTION_NAME, INPUT_COLUMNS, NUMERIC_COLUMNS, RECORD_FILE, SURVIVED

BOOSTER_ARTIFACT, SPEC_ARTIFACT, RECORD_ARTIFACT = "booster", "features", "lifeboat"
# Artifact name -> file, for every file a version may have (only the booster and spec always: the
# members and evidence came with issue 10's versions, the record with the Snowflake registry's).
ARTIFACTS = {
    BOOSTER_ARTIFACT: BOOSTER_FILE,
    SPEC_ARTIFACT: SPEC_FILE,
    "members": MEMBERS_FILE,
    "evidence": EVIDENCE_FILE,
    RECORD_ARTIFACT: RECORD_FILE,
}
# Runtime dependencies of the logged model, from Snowflake's Anaconda channel. xgboost is pinned to
# the version that wrote booster.ubj (relax_version turns ==X.Y.Z into >=X.Y,<X+1): an older
# xgboost is not guaranteed to read a newer model file. numpy and pandas get floors only: without a
# specifier the packager would pin this machine's exact versions, which the channel may not have.
RUNTIME_PACKAGES = ("numpy>=1.23", "pandas>=1.5")


def columns_from_inputs(inputs: pd.DataFrame) -> Columns:
    """Model inputs (INPUT_COLUMNS, any case) -> Columns, through ml.core.features.columns_from_frame.

    The title is resolved per row: TITLE when given, else the one in NAME, else left unknown for
    the feature spec to infer (calling columns_from_frame twice keeps that logic in ml.core.features).
    """
    frame = inputs.rename(columns=lambda c: str(c).lower())
    columns = columns_from_frame(frame.drop(columns=["name"], errors="ignore"))
    if "name" in frame.columns:
        from_name = columns_from_frame(frame[["name"]])["title"]
        missing = columns["title"] == None  # noqa: E711 - elementwise on an object array
        columns["title"] = np.where(missing, from_name, columns["title"])
    return columns


def survival_probabilities(model: SurvivalModel, columns: Columns) -> np.ndarray:
    """SurvivalModel.predict_proba on the valid rows; NaN (NULL in SQL) for rows the model must not
    score (class not 1-3, sex unknown, ...), so one bad row does not fail a whole warehouse query."""
    n = len(columns["pclass"])
    valid = np.ones(n, dtype=bool)
    valid[[row for row, _ in invalid_rows(columns)]] = False
    probabilities = np.full(n, np.nan)
    if valid.any():
        probabilities[valid] = model.predict_proba({name: values[valid] for name, values in columns.items()})
    return probabilities


def verify_files(directory: Path, record_path: Path) -> None:
    """The files must be the ones the version's record (lifeboat.json) has the checksum of, as the
    bot checks them before it loads a version: SQL and `mv.run` refuse damaged files too. A record
    without a checksum (none was written before it existed) checks nothing."""
    try:
        record = json.loads(record_path.read_text())
    except ValueError as exc:
        raise ValueError(f"{RECORD_FILE} of this model version is not JSON: {exc}") from exc
    expected = record.get("artifact_sha256") if isinstance(record, dict) else None
    if expected and hash_files(directory) != expected:
        raise ValueError(f"this model version's files do not match the checksum in its {RECORD_FILE}")


class TitanicSurvivalModel(custom_model.CustomModel):
    """`predict_proba(X)` -> output_feature_0 (died), output_feature_1 (survived), like XGBClassifier."""

    def __init__(self, context: custom_model.ModelContext) -> None:
        super().__init__(context)
        paths = {name: Path(context.path(name)) for name in ARTIFACTS if name in context.artifacts}
        # The registry copies artifacts side by side under their own names; load_model
        # reads exactly that layout.
        directory = paths[BOOSTER_ARTIFACT].parent
        misplaced = [n for n, path in paths.items() if path.parent != directory or path.name != ARTIFACTS[n]]
        if SPEC_ARTIFACT not in paths or misplaced:
            raise ValueError(f"model artifacts must be {', '.join(ARTIFACTS.values())} in one directory")
        if RECORD_ARTIFACT in paths:
            verify_files(directory, paths[RECORD_ARTIFACT])
        self.model = load_model(directory)

    @custom_model.inference_api
    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        survived = survival_probabilities(self.model, columns_from_inputs(X))
        return pd.DataFrame({DIED: 1.0 - survived, SURVIVED: survived}, index=X.index)


def model_context(model_dir: Path) -> custom_model.ModelContext:
    """Artifacts for a directory written by ml.io.artifacts.save_model (every file it holds), plus
    the version's record (lifeboat.json) when the registry wrote one beside them."""
    return custom_model.ModelContext(
        artifacts={
            name: str(model_dir / file)
            for name, file in ARTIFACTS.items()
            if file in (BOOSTER_FILE, SPEC_FILE) or (model_dir / file).is_file()
        }
    )


def signatures() -> dict[str, Any]:
    """The explicit signature: floats for numbers, strings for labels, all nullable (imputed)."""
    from snowflake.ml.model import model_signature

    def feature(name: str) -> Any:
        dtype = (
            model_signature.DataType.DOUBLE if name in NUMERIC_COLUMNS else model_signature.DataType.STRING
        )
        return model_signature.FeatureSpec(name=name, dtype=dtype, nullable=True)

    return {
        FUNCTION_NAME: model_signature.ModelSignature(
            inputs=[feature(name) for name in INPUT_COLUMNS],
            outputs=[
                model_signature.FeatureSpec(name=DIED, dtype=model_signature.DataType.DOUBLE),
                model_signature.FeatureSpec(name=SURVIVED, dtype=model_signature.DataType.DOUBLE),
            ],
        )
    }


def input_frame(columns: Columns) -> pd.DataFrame:
    """Columns -> the model's input frame, typed as the signature says (mv.run checks types)."""
    data: dict[str, Any] = {}
    for name in INPUT_COLUMNS:
        values = columns.get(name.lower())
        if name in NUMERIC_COLUMNS:
            data[name] = np.asarray(values, dtype=np.float64)
        else:
            n = len(columns["pclass"])
            data[name] = pd.Series(values if values is not None else [None] * n, dtype=object)
    return pd.DataFrame(data)


def bound_values(columns: Columns) -> list[Any]:
    """The first row of `columns` as the one-row statement's parameters, in INPUT_COLUMNS order,
    None for unknown: a bound NaN would arrive as a FLOAT NaN, not NULL."""
    row = input_frame(columns).iloc[0]
    plain = {True: float, False: str}  # the driver binds Python types
    return [None if pd.isna(row[c]) else plain[c in NUMERIC_COLUMNS](row[c]) for c in INPUT_COLUMNS]


def log_arguments(model_dir: Path, code_dir: Path) -> dict[str, Any]:
    """Everything `Registry.log_model` gets besides names, comment and metrics (also used by the
    offline packaging test, so what is tested is what is logged)."""
    import xgboost
    from snowflake.ml.model.task import Task
    from snowflake.ml.model.volatility import Volatility

    return {
        "model": TitanicSurvivalModel(model_context(model_dir)),
        "signatures": signatures(),
        "conda_dependencies": [f"xgboost=={xgboost.__version__}", *RUNTIME_PACKAGES],
        "code_paths": [str(code_dir)],
        "target_platforms": ["WAREHOUSE"],
        "task": Task.TABULAR_BINARY_CLASSIFICATION,
        # IMMUTABLE: same inputs, same probabilities (lets Snowflake reuse results).
        "options": {"relax_version": True, "volatility": Volatility.IMMUTABLE},
    }
