"""The Snowflake backend against Snowpark's local testing session (no account needed).

Covered here: TITANIC_DATA written and read back, the feature code on rows pulled from a Snowpark
DataFrame, the training stored procedure registered and called (local testing runs it in process),
the registry's logic and audit table with a stand-in for the Registry calls, and warehouse scoring
through that stand-in running the packaged model. What only an account can show is in
test_snowflake_live.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from snowflake.snowpark import Session

from ml.backend import open_backend
from ml.core.features import columns_from_frame
from ml.core.model import InvalidRowsError, SurvivalModel
from ml.core.passenger import Passenger
from ml.core.table import DataError, fingerprint, normalize
from ml.core.training import train
from ml.io.artifacts import save_model
from ml.io.data import load_csv
from ml.io.registry import RegistryError, UnknownVersionError
from ml.io.serving import ModelUnavailableError, Scorer
from ml.snowflake.contract import INPUT_COLUMNS, SURVIVED
from ml.snowflake.data import ROW_COLUMN, TableExistsError, load_data, read_passengers
from ml.snowflake.errors import SnowflakeUnavailable
from ml.snowflake.model import TitanicSurvivalModel, columns_from_inputs, model_context, signatures
from ml.snowflake.registry import (
    META_KEY,
    SnowflakeRegistry,
)
from ml.snowflake.runs import SessionSql, SnowflakeRunStore
from ml.snowflake.scoring import WarehouseScorer
from ml.snowflake.train import DONE, run_training
from tests.support.models import FAST_CONFIG, PASSENGERS, fitted_model
from tests.support.snowflake import SETTINGS, TABLE, FakeStore, coded


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Upper-case names, None for missing values: what create_dataframe accepts from pandas."""
    return frame.rename(columns=str.upper).astype(object).where(frame.notna().to_numpy(), None)


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    # NaN and None both mean "unknown" in a passenger frame.
    pd.testing.assert_frame_equal(
        a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None)
    )


# -- data ---------------------------------------------------------------------------------------
def test_load_data_writes_upper_case_columns_and_reads_back_the_same_passengers(loaded: Session) -> None:
    columns = loaded.table(TABLE).columns
    assert columns == [
        "SURVIVED", "PCLASS", "NAME", "SEX", "AGE", "SIBSP", "PARCH", "TICKET", "FARE", "CABIN", "EMBARKED",
        "TITLE", ROW_COLUMN,
    ]  # fmt: skip
    assert set(INPUT_COLUMNS) <= set(columns)  # every model input exists: the SQL can name them all
    shipped = load_csv()
    back = read_passengers(loaded, SETTINGS)
    same_frame(back, shipped)
    assert fingerprint(back) == fingerprint(shipped)


def test_load_data_refuses_to_overwrite_unless_asked(loaded: Session, tmp_path: Path) -> None:
    with pytest.raises(TableExistsError, match="already exists: pass --replace"):
        load_data(SETTINGS, None, replace=False)
    small = tmp_path / "small.csv"
    load_csv().head(20).to_csv(small, index=False)
    assert load_data(SETTINGS, str(small), replace=True) == 20
    assert loaded.table(TABLE).count() == 20


def test_a_csv_without_names_round_trips_too(loaded: Session, tmp_path: Path) -> None:
    source = tmp_path / "kaggle-like.csv"
    raw = pd.read_csv(load_csv.__globals__["shipped_data_path"]()).drop(columns=["name"]).head(100)
    raw.rename(columns=str.title).to_csv(source, index=False)  # Survived, Pclass, ... like Kaggle
    load_data(SETTINGS, str(source), replace=True)
    assert {"NAME", "TITLE"} <= set(loaded.table(TABLE).columns)  # added, all NULL
    same_frame(read_passengers(loaded, SETTINGS), load_csv(source))


def test_read_passengers_needs_the_table(session: Session) -> None:
    with pytest.raises(SnowflakeUnavailable, match=r"TITANIC_DATA does not exist .*lifeboat load-data"):
        read_passengers(session, SETTINGS)


