"""`forecastops doctor`: is every dependency of a deployment healthy? One verdict per item.

Items, in order: the Dagster instance (PostgreSQL reachable and its schema at the head revision
of the installed Dagster; or, embedded, `DAGSTER_HOME` writable with a `dagster.yaml`), the
MLflow store (reachable and at MLflow's head revision), the alert store (reachable and at the
head revision of its own migrations), the lake (writable), the landing folder (readable) and
the code location (loads, from ForecastOps' own top-level packages: no foreign `resources` or
`sensors` package in their place, docs/decisions/0010).

Then the debris a run that died leaves behind (docs/operations.md, "What survives what"): Dagster
runs stuck in STARTED whose worker process is gone, MLflow runs left RUNNING, orphan model
versions (registered, never judged by the gate, no alias, in no forecast, not archived) and a
`challenger` alias on a version without backtest tags. A run still in progress is never debris.

`repair` fixes what can be fixed without a person: it creates missing folders, writes
`dagster.yaml` and runs Dagster's instance migration, MLflow's `mlflow db upgrade` and the alert
store's `migrate` (which also creates it); it marks dead runs FAILED (Dagster and MLflow),
archives orphan versions (tag `archived`) and takes the `challenger` alias off an unbacktested
version. It never touches a store that is unreachable, nor one
at a revision newer than this code knows: those need a person (start the server, create the
database, fix the URL; run the newer version or restore a backup).

Dagster is imported only in subprocesses (`python -m forecast_jobs.instance_admin`, the code
location import), run by `forecastops.ops.dagster_bridge` as the report and retrain run theirs.
Connections use a `CONNECT_TIMEOUT_S` timeout so a server that is down fails fast.
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from forecastops.domain.secrets import mask_url, mask_urls_in
from forecastops.ops.dagster_bridge import (
    CODE_LOCATION_MODULE,
    DagsterCommandTimeout,
    run_dagster_command,
)
from forecastops.stores.settings import ENV_PREFIX, MANAGED_MARKER, Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from forecastops.stores.registry import ModelRegistry

CONNECT_TIMEOUT_S = 3
DAGSTER_ADMIN_TIMEOUT_S = 300
"""A Dagster-side subprocess (head revision, migration) imports Dagster: seconds, more if busy."""
CODE_LOCATION_TIMEOUT_S = 180
OUTPUT_TAIL_CHARS = 1500
FIX_HINT = "run `forecastops doctor --fix`"
_SQLITE_PREFIX = "sqlite:///"
MISSING = "does not exist"
DISTRIBUTION = "forecastops"
DAGSTER_PACKAGES = ("forecast_assets", "forecast_jobs", "resources", "sensors")
"""The top-level packages the forecastops wheel installs beside `forecastops`
(docs/decisions/0010); generic names that another distribution may also use."""
_LOCATE_THEN_LOAD = (
    "import importlib.util, json\n"
    f"names = {(DISTRIBUTION, *DAGSTER_PACKAGES)!r}\n"
    "specs = {name: importlib.util.find_spec(name) for name in names}\n"
    "print(json.dumps({name: spec and spec.origin for name, spec in specs.items()}), flush=True)\n"
    f"import {CODE_LOCATION_MODULE}\n"
)
"""What `check_code_location` runs in a fresh interpreter: where each package would be
imported from (found without importing it), then the code location itself."""
T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """The health of one item. `fix` says what to do when it is unhealthy; `repairable` is True
    when `repair` can do it."""

    item: str
    healthy: bool
    detail: str
    fix: str = ""
    repairable: bool = False

    @property
    def line(self) -> str:
        """The verdict as printed; a URL quoted in it (e.g. by a subprocess's error) is masked."""
        if self.healthy:
            return mask_urls_in(f"OK    {self.item}: {self.detail}")
        return mask_urls_in(
            f"FAIL  {self.item}: {self.detail}" + (f"\n      fix: {self.fix}" if self.fix else "")
        )


class Unreachable(Exception):
    """A database or server did not answer; the message says why."""


def _short(error: BaseException) -> str:
    """The first line of an error's message, with any URL's password masked."""
    text = mask_urls_in(str(getattr(error, "orig", None) or error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _engine(url: str) -> Engine:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    return sa.create_engine(parsed)


def _read_database(url: str, read: Callable[[Engine], T]) -> T:
    """`read(engine)` on the database at `url`; `Unreachable` when it cannot connect."""
    import sqlalchemy as sa

    engine = _engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return read(engine)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise Unreachable(_short(error)) from None
    finally:
        engine.dispose()


def _unreachable(item: str, variable: str, where: str, error: Unreachable) -> Verdict:
    return Verdict(
        item,
        False,
        f"{where} is unreachable: {error}",
        f"start PostgreSQL, create the database and role, or correct {variable}",
    )


def unreachable_databases(settings: Settings) -> list[Verdict]:
    """A FAIL verdict for each PostgreSQL database of `settings` that does not answer: the quick
    check `forecastops up` makes before anything else."""
    databases = [
        (
            f"Dagster instance ({settings.instance})",
            "DAGSTER_PG_URL",
            settings.dagster_pg_url if settings.instance == "postgres" else None,
        ),
        ("MLflow store", "MLFLOW_TRACKING_URI", settings.mlflow_uri),
        ("alert store", f"{ENV_PREFIX}ALERTS_DB_URL", settings.alerts_url),
    ]
    failed = []
    for item, variable, url in databases:
        if url and url.startswith("postgresql"):
            try:
                _read_database(url, lambda _engine: None)
            except Unreachable as error:
                failed.append(_unreachable(item, variable, f"{variable}={mask_url(url)}", error))
    return failed


def _tables(engine: Engine) -> set[str]:
    import sqlalchemy as sa

    return set(sa.inspect(engine).get_table_names())


def _alembic_revision(engine: Engine) -> str | None:
    """The revision stamped in `alembic_version`, or None when there is none."""
    if "alembic_version" not in _tables(engine):
        return None
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _run_dagster_admin(command: str, settings: Settings) -> str:
    """Run `python -m forecast_jobs.instance_admin <command>`; its stdout, or RuntimeError
    quoting its output."""
    try:
        result = run_dagster_command(
            [sys.executable, "-m", "forecast_jobs.instance_admin", command],
            settings,
            DAGSTER_ADMIN_TIMEOUT_S,
        )
    except DagsterCommandTimeout:
        raise RuntimeError(f"did not finish within {DAGSTER_ADMIN_TIMEOUT_S} s") from None
    if result.returncode != 0:
        tail = result.output_tail(OUTPUT_TAIL_CHARS)
        raise RuntimeError(f"exited with {result.returncode}: {tail}")
    return result.stdout.strip()


# --- the checks --------------------------------------------------------------------------------


def check_dagster_instance(settings: Settings) -> Verdict:
    item = f"Dagster instance ({settings.instance})"
    config = settings.dagster_home_path / "dagster.yaml"
    folder_problem = _writable_problem(settings.dagster_home_path)
    if folder_problem:
        missing = folder_problem == MISSING
        return Verdict(
            item,
            False,
            f"DAGSTER_HOME={settings.dagster_home_path} {folder_problem}",
            FIX_HINT if missing else "point DAGSTER_HOME at a folder you can write to",
            repairable=missing,
        )
    if settings.instance == "embedded":
        if not config.is_file():
            return Verdict(item, False, f"{config} is missing", FIX_HINT, repairable=True)
        return Verdict(item, True, f"SQLite under DAGSTER_HOME={settings.dagster_home_path}")
    url = settings.dagster_pg_url or ""
    where = f"DAGSTER_PG_URL={mask_url(url)}"
    try:
        revision = _read_database(url, _alembic_revision)
    except Unreachable as error:
        return _unreachable(item, "DAGSTER_PG_URL", where, error)
    text = config.read_text() if config.is_file() else ""
    if "DAGSTER_PG_URL" not in text:
        managed = not text or text.startswith(MANAGED_MARKER)
        problem = "is not the PostgreSQL instance (it does not read DAGSTER_PG_URL)"
        return Verdict(
            item,
            False,
            f"{config} {problem if text else 'is missing'}",
            FIX_HINT
            if managed
            else "remove your edited copy and run `forecastops doctor --fix`, which writes the "
            "PostgreSQL one (deploy/dagster.postgres.yaml in the repo)",
            repairable=managed,
        )
    if revision is None:
        return Verdict(
            item, False, f"{where} is not migrated (no Dagster schema)", FIX_HINT, repairable=True
        )
    try:
        head = _run_dagster_admin("head", settings)
    except RuntimeError as error:
        return Verdict(item, False, f"could not read Dagster's schema revision: {error}")
    if revision != head:
        return Verdict(
            item,
            False,
            f"{where} is not migrated (schema {revision}, this Dagster needs {head})",
            f"back up the database, then {FIX_HINT} (as `dagster instance migrate`)",
            repairable=True,
        )
    return Verdict(item, True, f"{where} reachable, schema at head ({head})")


def _mlflow_head_revision() -> str:
    # MLflow has no public API for this; `_verify_schema` (which its stores call) compares with it.
    from mlflow.store.db.utils import _get_latest_schema_revision

    return str(_get_latest_schema_revision())


def check_mlflow_store(settings: Settings) -> Verdict:
    uri = settings.mlflow_uri
    item = "MLflow store"
    if uri.startswith(("http://", "https://")):
        return _check_mlflow_server(uri)
    where = f"MLFLOW_TRACKING_URI={mask_url(uri)}"
    if uri.startswith(_SQLITE_PREFIX) and not Path(uri.removeprefix(_SQLITE_PREFIX)).is_file():
        return Verdict(item, False, f"{where} is not created yet", FIX_HINT, repairable=True)
    try:
        revision = _read_database(uri, _alembic_revision)
    except Unreachable as error:
        return _unreachable(item, "MLFLOW_TRACKING_URI", where, error)
    head = _mlflow_head_revision()
    if revision != head:
        state = "no MLflow schema" if revision is None else f"schema {revision}"
        return Verdict(
            item,
            False,
            f"{where} is not migrated ({state}, this MLflow needs {head})",
            f"back up the database, then {FIX_HINT} (runs `mlflow db upgrade`)",
            repairable=True,
        )
    return Verdict(item, True, f"{where} reachable, schema at head ({head})")


def _check_mlflow_server(uri: str) -> Verdict:
    # MLflow's /health needs no login: asked without the URI's user part (which urllib would
    # take for a port), so no credential is sent or quoted.
    parts = urllib.parse.urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    health = urllib.parse.urlunsplit(
        (parts.scheme, host, parts.path.rstrip("/") + "/health", "", "")
    )
    shown = mask_url(uri)
    try:
        with urllib.request.urlopen(health, timeout=CONNECT_TIMEOUT_S) as response:
            status = response.status
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Verdict(
            "MLflow store",
            False,
            f"MLFLOW_TRACKING_URI={shown}: {health} did not answer ({mask_urls_in(str(error))})",
            "start the MLflow server or correct MLFLOW_TRACKING_URI",
        )
    return Verdict("MLflow store", True, f"tracking server {shown} answers ({status})")


def check_alert_store(settings: Settings) -> Verdict:
    from forecastops.stores.alerts.identity import TABLE_NAME, AlertStoreConfigError
    from forecastops.stores.alerts.migrations import read_state
    from forecastops.stores.alerts.store import AlertStore

    item = "alert store"
    try:
        store = AlertStore(settings.alerts_url)
    except AlertStoreConfigError as error:
        return Verdict(item, False, str(error))
    url = store.engine.url.render_as_string(hide_password=False)
    store.close()
    where = f"{ENV_PREFIX}ALERTS_DB_URL={store.display_url}"
    if url.startswith(_SQLITE_PREFIX) and not Path(url.removeprefix(_SQLITE_PREFIX)).is_file():
        return Verdict(item, False, f"{where} is not created yet", FIX_HINT, repairable=True)
    try:
        state = _read_database(url, lambda engine: _with_connection(engine, read_state))
    except Unreachable as error:
        return _unreachable(item, f"{ENV_PREFIX}ALERTS_DB_URL", where, error)
    if state.at_head:
        return Verdict(item, True, f"{where} reachable, schema at head ({state.head})")
    if state.empty:
        return Verdict(
            item, False, f"{where} has no {TABLE_NAME} table yet", FIX_HINT, repairable=True
        )
    if not state.known or state.lost_table:
        # A newer ForecastOps migrated it, or its table was dropped: `migrate` refuses both.
        return Verdict(item, False, str(state.problem(where)))
    return Verdict(
        item,
        False,
        f"{where} is not at the head revision (at {state.describe_revision()}, head {state.head})",
        f"back up the database, then {FIX_HINT}",
        repairable=True,
    )


def _with_connection(engine: Engine, read: Callable[[Connection], T]) -> T:
    with engine.connect() as connection:
        return read(connection)


def _writable_problem(folder: Path) -> str | None:
    """Why `folder` cannot be written to (even by root), or None."""
    if not folder.is_dir():
        return MISSING if not folder.exists() else "is not a folder"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"is not writable ({error.strerror})"
    return None


def check_lake(settings: Settings) -> Verdict:
    variable = f"{ENV_PREFIX}LAKE_DIR={settings.lake_path}"
    problem = _writable_problem(settings.lake_path)
    if problem is None:
        return Verdict("lake", True, f"{variable} is writable")
    missing = problem == MISSING
    fix = FIX_HINT if missing else f"point {ENV_PREFIX}LAKE_DIR at a folder you can write to"
    return Verdict("lake", False, f"{variable} {problem}", fix, repairable=missing)


def check_landing(settings: Settings) -> Verdict:
    variable = f"{ENV_PREFIX}LANDING_DIR={settings.landing_path}"
    folder = settings.landing_path
    if not folder.exists():
        return Verdict("landing folder", False, f"{variable} {MISSING}", FIX_HINT, True)
    try:
        files = sum(1 for _ in folder.iterdir())
    except OSError as error:
        return Verdict(
            "landing folder",
            False,
            f"{variable} cannot be read ({error.strerror})",
            f"fix its permissions or point {ENV_PREFIX}LANDING_DIR at a readable folder",
        )
    return Verdict("landing folder", True, f"{variable} is readable ({files} entries)")


def _foreign_packages(located: str) -> Verdict | None:
    """A FAIL verdict when one of `DAGSTER_PACKAGES` is not ForecastOps' own, or None.

    `located`: the JSON `_LOCATE_THEN_LOAD` printed first, package name -> the file a fresh
    interpreter imports it from. Ours sit beside `forecastops` (in site-packages for a wheel,
    in the checkout for an editable install). A package found elsewhere shadows ours (an
    earlier entry of sys.path, e.g. PYTHONPATH); another distribution that declares the same
    top-level name has written its files over ours (the two share site-packages)."""
    from importlib.metadata import packages_distributions

    try:
        origins: dict[str, str | None] = json.loads(located)
    except ValueError:  # the interpreter failed before it printed them
        return None
    if not origins.get(DISTRIBUTION):
        return None
    home = Path(str(origins[DISTRIBUTION])).parent.parent
    claimed = packages_distributions()
    for name in DAGSTER_PACKAGES:
        others = sorted(set(claimed.get(name, [])) - {DISTRIBUTION})
        owners = ", ".join(others)
        origin = origins.get(name)
        found = Path(origin).parent if origin else None
        if found is None:
            return Verdict(
                "code location",
                False,
                f"`import {name}` finds nothing: ForecastOps' {home / name} is missing",
                f"reinstall {DISTRIBUTION}",
            )
        if found.parent != home:
            owner = f" (installed by {owners})" if others else ""
            remedy = f"uninstall {owners}" if others else f"take {found.parent} off PYTHONPATH"
            return Verdict(
                "code location",
                False,
                f"`import {name}` finds {found}{owner}, not ForecastOps' {home / name}: a "
                f"foreign package named `{name}` shadows ours",
                f"{remedy}, so that `{name}` is ForecastOps' own (it installs the top-level "
                f"packages {', '.join(DAGSTER_PACKAGES)}; docs/decisions/0010)",
            )
        if others:
            return Verdict(
                "code location",
                False,
                f"the distribution {owners} also installs a top-level package `{name}` into "
                f"{home}, over ForecastOps' files",
                f"uninstall {owners}, then reinstall {DISTRIBUTION} (e.g. `pip install "
                f"--force-reinstall --no-deps {DISTRIBUTION}`)",
            )
    return None


def check_code_location(settings: Settings) -> Verdict:
    try:
        result = run_dagster_command(
            [sys.executable, "-c", _LOCATE_THEN_LOAD], settings, CODE_LOCATION_TIMEOUT_S
        )
    except DagsterCommandTimeout:
        return Verdict(
            "code location",
            False,
            f"{CODE_LOCATION_MODULE} did not load within {CODE_LOCATION_TIMEOUT_S} s",
            "look for a slow import at module level",
        )
    foreign = _foreign_packages(result.stdout.partition("\n")[0])
    if foreign is not None:
        return foreign
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return Verdict(
            "code location",
            False,
            f"{CODE_LOCATION_MODULE} fails to load: {lines[-1] if lines else 'no output'}",
            f"run `python -c 'import {CODE_LOCATION_MODULE}'` to see the full error",
        )
    return Verdict("code location", True, f"{CODE_LOCATION_MODULE} loads ({result.seconds:.1f} s)")


# --- debris left by runs that died ----------------------------------------------------------

STALE_UNLINKED_RUN_HOURS = 24
"""An MLflow run RUNNING this long without a `dagster_run_id` tag (not started by a Dagster run,
so nothing tells whether its process lives) is taken as left behind."""
_runs_cache: dict[Path, dict[str, list[dict[str, object]]]] = {}


class NotChecked(Exception):
    """The debris of an item could not be looked for; the message says why."""


def _dagster_runs(settings: Settings) -> dict[str, list[dict[str, object]]]:
    """The instance's runs in progress and the dead ones (`forecast_jobs.instance_admin runs`),
    read once per `diagnose`. An instance not set up yet has none (reading it would create it)."""
    home = settings.dagster_home_path
    if home in _runs_cache:
        return _runs_cache[home]
    report: dict[str, list[dict[str, object]]] = {"in_progress": [], "dead": []}
    if settings.instance == "embedded":
        ready = (home / "dagster.yaml").is_file() and (home / "history" / "runs.db").is_file()
    else:
        try:
            ready = _read_database(settings.dagster_pg_url or "", _alembic_revision) is not None
        except Unreachable as error:
            raise NotChecked(f"the Dagster instance is unreachable ({error})") from None
        ready = ready and "DAGSTER_PG_URL" in _read_text(home / "dagster.yaml")
    if ready:
        try:
            report = json.loads(_run_dagster_admin("runs", settings).splitlines()[-1])
        except (RuntimeError, ValueError, IndexError) as error:
            raise NotChecked(f"reading the Dagster runs failed: {error}") from None
    _runs_cache[home] = report
    return report


def _read_text(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def _in_progress(settings: Settings) -> set[str]:
    report = _dagster_runs(settings)
    dead = {str(run["run_id"]) for run in report["dead"]}
    return {str(run["run_id"]) for run in report["in_progress"]} - dead


def _registry(settings: Settings) -> ModelRegistry | None:
    """The settings' registry; None when its SQLite file does not exist (nothing to check).
    Raises `RegistryUnreachable` when the store does not answer within seconds."""
    from forecastops.stores.registry import ModelRegistry

    uri = settings.mlflow_uri
    if uri.startswith(_SQLITE_PREFIX) and not Path(uri.removeprefix(_SQLITE_PREFIX)).is_file():
        return None
    registry = ModelRegistry(
        uri,
        settings.model_name,
        settings.experiment_name,
        artifact_location=settings.mlflow_artifact_uri,
    )
    # Fail fast: MLflow's own client retries a database or server that is down for minutes.
    registry.check_reachable()
    return registry


def _debris_verdict(
    item: str, find: Callable[[Settings], list[str]], fix: str, settings: Settings
) -> Verdict:
    """OK when `find` finds nothing; FAIL listing what it found (repairable), or FAIL when it
    could not look (a store is down: see its own verdict)."""
    from forecastops.stores.registry import RegistryError

    try:
        found = find(settings)
    except (NotChecked, RegistryError, Unreachable) as error:
        return Verdict(item, False, f"not checked: {_short(error)}", "fix the items above first")
    except (OSError, ValueError) as error:  # e.g. a forecasts partition the lake cannot read
        return Verdict(item, False, f"not checked: {_short(error)}")
    if not found:
        return Verdict(item, True, "none")
    return Verdict(item, False, f"{len(found)}: {'; '.join(found)}", fix, repairable=True)


def _dead_runs(settings: Settings) -> list[str]:
    return [
        f"run {run['run_id']} of {run['job']} is STARTED but its worker (pid {run['pid']}) is gone"
        for run in _dagster_runs(settings)["dead"]
    ]


def _left_running(settings: Settings) -> list[tuple[str, str]]:
    """(MLflow run id, why it is left behind) of each RUNNING run no live process owns."""
    from forecastops.stores.registry_tags import DAGSTER_RUN_ID_TAG

    registry = _registry(settings)
    if registry is None:
        return []
    running = registry.running_runs()
    if not running:
        return []
    alive = _in_progress(settings)
    stale = datetime.now(UTC) - timedelta(hours=STALE_UNLINKED_RUN_HOURS)
    left = []
    for run in running:
        owner = run["tags"].get(DAGSTER_RUN_ID_TAG)
        if owner and owner not in alive:
            left.append((run["run_id"], f"its Dagster run {owner} is not in progress"))
        elif not owner and datetime.fromisoformat(run["started"]) < stale:
            left.append((run["run_id"], f"started {run['started']} by no Dagster run"))
    return left


def _mlflow_debris(settings: Settings) -> list[str]:
    return [f"MLflow run {run_id} is RUNNING, but {why}" for run_id, why in _left_running(settings)]


def _forecast_versions(settings: Settings) -> set[str]:
    """Every model version that has a forecast in the lake."""
    from forecastops.pipeline.cycle import FORECASTS_TABLE
    from forecastops.stores.lake import Lake

    lake = Lake(settings.lake_path)
    days = lake.partition_days(FORECASTS_TABLE) if settings.lake_path.is_dir() else []
    if not days:
        return set()
    table = lake.read_days(FORECASTS_TABLE, days, columns=["model_version"])
    return {str(version) for version in table["model_version"].unique()}


def _orphans(settings: Settings) -> list[str]:
    """Versions registered by a cycle that died before the gate: no alias, no gate decision, no
    forecast, not archived, their run not in progress. A rejected challenger is not one (the
    gate judged it; it is the registry's history)."""
    from forecastops.stores.registry_tags import ARCHIVED_TAG, DAGSTER_RUN_ID_TAG, DECISION_TAG

    registry = _registry(settings)
    if registry is None:
        return []
    candidates = [
        version
        for version in registry.versions()
        if not version["aliases"]
        and DECISION_TAG not in version["tags"]
        and ARCHIVED_TAG not in version["tags"]
    ]
    if not candidates:
        return []
    alive, forecast = _in_progress(settings), _forecast_versions(settings)
    return [
        version["version"]
        for version in candidates
        if version["version"] not in forecast
        and version["tags"].get(DAGSTER_RUN_ID_TAG) not in alive
    ]


def _orphan_debris(settings: Settings) -> list[str]:
    return [
        f"version {version} (never judged, no alias, no forecast)" for version in _orphans(settings)
    ]


def _unbacktested_challenger(settings: Settings) -> str | None:
    """The version `challenger` names when it has no backtest tags and no run in progress is
    backtesting it; else None."""
    from forecastops.stores.registry_tags import BACKTEST_WAPE_TAG, CHALLENGER, DAGSTER_RUN_ID_TAG

    registry = _registry(settings)
    version = registry.alias_version(CHALLENGER) if registry else None
    if registry is None or version is None:
        return None
    tags = registry.version_tags(version)
    if BACKTEST_WAPE_TAG in tags or tags.get(DAGSTER_RUN_ID_TAG) in _in_progress(settings):
        return None
    return version


def _challenger_debris(settings: Settings) -> list[str]:
    version = _unbacktested_challenger(settings)
    return [] if version is None else [f"challenger is version {version}, which has no backtest"]


def check_dead_runs(settings: Settings) -> Verdict:
    return _debris_verdict(
        "stuck Dagster runs",
        _dead_runs,
        f"{FIX_HINT} (marks them FAILED; re-execute them from the UI if still needed)",
        settings,
    )


def check_mlflow_runs(settings: Settings) -> Verdict:
    return _debris_verdict(
        "MLflow runs left RUNNING", _mlflow_debris, f"{FIX_HINT} (sets them FAILED)", settings
    )


def check_orphan_versions(settings: Settings) -> Verdict:
    return _debris_verdict(
        "orphan model versions",
        _orphan_debris,
        f"{FIX_HINT} (tags them `archived`; nothing is deleted)",
        settings,
    )


def check_challenger_alias(settings: Settings) -> Verdict:
    return _debris_verdict(
        "challenger alias",
        _challenger_debris,
        f"{FIX_HINT} (takes the alias off; the next retrain sets it again)",
        settings,
    )


CHECKS: tuple[Callable[[Settings], Verdict], ...] = (
    check_dagster_instance,
    check_mlflow_store,
    check_alert_store,
    check_lake,
    check_landing,
    check_code_location,
    check_dead_runs,
    check_mlflow_runs,
    check_challenger_alias,
    check_orphan_versions,
)


def check_celery_broker(settings: Settings) -> Verdict:
    """With FORECASTOPS_EXECUTOR=celery: does the broker answer (within a few seconds)?"""
    from forecastops.stores.broker import PROBE_TIMEOUT_S, broker_problem

    url = settings.celery_broker_url or ""
    where = f"{ENV_PREFIX}CELERY_BROKER_URL={mask_url(url)}"
    problem = broker_problem(url)
    if problem is None:
        return Verdict("celery broker", True, f"{where} answers")
    return Verdict(
        "celery broker",
        False,
        f"{problem} (waited {PROBE_TIMEOUT_S:g} s)",
        f"start the broker (redis-server --daemonize yes) or fix {ENV_PREFIX}CELERY_BROKER_URL",
    )


def diagnose(settings: Settings) -> list[Verdict]:
    """Every item's verdict, in the order of `CHECKS`; the Celery broker's last when the
    celery executor is selected (without it there is no broker to ask)."""
    _runs_cache.clear()  # read the Dagster runs afresh, once
    verdicts = [check(settings) for check in CHECKS]
    if settings.executor == "celery":
        verdicts.append(check_celery_broker(settings))
    return verdicts


# --- the repairs -------------------------------------------------------------------------------


def _make_lake(settings: Settings) -> str:
    settings.lake_path.mkdir(parents=True, exist_ok=True)
    return f"created {settings.lake_path}"


def _make_landing(settings: Settings) -> str:
    settings.landing_path.mkdir(parents=True, exist_ok=True)
    return f"created {settings.landing_path}"


def _migrate_dagster(settings: Settings) -> str:
    _run_dagster_admin("migrate", settings)
    return "migrated the Dagster instance (as `dagster instance migrate`)"


def _upgrade_mlflow(settings: Settings) -> str:
    from mlflow.db import upgrade

    # MLflow's own `mlflow db upgrade` (it also creates the tables of an empty database), called
    # in-process so the URL and its password stay out of the process list.
    upgrade.main([settings.mlflow_uri], standalone_mode=False)
    return "upgraded the MLflow store (mlflow db upgrade)"


def _migrate_alert_store(settings: Settings) -> str:
    from forecastops.stores.alerts.store import AlertStore

    with AlertStore(settings.alerts_url) as store:
        return str(store.migrate())


def _fail_dead_runs(settings: Settings) -> str:
    failed = json.loads(_run_dagster_admin("fail-dead-runs", settings).splitlines()[-1])
    return f"marked {len(failed)} run(s) FAILED: {', '.join(failed)}"


def _fail_mlflow_runs(settings: Settings) -> str:
    registry, left = _registry(settings), _left_running(settings)
    if registry is None:
        return "nothing to do"
    for run_id, _why in left:
        registry.fail_run(run_id)
    return f"set {len(left)} MLflow run(s) FAILED: {', '.join(run_id for run_id, _ in left)}"


def _archive(registry: ModelRegistry, versions: list[str], why: str) -> None:
    from forecastops.stores.registry_tags import ARCHIVED_TAG

    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for version in versions:
        registry.set_version_tags(version, {ARCHIVED_TAG: f"{stamp} forecastops doctor: {why}"})


def _archive_orphans(settings: Settings) -> str:
    from forecastops.stores.registry_tags import ARCHIVED_TAG

    registry, orphans = _registry(settings), _orphans(settings)
    if registry is None or not orphans:
        return "nothing to do"
    _archive(registry, orphans, "orphan (never judged, no alias, no forecast)")
    return f"archived version(s) {', '.join(orphans)} (tag {ARCHIVED_TAG})"


def _drop_challenger(settings: Settings) -> str:
    """Take `challenger` off an unbacktested version and archive it: without the alias it is
    an orphan (never judged, never served)."""
    from forecastops.stores.registry_tags import CHALLENGER

    registry, version = _registry(settings), _unbacktested_challenger(settings)
    if registry is None or version is None:
        return "nothing to do"
    registry.remove_alias(CHALLENGER)
    _archive(registry, [version], "challenger without a backtest (its cycle died)")
    return f"took {CHALLENGER} off version {version} (no backtest) and archived it"


REPAIRS: dict[Callable[[Settings], Verdict], Callable[[Settings], str]] = {
    check_dagster_instance: _migrate_dagster,
    check_mlflow_store: _upgrade_mlflow,
    check_alert_store: _migrate_alert_store,
    check_lake: _make_lake,
    check_landing: _make_landing,
    check_dead_runs: _fail_dead_runs,
    check_mlflow_runs: _fail_mlflow_runs,
    check_orphan_versions: _archive_orphans,
    check_challenger_alias: _drop_challenger,
}


def repair(settings: Settings, verdicts: list[Verdict]) -> list[str]:
    """Run the repair of every repairable failed verdict (`verdicts` in `CHECKS` order); one
    line per repair saying what it did or why it failed."""
    done = []
    for check, verdict in zip(CHECKS, verdicts, strict=True):
        fix = REPAIRS.get(check)
        if verdict.healthy or not verdict.repairable or fix is None:
            continue
        try:
            done.append(f"fixed {verdict.item}: {fix(settings)}")
        except Exception as error:  # reported, and the re-check shows the item still failing
            done.append(f"could not fix {verdict.item}: {_short(error)}")
    return done
