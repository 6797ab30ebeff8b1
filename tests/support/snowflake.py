"""Stand-ins for what only a Snowflake account has: the Registry's calls (`FakeStore`), and settings.

The library's own classes are replaced by autospecs instead (tests/support/contracts.py), where a
test is about the calls themselves."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from snowflake.snowpark import Row, Session

from ml.config import MLSettings
from ml.snowflake.contract import INPUT_COLUMNS
from ml.snowflake.errors import SnowflakeUnavailable
from ml.snowflake.model import TitanicSurvivalModel, model_context, signatures
from ml.snowflake.registry import StoredVersion, VersionExistsError

SETTINGS = MLSettings(backend="snowflake")
TABLE = "LIFEBOAT.PUBLIC.TITANIC_DATA"


def coded(message: str, number: int) -> SnowflakeUnavailable:
    """A failure as ml.snowflake.session.explain reports it: one line, and Snowflake's error code."""
    failure = SnowflakeUnavailable(message)
    failure.code = number  # set, not passed: FakeStore also runs against code from before `code`
    return failure


class Unclosable:
    """The test's session handed to code that closes what it opened."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def close(self) -> None:
        pass


class FakeStore:
    """The ModelStore protocol in memory and on disk, with Snowflake's visible behaviour: the first
    version becomes the default, names are unique, export writes a model directory tree, and
    `run` goes through the packaged model with the warehouse's type casting."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stored: dict[str, StoredVersion] = {}
        self.default_version: str | None = None
        self.taken_by_others: set[str] = set()
        self.exports = 0
        self.runs = 0
        self.fail_runs: bool | Exception = False  # True: a transient failure; or the exception to raise
        self.after_log: Any = None  # called with the version once its files are stored (before metadata)
        self.fail_metadata: Exception | None = None  # log stores the version, then raises this
        self.fail_set_metric: Exception | None = None
        self.fail_delete: Exception | None = None

    def versions(self) -> list[StoredVersion]:
        return [replace(v, metrics=json.loads(json.dumps(v.metrics))) for v in self.stored.values()]

    def default(self) -> str | None:
        return self.default_version

    def set_default(self, version: str) -> None:
        assert version in self.stored
        self.default_version = version

    def log(self, model_dir: Path, *, version: str, comment: str, metrics: dict[str, Any]) -> None:
        if version in self.taken_by_others:  # another writer logged it between list and log
            self.taken_by_others.discard(version)
            self.stored[version] = StoredVersion(version, "2026-01-01", "someone else's", {})
            raise VersionExistsError(version)
        assert version not in self.stored
        shutil.copytree(model_dir, self.root / version)
        if self.default_version is None:
            self.default_version = version
        if self.after_log is not None:
            self.after_log(version)
        if self.fail_metadata is not None:  # created; SET COMMENT / SET METADATA never arrived
            self.stored[version] = StoredVersion(version, "2026-01-01 00:00:00", "", {})
            raise self.fail_metadata
        self.stored[version] = StoredVersion(
            version, "2026-01-01 00:00:00", comment, json.loads(json.dumps(metrics, default=str))
        )

    def set_metric(self, version: str, name: str, value: Any) -> None:
        if self.fail_set_metric is not None:
            raise self.fail_set_metric
        stored = self.stored[version]
        metrics = {**stored.metrics, name: json.loads(json.dumps(value, default=str))}
        self.stored[version] = replace(stored, metrics=metrics)

    def delete(self, version: str) -> None:
        if self.fail_delete is not None:
            raise self.fail_delete
        del self.stored[version]
        shutil.rmtree(self.root / version)
        if self.default_version == version:
            assert not self.stored, "Snowflake cannot drop the default version of a model with others"
            self.default_version = None

    def export(self, version: str, target: Path) -> None:
        self.exports += 1
        shutil.copytree(self.root / version, target / "model" / "models" / "TITANIC" / "artifacts")

    def _run_check(self) -> None:
        self.runs += 1
        if isinstance(self.fail_runs, Exception):
            raise self.fail_runs
        if self.fail_runs:  # 606: no usable warehouse right now (suspended, resuming): transient
            raise coded("cannot run the model: warehouse suspended", 606)

    def score_one(self, version: str, values: Any) -> float | None:
        assert len(values) == len(INPUT_COLUMNS)
        assert not any(isinstance(v, float) and v != v for v in values), "NaN bound: send None"
        frame = pd.DataFrame([list(values)], columns=list(INPUT_COLUMNS))
        value = self.run(version, frame)["output_feature_1"].iloc[0]
        return None if pd.isna(value) else float(value)

    def run(self, version: str, inputs: pd.DataFrame) -> pd.DataFrame:
        self._run_check()
        model = TitanicSurvivalModel(model_context(self.root / version))
        features = signatures()["predict_proba"].inputs
        typed = inputs[[f.name for f in features]].astype({f.name: f.as_dtype() for f in features})
        return pd.concat(
            [inputs.reset_index(drop=True), model.predict_proba(typed).reset_index(drop=True)], axis=1
        )


