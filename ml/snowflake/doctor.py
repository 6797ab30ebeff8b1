"""`lifeboat doctor` on the Snowflake backend: everything an account must allow, checked in order.

1. connections.toml has the entry, and the driver logs in with it;
2. the session's role, warehouse, database and schema (each on its own line, with its GRANT), and
   the warehouse runs a query;
3. what the backend creates or writes, probed rather than read from SHOW GRANTS (which lists
   direct grants only, not what the role inherits): CREATE TABLE / STAGE / FILE FORMAT on the
   schema (temporary objects, dropped at once), SELECT / INSERT / UPDATE / DELETE on each of
   lifeboat's tables (statements that touch no row), ownership of the model (ADD VERSION and
   SET DEFAULT_VERSION need it);
4. the package channel (INFORMATION_SCHEMA.PACKAGES) has what a model logged from here asks for
   (from the library's own packager) and what the training procedure asks for; then the procedure
   itself is created and called (CREATE PROCEDURE, the Anaconda terms, the versions it resolves);
5. a round trip under a throwaway model name: log a tiny model through the production code (channel
   check, lifeboat.json, `$`-safe metadata, read back complete), score one passenger by `mv.run`
   and by the one-row SQL statement the bot uses, compare both with local scoring, check that a
   passenger the model must refuse comes back NULL, and drop the model (always, even after a
   failure: that step needs only a session);
6. the configured model (ml.io.doctor's registry checks: the default loads verified, a passenger
   scores, by the configured scoring path), with no incomplete versions, and TITANIC_DATA.

Every statement here is fixed text around validated identifiers; values are bound.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snowflake.snowpark import Session  # at run time: Snowpark reads the procedure handler's hints

from ml.config import MLSettings
from ml.core.features import columns_from_passengers
from ml.io.doctor import PASSENGER, Check, CheckFailed, CheckResult, RegistryChecks, run_checks
from ml.io.registry import ModelRegistry
from ml.snowflake import identifiers, objects
from ml.snowflake.errors import SnowflakeUnavailable

if TYPE_CHECKING:
    from ml.io.serving import PassengerScorer
    from ml.snowflake.channel import Availability
    from ml.snowflake.registry import SnowflakeRegistry

DOCTOR_PREFIX = "LIFEBOAT_DOCTOR_"
AGREE = 1e-9  # mv.run, SQL and local scoring run the same booster and feature code
# Each table lifeboat writes, the privileges it needs there, and a column an UPDATE probe may name.
TABLE_NEEDS: tuple[tuple[Callable[[Any], str], tuple[str, ...], str], ...] = (
    (objects.audit_table, ("SELECT", "INSERT"), "ID"),
    (objects.progress_table, ("SELECT", "INSERT"), "RUN_ID"),
    (objects.runs_table, ("SELECT", "INSERT", "UPDATE"), "ID"),
    (objects.locks_table, ("SELECT", "INSERT", "UPDATE", "DELETE"), "NAME"),
)


def _probe(privilege: str, table: str, column: str) -> str:
    """A statement that needs `privilege` on `table` and changes nothing (privileges are checked
    when a statement compiles, whatever rows it would touch)."""
    return {
        "SELECT": f"SELECT 1 FROM {table} LIMIT 0",
        "INSERT": f"INSERT INTO {table} SELECT * FROM {table} WHERE FALSE",
        "UPDATE": f"UPDATE {table} SET {column} = {column} WHERE FALSE",
        "DELETE": f"DELETE FROM {table} WHERE FALSE",
    }[privilege]


def doctor_versions(_session: Session) -> str:
    """The doctor's procedure handler (runs in the warehouse): the versions the channel resolved."""
    import snowflake.ml.version
    import xgboost

    return json.dumps({"snowflake-ml-python": snowflake.ml.version.VERSION, "xgboost": xgboost.__version__})