def test_a_table_from_elsewhere_is_read_in_a_fixed_order(session: Session) -> None:
    shuffled = load_csv().sample(frac=1.0, random_state=3)
    session.create_dataframe(plain(shuffled)).write.save_as_table("LIFEBOAT.PUBLIC.OTHER", mode="overwrite")
    once = read_passengers(session, SETTINGS, "OTHER")
    again = read_passengers(session, SETTINGS, "other")
    same_frame(once, again)
    assert len(once) == 891


# -- the feature code on Snowpark data ------------------------------------------------------------
def test_features_from_a_snowpark_dataframe_equal_the_local_ones(loaded: Session) -> None:
    local = columns_from_frame(load_csv())
    pulled = (
        loaded.table(TABLE).sort(ROW_COLUMN).select(*INPUT_COLUMNS).to_pandas()
    )  # what MODEL(...)!PREDICT_PROBA(...) receives when scoring TITANIC_DATA
    from_table = columns_from_inputs(pulled)
    for name, values in local.items():
        if values.dtype == object:
            assert list(from_table[name]) == list(values), name
        else:
            np.testing.assert_array_equal(from_table[name], values, err_msg=name)
    frame = normalize(loaded.table(TABLE).sort(ROW_COLUMN).to_pandas(), require_target=True)
    np.testing.assert_array_equal(columns_from_frame(frame)["pclass"], local["pclass"])


def test_sql_scoring_of_the_table_equals_local_batch_scoring(loaded: Session, tmp_path: Path) -> None:
    """The model applied to the columns PREDICT_PROBA gets from TITANIC_DATA (typed as the warehouse
    casts them) gives the bot's batch-scoring numbers for the same passengers."""
    save_model(fitted_model(), tmp_path / "m")
    model = TitanicSurvivalModel(model_context(tmp_path / "m"))
    inputs = signatures()["predict_proba"].inputs
    pulled = loaded.table(TABLE).sort(ROW_COLUMN).select(*INPUT_COLUMNS).to_pandas()
    typed = pulled.astype({f.name: f.as_dtype() for f in inputs})
    np.testing.assert_array_equal(
        model.predict_proba(typed)[SURVIVED].to_numpy(), fitted_model().predict_frame(load_csv())
    )


# -- training in the warehouse ---------------------------------------------------------------------
def test_the_training_procedure_runs_the_same_recipe(loaded: Session) -> None:
    steps: list[str] = []
    summary = run_training(
        loaded, SETTINGS, actor="tests", progress=steps.append, register=False, config=FAST_CONFIG
    )
    local = train(load_csv(), FAST_CONFIG)
    assert summary["metrics"] == local.metrics()
    assert summary["params"] == local.params
    assert summary["data_fingerprint"] == local.data_fingerprint
    assert summary["info"]["holdout_fingerprint"] == local.holdout_fingerprint
    assert summary["version"] is None  # registering is live-only (the Registry needs an account)
    assert steps == ["load data", "cross-validate", "evaluate on holdout", "fit on all rows", DONE]
    progress = loaded.table("LIFEBOAT.PUBLIC.LIFEBOAT_TRAINING_PROGRESS").to_pandas()
    assert list(progress.sort_values("SEQ")["STEP"]) == steps
    assert progress["RUN_ID"].nunique() == 1


def test_a_failing_procedure_reports_one_line(session: Session) -> None:
    frame = load_csv().drop(columns=["survived"])
    session.create_dataframe(plain(frame)).write.save_as_table(TABLE, mode="overwrite")
    with pytest.raises(SnowflakeUnavailable) as caught:
        run_training(session, SETTINGS, actor="tests", register=False, config=FAST_CONFIG)
    assert "missing column survived" in str(caught.value) and "\n" not in str(caught.value)


def test_training_needs_the_table(session: Session) -> None:
    with pytest.raises(SnowflakeUnavailable, match="lifeboat load-data"):
        run_training(session, SETTINGS, actor="tests", register=False, config=FAST_CONFIG)


