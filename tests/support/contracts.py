"""Contract stand-ins for snowflake-ml-python and Snowpark: what only an account can answer.

Every object of those libraries that lifeboat calls is `create_autospec(<the real class>,
spec_set=True, instance=True)`, so a wrong argument name, a missing method or a changed signature
fails the test. Autospec alone leaves properties and return values as unchecked MagicMocks, so the
stand-ins are wired to each other by the real return annotations: `registry.get_model(n)` returns
the `Model` autospec, `.version(v)` the `ModelVersion` one, `session.sql(q)` the `DataFrame` one,
`session.sproc` the `StoredProcedureRegistration` one (one shared instance per class; a property
is a PropertyMock on the stand-in's own class, so `model.default = "V2"` is recorded). Methods
that take `**kwargs` (save_as_table, sproc.register, create_dataframe) accept any keyword under
autospec, and Snowpark's local testing ignores unknown ones too: `unknown_keywords` checks those
against the names the real method reads, and the `contracts` fixture runs it after every test.
"""

from __future__ import annotations

import inspect
import re
import shutil
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from snowflake.ml.model import Model, ModelVersion
from snowflake.ml.registry import Registry
from snowflake.snowpark import AsyncJob, DataFrame, DataFrameWriter, Row, Session, Table
from snowflake.snowpark.stored_procedure import StoredProcedureRegistration

KNOWN: dict[str, type] = {
    c.__name__: c
    for c in (
        Registry,
        Model,
        ModelVersion,
        Session,
        Session.SessionBuilder,
        DataFrame,
        Table,
        DataFrameWriter,
        AsyncJob,
        StoredProcedureRegistration,
    )
}


def _returns(annotation: object) -> type | None:
    """The known class an annotation names (a class, or a string / ForwardRef naming one). Unions
    (Session.call -> Any | AsyncJob, DataFrame.collect -> list[Row] | AsyncJob) are left to tests."""
    if isinstance(annotation, type):
        return annotation if annotation in KNOWN.values() else None
    text = annotation.__forward_arg__ if isinstance(annotation, typing.ForwardRef) else annotation
    if isinstance(text, str):
        return KNOWN.get(text.strip("'\"").rsplit(".", 1)[-1])
    return None


