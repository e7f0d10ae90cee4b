"""No secret is ever shown: a deployment whose three databases need a password, searched for it.

The Dagster instance (`FORECASTOPS_INSTANCE=postgres`), the MLflow store and the alert store each
get a fresh PostgreSQL database, and all three URLs carry the same password (the local server
accepts any password, so the URLs work). This process runs a small daily cycle (ingest, train,
promote the first champion: a promotion alert with its MLflow link); then the daemon and the
webserver start as an operator starts them, a `promote_model_job` run for a version that does
not exist fails in a run worker (its compute logs, its failure events, a `run_failure` alert
quoting its error), and the CLI answers (status, history, doctor, report, alerts list/show) and
refuses (promote, rollback, reproduce). Then every place the password could have reached is
read: those outputs, every column of every table of the three databases (compressed values
inflated), every file under `$FORECASTOPS_HOME` (the lake's Parquet files decoded, the Dagster
instance's compute logs, the daemon's and webserver's logs, the reports, the MLflow artifacts)
and the webserver's GraphQL answer for the repository's resources. The password appears in
none of them; each search also finds what shows it read the right place (the masked form
`postgres:***@`, or the content it must hold), so it cannot pass by reading nothing.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from forecast_jobs.instance import prepare_dagster_home
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.stores.alerts.identity import TABLE_NAME as ALERTS_TABLE
from forecastops.stores.settings import DAGSTER_PG_SCHEME, load_settings
from sensors.run_failure import RUN_FAILURE_SENSOR
from tests.dagster.pipeline import small_cycle_env
from tests.integration.helpers import (
    REPO_ROOT,
    answers,
    free_port,
    isolated_env,
    log_tail,
    run,
    running,
)
from tests.integration.postgres import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PASSWORD = f"Pw{uuid.uuid4().hex[:16]}"
"""In every URL; the search looks for it (and its lower-case form) everywhere."""
MASKED = "postgres:***@"
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2025, 5, 10)
MISSING_VERSION = 99
DEADLINE_S = 600
WORKSPACE = str(REPO_ROOT / "workspace.yaml")
RESOURCES_QUERY = """
query Resources($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    __typename
    ... on ResourceDetailsList {
      results {
        name
        configuredValues { key value type }
        configFields { name defaultValueAsJson }
      }
    }
    ... on PythonError { message }
  }
  utilizedEnvVarsOrError(repositorySelector: $selector) {
    __typename
    ... on EnvVarWithConsumersList { results { envVarName } }
  }
}
"""


def _with_password(url: str, scheme: str) -> str:
    return url.replace("postgresql://postgres@", f"{scheme}://postgres:{PASSWORD}@")


def _bytes_text(raw: bytes) -> str:
    """The bytes as text, and inflated too when they are zlib or gzip data (Dagster compresses
    its snapshots)."""
    texts = [raw.decode("latin-1")]
    for inflate in (zlib.decompress, gzip.decompress):
        try:
            texts.append(inflate(raw).decode("utf-8", errors="replace"))
        except (zlib.error, OSError, EOFError):
            continue
    return "\n".join(texts)


def _value_text(value: object) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return _bytes_text(value)
    return json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)


def _database_text(url: str) -> tuple[str, int]:
    """Every value of every table of the database at `url`, as text; and the number of rows."""
    engine = sa.create_engine(url)
    parts, rows = [], 0
    with engine.connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):
                rows += 1
                parts.append(f"{table}: " + " | ".join(_value_text(value) for value in row))
    engine.dispose()
    return "\n".join(parts), rows


def _file_text(path: Path) -> str:
    """A file's bytes as text (inflated when compressed); a Parquet file's rows and metadata
    too, since its pages are compressed."""
    raw = path.read_bytes()
    text = _bytes_text(raw)
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        text += f"\n{table.schema.metadata}\n{table.to_pylist()}"
    return text


def _graphql(base_url: str) -> str:
    body = json.dumps(
        {
            "query": RESOURCES_QUERY,
            "variables": {
                "selector": {
                    "repositoryLocationName": "forecastops",
                    "repositoryName": "__repository__",
                }
            },
        }
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(response.read().decode())


def _wait(condition, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in time:\n{log_tail(log)}"
        time.sleep(2)


def _sensor_has_ticked(dagster_home: str) -> bool:
    """The run-failure sensor set its cursor (its first tick), so it sees every later failure."""
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        return any(
            state.name == RUN_FAILURE_SENSOR
            and state.instigator_data is not None
            and getattr(state.instigator_data, "cursor", None)
            for state in instance.all_instigator_state()
        )


def _alert_count(url: str, dedup_key: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(
            sa.text(f"SELECT count(*) FROM {ALERTS_TABLE} WHERE dedup_key = :key"),
            {"key": dedup_key},
        ).scalar_one()
    engine.dispose()
    return int(count)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Where to look, by name: the text of each place the password could have reached."""
    home = tmp_path_factory.mktemp("secret-home")
    with ExitStack() as stack, pytest.MonkeyPatch.context() as monkeypatch:
        plain = {
            name: stack.enter_context(fresh_database(f"forecastops_{name}"))
            for name in ("dagster", "mlflow", "alerts")
        }
        urls = {
            "DAGSTER_PG_URL": _with_password(plain["dagster"], DAGSTER_PG_SCHEME),
            "MLFLOW_TRACKING_URI": _with_password(plain["mlflow"], "postgresql+psycopg2"),
            "FORECASTOPS_ALERTS_DB_URL": _with_password(plain["alerts"], "postgresql"),
        }
        env = isolated_env(home, FORECASTOPS_INSTANCE="postgres", **urls, **small_cycle_env())
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        prepare_dagster_home(settings)
        dagster_home = str(settings.dagster_home_path)
        write_landing_files(
            SimulationSpec(start=FIRST_DAY, end=LAST_DAY, stores=2, products=4, seed=3),
            settings.landing_path,
        )

        from forecast_jobs.definitions import build_definitions

        defs = build_definitions(settings)
        with dg.DagsterInstance.from_config(dagster_home) as instance:
            ingest = execute_partition_range(
                defs.resolve_job_def("ingest_job"),
                FIRST_DAY,
                LAST_DAY - timedelta(days=1),
                instance,
            )
            cycle = defs.resolve_job_def("daily_cycle_job").execute_in_process(
                instance=instance, partition_key=LAST_DAY.isoformat()
            )
        assert ingest.success and cycle.success

        logs = settings.logs_path
        logs.mkdir(parents=True, exist_ok=True)
        daemon_log = logs / "dagster-daemon.log"
        webserver_log = logs / "dagster-webserver.log"
        port = free_port()
        with ExitStack() as services:
            services.enter_context(
                running(["dagster-daemon", "run", "-w", WORKSPACE], env, daemon_log, cwd=home)
            )
            webserver = services.enter_context(
                running(
                    ["dagster-webserver", "-w", WORKSPACE, "-h", "127.0.0.1", "-p", str(port)],
                    env,
                    webserver_log,
                    cwd=home,
                )
            )
            base_url = f"http://127.0.0.1:{port}"
            _wait(
                lambda: webserver.poll() is None and answers(f"{base_url}/server_info"),
                "the webserver answering",
                webserver_log,
            )
            graphql = _graphql(base_url)

            _wait(lambda: _sensor_has_ticked(dagster_home), "the sensor's first tick", daemon_log)
            failed_run_id = str(uuid.uuid4())
            launched = run(
                [
                    "dagster",
                    "job",
                    "launch",
                    "-w",
                    WORKSPACE,
                    "-j",
                    "promote_model_job",
                    "--run-id",
                    failed_run_id,
                    "--config-json",
                    json.dumps(
                        {"ops": {"promote_model": {"config": {"version": MISSING_VERSION}}}}
                    ),
                ],
                env,
            )
            assert launched.returncode == 0, launched.stderr[-3000:]
            failed = _failed_run(dagster_home, failed_run_id, daemon_log)
            assert failed.status.value == "FAILURE"
            _wait(
                lambda: (
                    _alert_count(urls["FORECASTOPS_ALERTS_DB_URL"], f"run_failure:{failed_run_id}")
                    == 1
                ),
                "the run_failure alert",
                daemon_log,
            )

        outputs = {}
        commands = {
            "status": ["status"],
            "history": ["history"],
            "doctor": ["doctor"],
            "report": ["report"],
            "alerts list": ["alerts", "list", "--status", "all"],
            "refused promote": ["promote", "--version", str(MISSING_VERSION), "--yes"],
            "refused rollback": ["rollback", "--yes"],
            "refused reproduce": ["reproduce", "--version", str(MISSING_VERSION)],
        }
        engine = sa.create_engine(urls["FORECASTOPS_ALERTS_DB_URL"])
        with engine.connect() as connection:
            alert_ids = connection.execute(sa.text(f"SELECT id FROM {ALERTS_TABLE}")).scalars()
            commands |= {f"alerts show {i}": ["alerts", "show", str(i)] for i in alert_ids}
        engine.dispose()
        for name, arguments in commands.items():
            result = run(["forecastops", *arguments], env)
            outputs[name] = f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        assert all(outputs[name].startswith("exit 0") for name in ("status", "history")), outputs
        assert all(not outputs[n].startswith("exit 0") for n in commands if "refused" in n)

        databases = {name: _database_text(url) for name, url in urls.items()}
        files = sorted(path for path in home.rglob("*") if path.is_file())
        yield {
            **{f"CLI: forecastops {name}": text for name, text in outputs.items()},
            **{f"database at {name}": text for name, (text, _) in databases.items()},
            "files under FORECASTOPS_HOME": "\n".join(
                f"{path}: {_file_text(path)}" for path in files
            ),
            "file names under FORECASTOPS_HOME": "\n".join(map(str, files)),
            "GraphQL resources": graphql,
        }