# -- the registry, with a stand-in for snowflake.ml.registry --------------------------------------
def log(registry: SnowflakeRegistry, model: SurvivalModel | None = None, **kwargs: Any) -> Any:
    return registry.log_model(
        model or fitted_model(),
        metrics={"holdout_log_loss": 0.41, "cv_accuracy": 0.83},
        params={"max_depth": 2},
        comment=kwargs.pop("comment", "test version"),
        created_by=kwargs.pop("created_by", "ann"),
        data_fingerprint="sha256:abc",
        info={"n_rows": 891},
        **kwargs,
    )


def test_versions_are_allocated_and_the_first_becomes_default(
    registry: SnowflakeRegistry, store: FakeStore
) -> None:
    assert registry.get_default() is None and registry.default_token() is None
    v1 = log(registry)
    assert (v1.version, v1.is_default) == ("V1", True)
    assert (v1.created_by, v1.params, v1.data_fingerprint, v1.info) == (
        "ann",
        {"max_depth": 2},
        "sha256:abc",
        {"n_rows": 891},
    )
    assert v1.metrics == {"holdout_log_loss": 0.41, "cv_accuracy": 0.83}  # the lifeboat entry is not a metric
    assert META_KEY in store.stored["V1"].metrics
    v2 = log(registry, created_by="bob")
    assert (v2.version, v2.is_default, registry.get_default()) == ("V2", False, "V1")
    v3 = log(registry, make_default=True)
    assert (v3.version, v3.is_default, registry.default_token()) == ("V3", True, "V3")
    assert [v.version for v in registry.list_versions()] == ["V1", "V2", "V3"]
    with pytest.raises(UnknownVersionError):
        registry.get_version("V9")


def test_a_version_name_taken_meanwhile_is_skipped(registry: SnowflakeRegistry, store: FakeStore) -> None:
    log(registry)
    store.taken_by_others.add("V2")
    assert log(registry).version == "V3"


def test_set_default_and_the_audit_trail(registry: SnowflakeRegistry) -> None:
    log(registry)
    log(registry, created_by="bob")
    assert registry.set_default("v2", actor="carol", details={"why": "better"}) == "V1"
    assert registry.default_token() == "V2"
    registry.audit("dave", "retrain-refused", outcome="refused", details={"why": "busy"})
    events = registry.history()
    assert [(e.action, e.actor, e.from_version, e.to_version) for e in events] == [
        ("retrain-refused", "dave", None, None),
        ("promote", "carol", "V1", "V2"),
        ("register", "bob", None, "V2"),
        ("register", "ann", None, "V1"),
    ]
    assert events[1].details == {"why": "better", "default_changed": True}
    assert events[3].details["default_changed"] is True and events[2].details["default_changed"] is False
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
    assert registry.previous_default() == "V1"  # what a rollback returns to (ModelRegistry's rule)
    assert len(registry.history(limit=2)) == 2
    with pytest.raises(UnknownVersionError):
        registry.set_default("V7")


def test_audit_rows_of_other_models_are_not_mixed_in(
    session: Session, store: FakeStore, tmp_path: Path
) -> None:
    first = SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "a")
    other = SnowflakeRegistry(
        session, replace(SETTINGS, model_name="OTHER"), store=FakeStore(tmp_path), cache_dir=tmp_path / "b"
    )
    first.audit("ann", "note")
    other.audit("bob", "note")
    assert [e.actor for e in first.history()] == ["ann"]
    assert session.table("LIFEBOAT.PUBLIC.LIFEBOAT_AUDIT").count() == 2


def test_load_model_fetches_once_and_scores_in_process(
    registry: SnowflakeRegistry, store: FakeStore, session: Session, tmp_path: Path
) -> None:
    log(registry)
    model = registry.load_model("V1")
    frame = load_csv()
    np.testing.assert_array_equal(model.predict_frame(frame), fitted_model().predict_frame(frame))
    assert registry.load_model("v1") is model and store.exports == 1
    # The exported version brings its members and evidence: answers have a range and people like you.
    someone = PASSENGERS[1]
    assert model.explain(someone) == fitted_model().explain(someone)
    assert model.explain(someone).likely is not None and model.explain(someone).evidence is not None
    # A new process finds the files in the cache (checksum verified) and does not export again.
    again = SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "cache")
    again.load_model("V1")
    assert store.exports == 1