# -- an account behind the contract stand-ins ----------------------------------------------------------
class FakeAccount:
    """What a Snowflake account does with the calls lifeboat makes, behind the contract stand-ins
    (tests/support/contracts.py): `Registry`, `Model` and `ModelVersion` are autospecs whose effects
    are kept here, and `session.sql` answers the statements lifeboat sends (the context query, the
    package channel, the one-row scoring statement, the doctor's probes).

    As the library does it: `log_model` creates the version, then sets its comment and then its
    metadata, each pasted between `$$` quotes, which nothing escapes: a `$$` in either (or a comment
    ending in `$`) fails that statement after the version exists. `fail_after_create` fails there
    too (the network, a killed process). Versions are immutable, the first is the default, the
    default cannot be dropped."""

    CHANNEL: ClassVar[dict[str, list[str]]] = {
        "xgboost": ["1.7.6", "2.1.1", "3.2.0"],
        "cloudpickle": ["2.2.1", "3.1.2"],
        "numpy": ["1.26.4", "2.2.4"],
        "pandas": ["2.2.3"],
        "snowflake-ml-python": ["1.7.0", "2.6.0"],
        "snowflake-snowpark-python": ["1.56.0"],
        "scikit-learn": ["1.5.2"],
    }

    def __init__(self, contracts: Any, root: Path, monkeypatch: Any) -> None:
        from tests.support.contracts import patch_registry_class

        self.c = contracts
        self.root = root
        self.models: dict[str, dict[str, dict[str, Any]]] = {}
        self.defaults: dict[str, str] = {}
        self.channel = {name: list(versions) for name, versions in self.CHANNEL.items()}
        self.context: dict[str, Any] = {
            "USER": "LIFEBOAT_SVC",
            "ROLE": "LIFEBOAT_ROLE",
            "WAREHOUSE": "LIFEBOAT_WH",
            "DATABASE": "LIFEBOAT",
            "SCHEMA": "PUBLIC",
        }
        self.tables: set[str] = {TABLE}
        self._tables: dict[str, Any] = {}
        self.refused: dict[str, str] = {}  # statement pattern -> the error Snowflake would give
        self.fail_after_create: Exception | None = None
        self.version_mocks: dict[tuple[str, str], Any] = {}
        self._model_name = ""
        self.registry_class = patch_registry_class(monkeypatch, contracts)
        self._wire_registry()
        contracts.session.table.side_effect = self._table
        contracts.answer_sql(self._rules())

    # -- the registry --------------------------------------------------------------------------
    def _wire_registry(self) -> None:
        from unittest import mock

        registry, model = self.c.registry, self.c.model
        registry.show_models.side_effect = self._show_models
        registry.get_model.side_effect = self._get_model
        registry.log_model.side_effect = self._log_model
        registry.delete_model.side_effect = self._delete_model
        model.show_versions.side_effect = self._show_versions
        model.version.side_effect = lambda version_or_alias: self.version(self._model_name, version_or_alias)
        model.delete_version.side_effect = self._delete_version
        default = mock.PropertyMock(side_effect=self._default)
        setattr(type(model), "default", default)  # noqa: B010 - a property on the stand-in's own class

    def _default(self, *value: Any) -> Any:
        if (
            value
        ):  # Model.default = "V2": SHOW VERSIONS LIKE (it must exist), ALTER MODEL ... SET DEFAULT_VERSION
            name = str(value[0])
            assert name in self.models[self._model_name], f"{name} does not exist"
            self.defaults[self._model_name] = name
            return None
        return self.version(self._model_name, self.defaults[self._model_name])

    def _show_models(self) -> pd.DataFrame:
        rows = [
            {
                "name": n,
                "default_version_name": self.defaults.get(n),
                "owner": self.context["ROLE"],
                "comment": "",
            }
            for n in self.models
        ]
        return pd.DataFrame(rows, columns=["name", "default_version_name", "owner", "comment"])

    def _get_model(self, model_name: str) -> Any:
        if model_name not in self.models:
            raise RuntimeError(f"002003 (02000): Model {model_name} does not exist or not authorized.")
        self._model_name = model_name
        return self.c.model

    def _show_versions(self) -> pd.DataFrame:
        rows = [
            {
                "created_on": "2026-01-01 00:00:00",
                "name": name,
                "comment": v["comment"],
                "metadata": None if v["metadata"] is None else json.dumps(v["metadata"]),
                "is_default_version": self.defaults.get(self._model_name) == name,
            }
            for name, v in self.models[self._model_name].items()
        ]
        return pd.DataFrame(rows, columns=["created_on", "name", "comment", "metadata", "is_default_version"])

    @staticmethod
    def _dollar_quoted(text: str, what: str) -> None:
        """`... SET {what}=$$text$$`: the literal ends at the first `$$` inside."""
        if "$$" in text or text.endswith("$"):
            raise RuntimeError(
                f"001003 (42000): SQL compilation error: syntax error in SET {what}: unexpected '$'"
            )

    def _log_model(
        self, model: Any, *, model_name: str, version_name: str | None = None, **kwargs: Any
    ) -> Any:
        assert version_name is not None
        versions = self.models.setdefault(model_name, {})
        if version_name in versions:
            raise RuntimeError(
                f"002002 (42710): SQL compilation error: Object '{version_name}' already exists."
            )
        files = self.root / model_name / version_name
        files.mkdir(parents=True)
        for path in model.context.artifacts.values():
            shutil.copy(path, files / Path(path).name)
        versions[version_name] = {"comment": "", "metadata": None, "files": files}
        self.defaults.setdefault(model_name, version_name)
        if self.fail_after_create is not None:
            raise self.fail_after_create
        if kwargs.get("comment"):
            self._dollar_quoted(kwargs["comment"], "COMMENT")
            versions[version_name]["comment"] = kwargs["comment"]
        if kwargs.get("metrics"):
            self._set_metadata(model_name, version_name, dict(kwargs["metrics"]))
        return self.version(model_name, version_name)

    def _set_metadata(self, model_name: str, version_name: str, metrics: dict[str, Any]) -> None:
        metadata = {"metrics": metrics, "snowpark_ml_schema_version": "2024-01-01"}
        self._dollar_quoted(json.dumps(metadata), "METADATA")
        self.models[model_name][version_name]["metadata"] = metadata

    def _delete_model(self, model_name: str) -> None:
        for version in list(self.models.pop(model_name)):
            shutil.rmtree(self.root / model_name / version)
        self.defaults.pop(model_name, None)

    def _delete_version(self, version_name: str) -> None:
        if self.defaults.get(self._model_name) == version_name:
            raise RuntimeError("Cannot drop the default version of a model")
        del self.models[self._model_name][version_name]
        shutil.rmtree(self.root / self._model_name / version_name)

    def version(self, model_name: str, version_name: str) -> Any:
        """The `ModelVersion` stand-in of one version (one per version, as the library's objects are)."""
        from unittest import mock

        from snowflake.ml.model import ModelVersion

        key = (model_name, version_name)
        if key not in self.version_mocks:
            if version_name not in self.models.get(model_name, {}):
                raise RuntimeError(f"Unable to find version {version_name} in model {model_name}")
            mv = mock.create_autospec(ModelVersion, spec_set=True, instance=True)
            files = self.models[model_name][version_name]["files"]
            mv.export.side_effect = lambda target_path, **kw: shutil.copytree(
                files, Path(target_path) / "model" / "models" / model_name / "artifacts"
            )
            mv.run.side_effect = lambda X, **kw: self._run(files, X, **kw)
            mv.show_functions.return_value = [
                {
                    "name": "PREDICT_PROBA",
                    "target_method": "predict_proba",
                    "target_method_function_type": "FUNCTION",
                    "signature": signatures()["predict_proba"],
                    "is_partitioned": False,
                    "is_object_output": True,
                }
            ]
            mv.set_metric.side_effect = lambda metric_name, value: self._set_metric(key, metric_name, value)
            self.version_mocks[key] = mv
        return self.version_mocks[key]

    def _set_metric(self, key: tuple[str, str], name: str, value: Any) -> None:
        metadata = self.models[key[0]][key[1]]["metadata"] or {}
        self._set_metadata(*key, {**metadata.get("metrics", {}), name: value})

    @staticmethod
    def _scores(files: Path, rows: pd.DataFrame) -> pd.DataFrame:
        model = TitanicSurvivalModel(model_context(files))
        features = signatures()["predict_proba"].inputs
        typed = rows[[f.name for f in features]].astype({f.name: f.as_dtype() for f in features})
        return model.predict_proba(typed).reset_index(drop=True)

    def _run(
        self, files: Path, inputs: pd.DataFrame, *, function_name: str | None = None, **kwargs: Any
    ) -> Any:
        assert function_name == "predict_proba"
        return pd.concat([inputs.reset_index(drop=True), self._scores(files, inputs)], axis=1)

    def calls(self) -> list[str]:
        """Every call on the library's stand-ins, the per-version ones included."""
        per_version = [
            f"ModelVersion.{name}"
            for mv in self.version_mocks.values()
            for name, _a, _k in mv.mock_calls
            if name
        ]
        return [*self.c.calls(), *per_version]

    def reset(self) -> None:
        self.c.reset()
        for mv in self.version_mocks.values():
            mv.reset_mock(return_value=False, side_effect=False)

    # -- tables and statements -----------------------------------------------------------------
    def _table(self, name: Any, *args: Any, **kwargs: Any) -> Any:
        """`session.table(name)`: its `columns` (a describe) fail unless the table exists."""
        from unittest import mock

        from snowflake.snowpark import Table

        if name not in self._tables:  # one stand-in per name (an autospec of Table takes ~0.1 s)
            self._tables[name] = mock.create_autospec(Table, spec_set=True, instance=True)
        table = self._tables[name]

        def columns() -> list[str]:
            if name not in self.tables:
                raise RuntimeError(f"002003 (42S02): Object '{name}' does not exist or not authorized.")
            return ["PCLASS", "SEX", "AGE", "NAME"]

        type(table).columns = mock.PropertyMock(side_effect=columns)
        return table

    def _refuse(self, query: str) -> None:
        for pattern, error in self.refused.items():
            if re.search(pattern, query):
                raise RuntimeError(error)

    def _answer(self, query: str, params: list[Any] | None) -> list[Row]:
        self._refuse(query)
        for pattern, answer in (
            (r"CURRENT_USER\(\)", lambda: [Row(**self.context)]),
            (r"INFORMATION_SCHEMA\.PACKAGES", lambda: self._packages(params or [])),
            (r"^SELECT MODEL\(", lambda: self._score(query, params or [])),
            (r"^SHOW MODELS LIKE", lambda: self._show_models_like(query)),
            (r"IS_ROLE_IN_SESSION", lambda: [Row(HELD=params == [self.context["ROLE"]])]),
            (r"^DROP MODEL IF EXISTS", lambda: self._drop_model(query)),
        ):
            if re.search(pattern, query):
                return answer()
        return [Row(status="Statement executed successfully.")]

    def _rules(self) -> list[tuple[str, Any]]:
        return [(".", self._answer)]

    def _packages(self, params: list[Any]) -> list[Row]:
        *names, _python = params
        return [
            Row(PACKAGE_NAME=name, VERSION=version)
            for name in names
            for version in self.channel.get(name, [])
        ]

    def _score(self, query: str, params: list[Any]) -> list[Row]:
        match = re.search(r"MODEL\(\w+\.\w+\.(\w+), (V\d+)\)", query)
        assert match, query
        assert not any(isinstance(v, float) and v != v for v in params), "NaN bound: send None (NULL)"
        files = self.models[match.group(1)][match.group(2)]["files"]
        frame = pd.DataFrame([params], columns=list(INPUT_COLUMNS))
        value = self._scores(files, frame)["output_feature_1"].iloc[0]
        return [Row(SURVIVAL_PROBABILITY=None if pd.isna(value) else float(value))]

    def _show_models_like(self, query: str) -> list[Row]:
        name = re.search(r"LIKE '(\w+)'", query).group(1)  # type: ignore[union-attr]
        return [Row(name=name, owner=self.context["ROLE"])] if name in self.models else []

    def _drop_model(self, query: str) -> list[Row]:
        name = query.rsplit(".", 1)[-1]
        if name in self.models:
            self._delete_model(name)
        return [Row(status=f"{name} successfully dropped.")]