def _failed_run(dagster_home: str, run_id: str, log: Path) -> dg.DagsterRun:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        with dg.DagsterInstance.from_config(dagster_home) as instance:
            found = instance.get_run_by_id(run_id)
        if found is not None and found.is_finished:
            return found
        time.sleep(2)
    raise AssertionError(f"run {run_id} did not finish in time:\n{log_tail(log)}")


SIGNS = {
    "CLI: forecastops status": MASKED,
    "CLI: forecastops doctor": MASKED,
    "CLI: forecastops refused promote": MASKED,
    "CLI: forecastops refused rollback": MASKED,
    "CLI: forecastops refused reproduce": MASKED,
    "database at DAGSTER_PG_URL": MASKED,
    "database at MLFLOW_TRACKING_URI": "alias_move.",
    "database at FORECASTOPS_ALERTS_DB_URL": MASKED,
    "files under FORECASTOPS_HOME": MASKED,
    "GraphQL resources": "MLFLOW_TRACKING_URI",
}
"""What each search must find, to show it read the place where the password would have been."""


def test_the_search_reads_every_place_the_password_could_reach(searched: dict[str, str]) -> None:
    for place, sign in SIGNS.items():
        assert sign in searched[place], f"{place} does not hold {sign!r}"
    assert any(name.startswith("CLI: forecastops alerts show") for name in searched)
    names = searched["file names under FORECASTOPS_HOME"]
    assert "compute_logs" in names and "dagster-daemon.log" in names
    assert ".parquet" in names and "units_sold" in searched["files under FORECASTOPS_HOME"]
    graphql = json.loads(searched["GraphQL resources"])["data"]
    resources = graphql["allTopLevelResourceDetailsOrError"]["results"]
    configured = {
        (resource["name"], value["key"]): (value["value"], value["type"])
        for resource in resources
        for value in resource["configuredValues"]
    }
    assert configured[("mlflow_registry", "tracking_uri")] == ("MLFLOW_TRACKING_URI", "ENV_VAR")
    assert configured[("alert_store", "url")] == ("FORECASTOPS_ALERTS_DB_URL", "ENV_VAR")


def test_the_password_is_shown_nowhere(searched: dict[str, str]) -> None:
    shown = {}
    for place, text in searched.items():
        at = text.lower().find(PASSWORD.lower())
        if at >= 0:
            shown[place] = text[max(at - 300, 0) : at + 100]
    assert shown == {}, json.dumps(shown, indent=1)