class SnowflakeDoctor:
    """The checks (see the module docstring), sharing one session."""

    def __init__(self, settings: MLSettings, *, login: Callable[[MLSettings], tuple[str, Session]]) -> None:
        self.settings = settings
        self.login = login
        self.database, self.schema = identifiers.database(settings), identifiers.schema(settings)
        self.where = f"{self.database}.{self.schema}"
        self.suffix = uuid.uuid4().hex[:8].upper()
        self.throwaway = f"{DOCTOR_PREFIX}{self.suffix}"
        self.name = ""
        self.session: Session | None = None
        self.context: dict[str, str | None] = {}
        self.scratch = tempfile.TemporaryDirectory(prefix="lifeboat-doctor-")
        self.requirements: tuple[str, tuple[str, ...]] | None = None
        self.round_trip: SnowflakeRegistry | None = None
        self.scores: dict[str, float] = {}
        self.registry_checks = RegistryChecks(self._registry, self._scorer, needs=("database", "schema"))

    # -- helpers -----------------------------------------------------------------------------
    @property
    def role(self) -> str:
        return str(self.context.get("ROLE") or "<role>")

    def _session(self) -> Session:
        assert self.session is not None
        return self.session

    def _sql(self, statement: str, params: list[Any] | None = None) -> list[Any]:
        return self._session().sql(statement, params=params).collect()

    def _registry(self) -> ModelRegistry:
        from ml.snowflake.registry import SnowflakeRegistry

        return SnowflakeRegistry(self._session(), self.settings)

    def _scorer(self, registry: ModelRegistry) -> PassengerScorer:
        """The configured scoring path, strict: a warehouse failure is a failure here."""
        from ml.io.serving import Scorer

        if self.settings.scoring != "warehouse":
            return Scorer(registry)
        from ml.snowflake.scoring import WarehouseScorer

        return WarehouseScorer(registry, fallback=False)  # type: ignore[arg-type]

    def close(self) -> None:
        self.registry_checks.registry = None  # on our session, closed below
        if self.session is not None:
            self.session.close()
        self.scratch.cleanup()

    # -- 1-2: connection and context ---------------------------------------------------------
    def connection(self) -> str:
        from ml.snowflake.session import CONNECTIONS_FILE, connection_parameters

        self.name, params = connection_parameters(self.settings)
        shown = ", ".join(f"{k}={params[k]}" for k in ("account", "host", "user") if params.get(k))
        return f"[{self.name}] in {CONNECTIONS_FILE}: {shown or 'entry found'}"

    def logs_in(self) -> str:
        self.name, self.session = self.login(self.settings)
        from ml.snowflake.session import read_context

        self.context = read_context(self.session)
        return f"as {self.context.get('USER')}"

    def context_check(self, part: str) -> Check:
        def check() -> str:
            from ml.snowflake.session import context_problem

            problem = context_problem(part, self.context, self.settings, self.name)
            if problem:
                detail, _, fix = problem.partition(": ")
                raise CheckFailed(detail, fix)
            return str(self.context[part])

        return Check(part.lower(), check, needs=("login",))

    def warehouse_runs(self) -> str:
        try:
            self._sql("SELECT COUNT(*) FROM TABLE(GENERATOR(ROWCOUNT => 1))")
        except Exception as exc:
            warehouse = self.context.get("WAREHOUSE")
            raise CheckFailed(
                self._said(exc),
                f"ALTER WAREHOUSE {warehouse} RESUME (or SET AUTO_RESUME = TRUE), or GRANT OPERATE ON"
                f" WAREHOUSE {warehouse} TO ROLE {self.role}",
            ) from None
        return f"{self.context.get('WAREHOUSE')} ran a query"

    @staticmethod
    def _said(exc: BaseException) -> str:
        from ml.snowflake.session import driver_message

        return str(exc) if isinstance(exc, SnowflakeUnavailable) else driver_message(exc)

    # -- 3: privileges ---------------------------------------------------------------------------
    def create_check(self, kind: str, create: str) -> Check:
        name = f"{self.where}.{DOCTOR_PREFIX}{kind.replace(' ', '_')}_{self.suffix}"

        def check() -> str:
            try:
                self._sql(f"CREATE TEMPORARY {kind} {name} {create}".strip())
                self._sql(f"DROP {kind} IF EXISTS {name}")
            except Exception as exc:
                raise CheckFailed(
                    self._said(exc), f"GRANT CREATE {kind} ON SCHEMA {self.where} TO ROLE {self.role}"
                ) from None
            return f"created and dropped a temporary {kind.lower()}"

        return Check(f"CREATE {kind} on {self.where}", check, needs=("database", "schema", "warehouse"))

    def table_check(self, table: str, privileges: tuple[str, ...], column: str) -> Check:
        from ml.snowflake.objects import table_exists

        def check() -> str:
            if not table_exists(self._session(), table):
                return f"not created yet (lifeboat creates it: CREATE TABLE above); needs {', '.join(privileges)}"
            for privilege in privileges:
                try:
                    self._sql(_probe(privilege, table, column))
                except Exception as exc:
                    raise CheckFailed(
                        f"{privilege}: {self._said(exc)}",
                        f"GRANT {', '.join(privileges)} ON TABLE {table} TO ROLE {self.role}",
                    ) from None
            return ", ".join(privileges)

        return Check(f"privileges on {table}", check, needs=("database", "schema", "warehouse"))

    def data_table(self) -> str:
        from ml.snowflake.session import require_table

        table = identifiers.data_table(self.settings)
        try:
            columns = require_table(self._session(), table)
            self._sql(_probe("SELECT", table, ""))
        except Exception as exc:
            raise CheckFailed(
                self._said(exc), f"`lifeboat load-data`, or GRANT SELECT ON TABLE {table} TO ROLE {self.role}"
            ) from None
        return f"{table}: {len(columns)} columns, readable"

    def model_owner(self) -> str:
        model = identifiers.model(self.settings)
        name = identifiers.split(model)[2]  # a validated plain identifier: safe inside the quotes
        rows = self._sql(f"SHOW MODELS LIKE '{name}' IN SCHEMA {self.where}")
        if not rows:
            return f"{model} does not exist yet (`lifeboat train` creates it: CREATE MODEL is checked below)"
        owner = str(rows[0].as_dict().get("owner") or "")
        held = self._sql("SELECT IS_ROLE_IN_SESSION(?) AS HELD", [owner])
        if not (held and held[0][0]):
            raise CheckFailed(
                f"{model} is owned by {owner}, which role {self.role} does not have (ADD VERSION and SET"
                " DEFAULT_VERSION need it)",
                f"GRANT OWNERSHIP ON MODEL {model} TO ROLE {self.role} COPY CURRENT GRANTS, or GRANT ROLE"
                f" {owner} TO ROLE {self.role}",
            )
        return f"{model} owned by {owner}"

    # -- 4: packages and the procedure -------------------------------------------------------------
    def _model_dir(self) -> Path:
        """A tiny model's files (the table and at most 5 trees), trained on the shipped data: the
        round trip logs it."""
        directory = Path(self.scratch.name) / "model"
        if not directory.is_dir():
            from ml.core.features import columns_from_frame
            from ml.core.table import TARGET
            from ml.core.training import TrainConfig, fit_recipe
            from ml.io.artifacts import save_model
            from ml.io.data import load_csv

            frame = load_csv()
            tiny = TrainConfig(max_rounds=5, inner_folds=2, members=0)
            model = fit_recipe(columns_from_frame(frame), frame[TARGET].to_numpy(), tiny).model
            save_model(model, directory)
        return directory

    def _requirements(self) -> tuple[str, tuple[str, ...]]:
        if self.requirements is None:
            from ml.snowflake.channel import model_requirements
            from ml.snowflake.model import log_arguments
            from ml.snowflake.package import stage_code

            arguments = log_arguments(self._model_dir(), stage_code(Path(self.scratch.name) / "code"))
            self.requirements = model_requirements(arguments)
        return self.requirements

    def channel_check(self, who: str, requirements: Callable[[], tuple[str, tuple[str, ...]]]) -> Check:
        def check() -> str:
            from ml.snowflake.channel import check_requirements

            python, wanted = requirements()
            found: list[Availability] = check_requirements(self._session(), self.database, wanted, python)
            missing = [a.describe() for a in found if not a.ok]
            if missing:
                raise CheckFailed(
                    f"Python {python}: {'; '.join(missing)}",
                    "train in the warehouse (`lifeboat train` without --data) so the model pins the channel's"
                    " own versions, or install versions the channel has; if the channel lists nothing, an"
                    " ORGADMIN must accept the Anaconda terms (Snowsight > Admin > Terms)",
                )
            return f"Python {python}: " + ", ".join(a.describe() for a in found)

        return Check(f"package channel: {who}", check, needs=("login",))

    def _procedure_requirements(self) -> tuple[str, tuple[str, ...]]:
        from ml.snowflake.train import procedure_packages

        return self._requirements()[0], tuple(procedure_packages())

    def procedure(self) -> str:
        """Create the temporary procedure as training does (staged `ml` code, pinned packages) and call it."""
        from ml.snowflake.package import stage_code
        from ml.snowflake.train import register_temporary_procedure

        name = f"{DOCTOR_PREFIX}PROCEDURE_{self.suffix}"
        code = stage_code(Path(self.scratch.name) / "procedure-code")
        try:
            register_temporary_procedure(self._session(), doctor_versions, name, [], code)
            resolved = json.loads(str(self._session().call(name)))
        except Exception as exc:
            raise CheckFailed(
                self._said(exc),
                f"GRANT CREATE PROCEDURE ON SCHEMA {self.where} TO ROLE {self.role}; an ORGADMIN accepts the"
                " Anaconda terms once (Snowsight > Admin > Terms)",
            ) from None
        return "created and called; it runs " + ", ".join(f"{k} {v}" for k, v in resolved.items())

    # -- 5: the round trip -----------------------------------------------------------------------
    def logs_a_model(self) -> str:
        from ml.io.artifacts import load_model
        from ml.snowflake.registry import SnowflakeRegistry

        settings = replace(self.settings, model_name=self.throwaway, home=Path(self.scratch.name) / "home")
        self.round_trip = SnowflakeRegistry(self._session(), settings)
        version = self.round_trip.log_model(
            load_model(self._model_dir()),
            metrics={"holdout_log_loss": 0.5},
            params={"num_round": 5},
            comment="lifeboat doctor: a throwaway model (cost $$0), dropped at once",
            created_by="lifeboat doctor",
            data_fingerprint="doctor",
        )
        return f"{self.round_trip.qualified_name} {version.version}, its record read back complete"

    def _passenger_values(self) -> tuple[Any, list[Any]]:
        from ml.snowflake.model import bound_values

        columns = columns_from_passengers([PASSENGER])
        return columns, bound_values(columns)

    def scores_by_run(self) -> str:
        from ml.snowflake.model import input_frame
        from ml.snowflake.scoring import frame_probabilities

        assert self.round_trip is not None
        columns, _ = self._passenger_values()
        self.scores["mv.run"] = float(
            frame_probabilities(self.round_trip.run_in_warehouse("V1", input_frame(columns)))[0]
        )
        return f"{self.scores['mv.run']:.6f}"

    def scores_by_sql(self) -> str:
        assert self.round_trip is not None
        _, values = self._passenger_values()
        probability = self.round_trip.score_in_warehouse("V1", values)
        if probability is None:
            raise CheckFailed("NULL for a passenger the model can score", "run `lifeboat doctor --debug`")
        self.scores["SQL"] = probability
        refused = self.round_trip.score_in_warehouse("V1", [None, None, *values[2:]])  # no class, no sex
        if refused is not None:
            raise CheckFailed(
                f"{refused} for a passenger without class and sex (expected NULL)",
                "the warehouse runs other feature code than this checkout: retrain in the warehouse",
            )
        return f"{probability:.6f}, and NULL for a passenger it must refuse (one bound statement)"

    def matches_local(self) -> str:
        assert self.round_trip is not None
        columns, _ = self._passenger_values()
        local = float(self.round_trip.load_model("V1").predict_proba(columns)[0])
        apart = {how: abs(score - local) for how, score in self.scores.items()}
        if any(gap > AGREE for gap in apart.values()):
            raise CheckFailed(
                f"local {local:.9f}, warehouse {self.scores}",
                "the warehouse runs another xgboost or feature code: retrain in the warehouse",
            )
        return f"local {local:.6f}: {', '.join(self.scores)} agree within {AGREE:g}"

    def drops_the_model(self) -> str:
        model = f"{self.where}.{self.throwaway}"
        try:
            self._sql(f"DROP MODEL IF EXISTS {model}")
        except Exception as exc:
            raise CheckFailed(self._said(exc), f"DROP MODEL IF EXISTS {model};") from None
        self._forget_audit_rows()
        return f"{model} dropped"

    def _forget_audit_rows(self) -> None:
        with contextlib.suppress(Exception):  # courtesy only: the audit rows of a model that no longer exists
            self._sql(
                f"DELETE FROM {objects.audit_table(self.settings)} WHERE MODEL_NAME = ?", [self.throwaway]
            )

    # -- 6: the configured model -------------------------------------------------------------------
    def complete_versions(self) -> str:
        from ml.snowflake.registry import SnowflakeRegistry

        registry = self.registry_checks.registry
        assert isinstance(registry, SnowflakeRegistry)
        incomplete = registry.incomplete_versions()
        if incomplete:
            raise CheckFailed(
                f"{', '.join(incomplete)} registered without their record (a process stopped between"
                " statements): never promoted",
                "; ".join(
                    f"ALTER MODEL {identifiers.model(self.settings)} DROP VERSION {v}" for v in incomplete
                ),
            )
        return "every version has its record"

    # -- the list ----------------------------------------------------------------------------------
    def checks(self) -> list[Check]:
        ready = ("database", "schema", "warehouse")
        session_fix = "see the line above; `lifeboat doctor --debug` shows the driver's error"
        model_fix = f"GRANT CREATE MODEL ON SCHEMA {self.where} TO ROLE <role>; see the other failures"
        return [
            Check("connection", self.connection, fix="see README, Snowflake: Connection"),
            Check("login", self.logs_in, needs=("connection",), fix=session_fix),
            *(self.context_check(part) for part in ("ROLE", "WAREHOUSE", "DATABASE", "SCHEMA")),
            Check("warehouse runs a query", self.warehouse_runs, needs=("warehouse",)),
            self.create_check("TABLE", "(X INT)"),
            self.create_check("STAGE", ""),
            self.create_check("FILE FORMAT", "TYPE = PARQUET"),
            *(self.table_check(table(self.settings), needs, column) for table, needs, column in TABLE_NEEDS),
            Check(f"{identifiers.data_table(self.settings)} readable", self.data_table, needs=ready),
            Check("model ownership", self.model_owner, needs=ready, fix=session_fix),
            self.channel_check("what a model logged from here asks for", self._requirements),
            self.channel_check("what the training procedure asks for", self._procedure_requirements),
            Check("training procedure", self.procedure, needs=ready),
            Check(f"log a model ({self.throwaway})", self.logs_a_model, needs=ready, fix=model_fix),
            Check("score it by mv.run", self.scores_by_run, needs=(f"log a model ({self.throwaway})",)),
            Check("score it by SQL", self.scores_by_sql, needs=(f"log a model ({self.throwaway})",)),
            Check(
                "same as local scoring", self.matches_local, needs=("score it by mv.run", "score it by SQL")
            ),
            Check(f"drop {self.throwaway}", self.drops_the_model, needs=ready),  # after any failure above
            *self.registry_checks.checks(),
            Check("every version complete", self.complete_versions, needs=("registry opens",)),
        ]


def run_snowflake(
    settings: MLSettings,
    report: Callable[[CheckResult], None] | None = None,
    *,
    login: Callable[[MLSettings], tuple[str, Session]] | None = None,
) -> list[CheckResult]:
    """The Snowflake backend's doctor (see the module docstring); `report` sees each result."""
    from ml.snowflake import session as sessions

    doctor = SnowflakeDoctor(settings, login=login or sessions.login)
    try:
        return run_checks(doctor.checks(), report)
    finally:
        doctor.close()


__all__ = ["DOCTOR_PREFIX", "SnowflakeDoctor", "doctor_versions", "run_snowflake"]