def test_damaged_cache_is_fetched_again_and_damaged_exports_refused(
    registry: SnowflakeRegistry, store: FakeStore, session: Session, tmp_path: Path
) -> None:
    log(registry)
    registry.load_model("V1")
    (tmp_path / "cache" / "V1" / "features.json").write_text("{}")
    SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "cache").load_model("V1")
    assert store.exports == 2
    (store.root / "V1" / "booster.ubj").write_bytes(b"not a booster")
    with pytest.raises(RegistryError, match="damaged"):
        SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "fresh").load_model("V1")


def test_the_local_scorer_serves_from_the_snowflake_registry(registry: SnowflakeRegistry) -> None:
    log(registry)
    scorer = Scorer(registry, refresh_seconds=0)
    assert scorer.version == "V1"
    log(registry, make_default=True)
    assert scorer.version == "V2"


def test_the_backend_keeps_runs_beside_the_registry(registry: SnowflakeRegistry) -> None:
    """A registry on a session it was handed shares that session with its run store; one that
    opened its own session gives the store a second one (transactions span a whole session)."""
    runs = open_backend(SETTINGS, registry=registry).runs
    assert isinstance(runs, SnowflakeRunStore) and isinstance(runs.sql, SessionSql)
    assert runs.sql.session() is registry.session
    registry.owns_session = True
    own = SnowflakeRunStore.for_registry(registry)
    assert isinstance(own.sql, SessionSql) and own.sql._session is None  # opened on first use, not now


# -- warehouse scoring -----------------------------------------------------------------------------
def test_warehouse_scorer_matches_the_local_scorer(registry: SnowflakeRegistry, store: FakeStore) -> None:
    log(registry)
    local, warehouse = Scorer(registry), WarehouseScorer(registry, fallback=False)
    # "A girl" has no age: the warehouse's inputs have no "child", so her age is sent as a number.
    people = [*PASSENGERS, Passenger.create(pclass=3, sex="female", child=True)]
    for passenger in people:
        expected, got = local.predict(passenger), warehouse.predict(passenger)
        assert got.probability == pytest.approx(expected.probability, abs=1e-12)
        assert (got.reasons, got.assumptions, got.version) == (expected.reasons, expected.assumptions, "V1")
        assert (got.likely, got.evidence) == (expected.likely, expected.evidence)
    frame = load_csv()
    np.testing.assert_allclose(warehouse.score_frame(frame), local.score_frame(frame), rtol=0, atol=1e-12)
    assert store.runs == len(people) + 1  # one mv.run per passenger, one for the whole frame
    assert warehouse.model_card().version == "V1"


def test_warehouse_scorer_refuses_invalid_rows_like_the_local_one(registry: SnowflakeRegistry) -> None:
    log(registry)
    frame = load_csv().head(5).copy()
    frame.loc[2, "pclass"] = 7
    with pytest.raises(InvalidRowsError, match="row 3"):
        WarehouseScorer(registry).score_frame(frame)


def test_warehouse_failure_falls_back_or_raises(registry: SnowflakeRegistry, store: FakeStore) -> None:
    log(registry)
    store.fail_runs = True
    passenger = Passenger.create(pclass=2, sex="female", age=30)
    tolerant = WarehouseScorer(registry)
    assert tolerant.predict(passenger).probability == Scorer(registry).predict(passenger).probability
    assert tolerant.fallbacks == 1
    with pytest.raises(ModelUnavailableError, match="warehouse suspended"):
        WarehouseScorer(registry, fallback=False).predict(passenger)


def test_warehouse_scorer_needs_the_snowflake_registry(tmp_path: Path) -> None:
    from ml.io.local_registry import LocalRegistry

    with pytest.raises(TypeError, match="LIFEBOAT_BACKEND=snowflake"):
        WarehouseScorer(LocalRegistry(tmp_path))