class Contracts:
    """One set of wired stand-ins (shared per class), plus what the tests check on them."""

    def __init__(self) -> None:
        self.memo: dict[type, Any] = {}
        self.statements: list[tuple[str, list[Any] | None]] = []  # session.sql(...) as sent

    def mock(self, cls: type) -> Any:
        if cls in self.memo:
            return self.memo[cls]
        stand_in = mock.create_autospec(cls, spec_set=True, instance=True)
        self.memo[cls] = stand_in
        for name, attr in inspect.getmembers(cls):
            if name.startswith("_"):
                continue
            static = inspect.getattr_static(cls, name)
            if isinstance(static, property) and static.fget is not None:
                target = _returns(inspect.signature(static.fget).return_annotation)
                if target is not None:
                    setattr(type(stand_in), name, mock.PropertyMock(return_value=self.mock(target)))
            elif callable(attr):
                try:
                    target = _returns(inspect.signature(attr).return_annotation)
                except (TypeError, ValueError):
                    continue
                if target is not None:
                    getattr(stand_in, name).return_value = self.mock(target)
        return stand_in

    @property
    def session(self) -> Any:
        return self.mock(Session)

    @property
    def registry(self) -> Any:
        return self.mock(Registry)

    @property
    def model(self) -> Any:
        return self.mock(Model)

    @property
    def version(self) -> Any:
        return self.mock(ModelVersion)

    def property_writes(self, stand_in: Any, name: str) -> list[Any]:
        """Values assigned to a property of a stand-in (`model.default = "V2"` -> ["V2"])."""
        return [c.args[0] for c in vars(type(stand_in))[name].call_args_list if c.args]

    # -- session.sql answered per statement ----------------------------------------------------
    def answer_sql(self, rules: list[tuple[str, Any]]) -> None:
        """`session.sql(query, params=...)` answered by the first rule whose regex matches the
        query: a list of Rows, a callable(query, params) giving one, or an exception to raise at
        collect(). Every statement is recorded in `statements`. (The answer goes to the shared
        DataFrame stand-in's `collect`: lifeboat collects each statement as soon as it builds it.)"""
        frame = self.mock(DataFrame)

        def sql(query: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.statements.append((query, None if params is None else list(params)))
            assert params is None or query.count("?") == len(params), (query, params)  # qmark: every ? bound
            for pattern, answer in rules:
                if re.search(pattern, query, re.IGNORECASE | re.DOTALL):
                    if isinstance(answer, BaseException):
                        frame.collect.side_effect = answer
                    else:
                        rows = answer(query, params) if callable(answer) else answer
                        frame.collect.side_effect = lambda *a, rows=list(rows), **k: rows
                    return frame
            raise AssertionError(f"unexpected statement: {query}")

        self.session.sql.side_effect = sql

    # -- checks --------------------------------------------------------------------------------
    def unknown_keywords(self) -> list[str]:
        """Keywords passed to `**kwargs` methods that the real method does not name."""
        problems = []
        for cls, stand_in in self.memo.items():
            for name, _args, kwargs in stand_in.mock_calls:
                if not name or "." in name or "(" in name:
                    continue
                real = inspect.getattr_static(cls, name, None)
                if real is None or isinstance(real, property) or not callable(real):
                    continue
                parameters = inspect.signature(getattr(cls, name)).parameters.values()
                if not any(p.kind is p.VAR_KEYWORD for p in parameters):
                    continue  # autospec checked this call already
                named = {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
                problems += [f"{cls.__name__}.{name}(... {k}=...)" for k in kwargs if k not in named]
        return problems

    def calls(self) -> list[str]:
        """Every call made on the library's stand-ins (property reads excluded), oldest first."""
        return [
            f"{cls.__name__}.{name}"
            for cls, stand_in in self.memo.items()
            for name, _args, _kwargs in stand_in.mock_calls
            if name and "(" not in name
        ]

    def reset(self) -> None:
        for stand_in in self.memo.values():
            stand_in.reset_mock(return_value=False, side_effect=False)
        self.statements.clear()


@pytest.fixture
def contracts() -> Iterator[Contracts]:
    """Wired stand-ins for one test; fails the test if a `**kwargs` method got a keyword its real
    method does not read."""
    wired = Contracts()
    yield wired
    assert wired.unknown_keywords() == []


def patch_registry_class(monkeypatch: pytest.MonkeyPatch, wired: Contracts) -> Any:
    """`snowflake.ml.registry.Registry(...)` gives the wired stand-in; the class itself is an
    autospec too, so the constructor's arguments are checked."""
    import snowflake.ml.registry

    cls = mock.create_autospec(Registry, spec_set=True)
    cls.return_value = wired.registry
    monkeypatch.setattr(snowflake.ml.registry, "Registry", cls)
    return cls


def versions_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """`Model.show_versions()`'s answer (the columns lifeboat reads)."""
    return pd.DataFrame(rows, columns=["created_on", "name", "comment", "metadata", "is_default_version"])


def models_frame(name: str | None, default: str | None = None) -> pd.DataFrame:
    """`Registry.show_models()`'s answer."""
    rows = [] if name is None else [{"name": name, "default_version_name": default, "comment": ""}]
    return pd.DataFrame(rows, columns=["name", "default_version_name", "comment"])


def exporting(files: Path) -> Callable[..., None]:
    """`ModelVersion.export`'s effect: the version's artifacts under the target, as the library lays
    them out (model/models/<name>/artifacts/...)."""

    def export(target_path: str, *, export_mode: Any = None) -> None:
        shutil.copytree(files, Path(target_path) / "model" / "models" / "TITANIC" / "artifacts")

    return export


__all__ = [
    "KNOWN",
    "Contracts",
    "Row",
    "contracts",
    "exporting",
    "models_frame",
    "patch_registry_class",
    "versions_frame",
]