def test_data_errors_are_data_errors() -> None:
    assert issubclass(TableExistsError, DataError)


# -- issue 11, finding 1: a version is complete, or detectably not and then unusable ---------------------
def test_a_version_left_without_its_record_is_never_promoted_and_loads_only_verified(
    registry: SnowflakeRegistry, store: FakeStore, session: Session, tmp_path: Path
) -> None:
    """The library writes the version, then its comment, then its metadata: a process stopped in
    between (here: the metadata, its repair and the drop all fail) leaves a version with no record
    in the registry. It must not load unverified, nor become the default."""
    log(registry)
    store.fail_metadata = SnowflakeUnavailable("cannot register: 000604 SQL execution was cancelled")
    store.fail_set_metric = SnowflakeUnavailable("390114: Authentication token has expired")
    store.fail_delete = SnowflakeUnavailable("390114: Authentication token has expired")
    with pytest.raises((RegistryError, SnowflakeUnavailable)):
        log(registry, created_by="bob")
    assert "V2" in store.stored and store.stored["V2"].metrics == {}  # what was left behind
    with pytest.raises(RegistryError, match="not registered completely"):
        registry.set_default("V2")
    assert registry.get_default() == "V1"
    listed = {v.version: v for v in registry.list_versions()}
    assert set(listed) == {"V1", "V2"} and "incomplete" in listed["V2"].info
    assert registry.incomplete_versions() == ["V2"]
    # Its files came with their own record (lifeboat.json, written by the same statement): they
    # load only when they match it.
    fresh = SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "fresh")
    np.testing.assert_array_equal(
        fresh.load_model("V2").predict_frame(load_csv()), fitted_model().predict_frame(load_csv())
    )
    (store.root / "V2" / "booster.ubj").write_bytes(b"damaged")
    with pytest.raises(RegistryError, match="damaged"):
        SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "other").load_model("V2")
    (store.root / "V2" / "lifeboat.json").unlink()  # as a version logged before the record existed
    with pytest.raises(RegistryError, match="no checksum: it was not registered completely"):
        SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "third").load_model("V2")


def test_a_record_that_comes_back_as_text_still_guards_the_files(
    registry: SnowflakeRegistry, store: FakeStore, session: Session, tmp_path: Path
) -> None:
    log(registry)
    stored = store.stored["V1"]
    as_text = {**stored.metrics, META_KEY: json.dumps(stored.metrics[META_KEY])}
    store.stored["V1"] = replace(stored, metrics=as_text)
    (store.root / "V1" / "lifeboat.json").unlink(missing_ok=True)  # only the registry's copy can tell
    assert registry.get_version("V1").created_by == "ann"
    (store.root / "V1" / "features.json").write_text(
        (store.root / "V1" / "features.json").read_text().replace("0", "1", 1)
    )
    with pytest.raises(RegistryError, match="damaged"):
        SnowflakeRegistry(session, SETTINGS, store=store, cache_dir=tmp_path / "fresh").load_model("V1")


def test_a_missing_record_copy_is_written_again(registry: SnowflakeRegistry, store: FakeStore) -> None:
    store.fail_metadata = SnowflakeUnavailable("cannot register: 000604 SQL execution was cancelled")
    v1 = log(registry, comment="costs $$5", created_by="ops")
    assert (v1.version, v1.comment, v1.created_by, v1.metrics["holdout_log_loss"]) == (
        "V1",
        "costs $$5",
        "ops",
        0.41,
    )
    assert registry.incomplete_versions() == []


# -- issue 11, finding 3: warehouse failures are bounded and visible ----------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_version_that_cannot_run_in_the_warehouse_is_off_until_the_default_changes(
    registry: SnowflakeRegistry, store: FakeStore
) -> None:
    log(registry)
    store.fail_runs = coded(
        "cannot run TITANIC V1 in the warehouse: 002140 Unknown function PREDICT_PROBA", 2140
    )
    scorer = WarehouseScorer(registry, refresh_seconds=0)
    passenger = Passenger.create(pclass=2, sex="female", age=30)
    expected = Scorer(registry).predict(passenger).probability
    for _ in range(3):
        assert scorer.predict(passenger).probability == expected  # answered from the fetched copy
    assert store.runs == 1  # asked once, then off for V1
    status = scorer.status()
    assert (status["path"], status["state"], status["version"]) == ("fallback", "off-for-version", "V1")
    assert (status["answers"], status["fallbacks"]) == (3, 3) and "Unknown function" in status["last_error"]
    store.fail_runs = False
    log(registry, make_default=True)  # a new default is a new chance
    assert scorer.predict(passenger).version == "V2"
    assert store.runs == 2 and scorer.status()["path"] == "warehouse"


def test_transient_failures_pause_the_warehouse_then_one_answer_tries_again(
    registry: SnowflakeRegistry, store: FakeStore
) -> None:
    log(registry)
    clock = Clock()
    scorer = WarehouseScorer(
        registry, refresh_seconds=3600, failures_to_pause=3, pause_seconds=60, clock=clock
    )
    passenger = Passenger.create(pclass=3, sex="male")
    store.fail_runs = True  # 606: no usable warehouse (suspended, resuming)
    for _ in range(5):
        scorer.predict(passenger)
    assert store.runs == 3  # the 4th and 5th answers did not wait for a failing warehouse
    assert scorer.status()["state"] == "paused"
    clock.now += 61
    scorer.predict(passenger)  # one answer tries again: still failing, paused again
    assert store.runs == 4 and scorer.status()["state"] == "paused"
    store.fail_runs = False
    clock.now += 61
    scorer.predict(passenger)
    assert store.runs == 5 and scorer.status()["state"] == "ok" and scorer.status()["path"] == "warehouse"
    scorer.predict(passenger)
    assert store.runs == 6 and scorer.status()["fallbacks"] == 6 and scorer.status()["answers"] == 8


def test_without_fallback_a_warehouse_failure_is_an_error_and_nothing_falls_back(
    registry: SnowflakeRegistry, store: FakeStore
) -> None:
    log(registry)
    store.fail_runs = True
    strict = WarehouseScorer(registry, fallback=False)
    with pytest.raises(ModelUnavailableError, match="warehouse suspended"):
        strict.predict(Passenger.create(pclass=1, sex="male"))
    assert strict.status()["fallbacks"] == 0 and strict.status()["fallback_allowed"] is False


def test_healthz_and_the_model_card_show_the_scoring_path(
    registry: SnowflakeRegistry, store: FakeStore
) -> None:
    from types import SimpleNamespace

    from bot.blocks.survive import model_card_blocks
    from bot.transport.delivery import DeliveryStats
    from bot.transport.http import health
    from bot.transport.uploads import UploadedImages

    log(registry)
    store.fail_runs = coded("002003: MODEL TITANIC does not exist or not authorized", 2003)
    scorer = WarehouseScorer(registry)
    scorer.predict(Passenger.create(pclass=1, sex="female"))
    services = SimpleNamespace(
        registry=registry,
        model_name="TITANIC",
        scorer=scorer,
        delivery=DeliveryStats(),
        images=UploadedImages(),
    )
    shown = health(services)  # type: ignore[arg-type]
    assert shown["ok"] is True and shown["model_version"] == "V1"
    scoring = shown["scoring"]
    assert (scoring["configured"], scoring["path"], scoring["fallbacks"], scoring["answers"]) == (
        "warehouse",
        "fallback",
        1,
        1,
    )
    card = json.dumps(model_card_blocks(registry.get_version("V1"), backend="snowflake", scoring=scoring))
    assert "Scoring: local fallback" in card and "1 of 1 answers fell back" in card
    local = json.dumps(
        model_card_blocks(registry.get_version("V1"), backend="snowflake", scoring=Scorer(registry).status())
    )
    assert "Scoring: in the bot (local)" in local
