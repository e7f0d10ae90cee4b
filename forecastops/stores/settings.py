"""The one typed settings object: every ForecastOps setting, read from `FORECASTOPS_*` env vars.

All state lives under one root, `FORECASTOPS_HOME`; every folder defaults to a place under it.
The standard `DAGSTER_HOME` and `MLFLOW_TRACKING_URI` are honoured when set. A bad value stops
with a `SettingsError` that names the variable and says what a good value looks like.
`docs/configuration.md` lists every field below; keep the two in step.
"""

from __future__ import annotations

import os
from datetime import date, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FORECASTOPS_"
DEFAULT_HOME = Path.home() / ".forecastops"
"""Where the state lives when FORECASTOPS_HOME is unset: the user's, whatever the current
directory or where the package is installed (the Makefile sets `<repo>/.forecastops`)."""
DAGSTER_PG_SCHEME = "postgresql+psycopg2"
MANAGED_MARKER = "# managed-by: forecastops"
"""First line of a dagster.yaml that setup may overwrite (one without it was customised)."""


class SettingsError(ValueError):
    """A setting has a value ForecastOps cannot use; the message names the variable and the fix."""


class Settings(BaseSettings):
    """ForecastOps configuration. Field `x` is read from the env var `FORECASTOPS_X`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    home: Path = Field(DEFAULT_HOME, description="Root folder of all local state.")
    landing_dir: Path | None = Field(
        None, description="Where daily landing files arrive. Default: $FORECASTOPS_HOME/landing."
    )
    lake_dir: Path | None = Field(
        None, description="Root of the Parquet data lake. Default: $FORECASTOPS_HOME/lake."
    )
    start_date: date = Field(date(2025, 1, 1), description="First daily partition (YYYY-MM-DD).")
    timezone: str = Field("UTC", description="IANA timezone of the daily partitions and schedules.")
    ingest_time: time = Field(
        time(6, 0), description="Local time (HH:MM) at which the daily ingest schedule runs."
    )
    quality_history_days: int = Field(
        28, ge=1, le=366, description="Days of validated history the quality report compares with."
    )
    instance: Literal["embedded", "postgres"] = Field(
        "embedded",
        description="Dagster instance kind: SQLite under DAGSTER_HOME, or PostgreSQL at "
        "DAGSTER_PG_URL.",
    )
    dagster_pg_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DAGSTER_PG_URL", "FORECASTOPS_DAGSTER_PG_URL"),
        description="PostgreSQL URL of the Dagster instance (only with instance=postgres).",
    )
    model_name: str = Field(
        "demand_forecaster", min_length=1, description="Registered MLflow model name."
    )
    experiment_name: str = Field("forecastops", min_length=1, description="MLflow experiment.")
    objective: Literal["tweedie", "poisson"] = Field(
        "tweedie", description="LightGBM objective of the daily challenger."
    )
    training_window_days: int = Field(
        120, ge=28, le=1095, description="Days of history the challenger trains on."
    )
    horizon_days: int = Field(28, ge=1, le=90, description="Forecast horizon in days.")
    backtest_days: int = Field(
        90, ge=30, le=730, description="Days at the end of the data the backtest evaluates."
    )
    backtest_folds: int = Field(3, ge=3, le=12, description="Rolling-origin folds (>= 3).")
    backtest_workers: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Threads the backtest fits its (fold, candidate) models on; the models are "
        "the same for any count. Default: the CPUs this process may use.",
    )
    min_wape_improvement: float = Field(
        0.05, ge=0, lt=1, description="Relative WAPE gain over the champion needed to promote."
    )
    max_store_degradation: float = Field(
        0.10, ge=0, description="Largest relative WAPE loss any store may suffer on promotion."
    )
    alerts_db_url: str | None = Field(
        None,
        description="Alert store URL: sqlite:////abs/path.db or postgresql://user@host/db. "
        "Default: SQLite at $FORECASTOPS_HOME/alerts.db.",
    )
    dagster_home: Path | None = Field(
        None,
        validation_alias=AliasChoices("DAGSTER_HOME", "FORECASTOPS_DAGSTER_HOME"),
        description="Dagster instance folder. Default: $FORECASTOPS_HOME/dagster.",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "FORECASTOPS_MLFLOW_TRACKING_URI"),
        description="MLflow tracking/registry URI. Default: SQLite under $FORECASTOPS_HOME/mlflow.",
    )
    mlflow_artifact_root: str | None = Field(
        None,
        description="Where new MLflow experiments store artifacts: a folder or a URI "
        "(s3://bucket/path). Default: $FORECASTOPS_HOME/mlflow/artifacts.",
    )
    service_host: str = Field(
        "127.0.0.1", min_length=1, description="Interface `forecastops up` binds the UIs to."
    )
    webserver_port: int = Field(3000, ge=1, le=65535, description="Port of dagster-webserver.")
    mlflow_port: int = Field(5000, ge=1, le=65535, description="Port of the MLflow UI server.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown IANA timezone {value!r} (e.g. 'UTC', 'Europe/Berlin')"
            ) from error
        return value

    @model_validator(mode="after")
    def _postgres_needs_a_url(self) -> Settings:
        if self.instance == "postgres" and not self.dagster_pg_url:
            raise ValueError(
                "FORECASTOPS_INSTANCE=postgres needs DAGSTER_PG_URL "
                f"(e.g. {DAGSTER_PG_SCHEME}://postgres@127.0.0.1:5432/dagster)"
            )
        if self.dagster_pg_url and not self.dagster_pg_url.startswith(f"{DAGSTER_PG_SCHEME}://"):
            raise ValueError(
                f"DAGSTER_PG_URL must name the psycopg2 driver, {DAGSTER_PG_SCHEME}://…: "
                "dagster-postgres needs psycopg2, and SQLAlchemy 2.1 maps a bare postgresql:// "
                "to psycopg 3"
            )
        if self.mlflow_tracking_uri and self.dagster_pg_url:
            mlflow_db, dagster_db = (
                _postgres_database(self.mlflow_tracking_uri),
                _postgres_database(self.dagster_pg_url),
            )
            if mlflow_db is not None and mlflow_db == dagster_db:
                raise ValueError(
                    "MLFLOW_TRACKING_URI and DAGSTER_PG_URL point at the same PostgreSQL "
                    f"database ({mlflow_db[2]!r} on {mlflow_db[0]}:{mlflow_db[1]}); both keep an "
                    "alembic_version table, so give MLflow its own database, e.g. "
                    "postgresql+psycopg2://user@host:5432/mlflow"
                )
        return self

    @property
    def landing_path(self) -> Path:
        return (self.landing_dir or self.home / "landing").resolve()

    @property
    def lake_path(self) -> Path:
        return (self.lake_dir or self.home / "lake").resolve()

    @property
    def reports_path(self) -> Path:
        return (self.home / "reports").resolve()

    @property
    def dagster_home_path(self) -> Path:
        return (self.dagster_home or self.home / "dagster").resolve()

    @property
    def mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow' / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifact_uri(self) -> str:
        """The artifact root of new MLflow experiments, as a URI (a folder becomes file://)."""
        root = self.mlflow_artifact_root
        if root and "://" in root:
            return root
        return Path(root or self.home / "mlflow" / "artifacts").resolve().as_uri()

    @property
    def logs_path(self) -> Path:
        return (self.home / "logs").resolve()

    @property
    def alerts_url(self) -> str:
        return self.alerts_db_url or f"sqlite:///{(self.home / 'alerts.db').resolve()}"

    def writable_folders(self) -> dict[str, Path]:
        """The folders ForecastOps writes to, keyed by the env var that sets each."""
        return {
            f"{ENV_PREFIX}HOME": self.home.resolve(),
            f"{ENV_PREFIX}LANDING_DIR": self.landing_path,
            f"{ENV_PREFIX}LAKE_DIR": self.lake_path,
            "DAGSTER_HOME": self.dagster_home_path,
        }

    def ensure_folders(self) -> None:
        """Create every state folder; a folder that is unusable raises `SettingsError`."""
        for variable, folder in self.writable_folders().items():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise SettingsError(
                    f"{variable}={folder} cannot be created ({error.strerror}). "
                    f"Point {variable} at a folder you can write to."
                ) from error
            if not os.access(folder, os.W_OK | os.X_OK):
                raise SettingsError(
                    f"{variable}={folder} is not writable. "
                    f"Fix its permissions or point {variable} at a folder you can write to."
                )


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _postgres_database(url: str) -> tuple[str, int, str] | None:
    """(host, port, database) of a PostgreSQL URL with local host names made one; None for any
    other URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "postgresql":
        return None
    host = parsed.host or "localhost"
    return (
        "localhost" if host in _LOCAL_HOSTS else host,
        parsed.port or 5432,
        parsed.database or "",
    )


def _variable_name(field_name: str) -> str:
    field = Settings.model_fields[field_name]
    if isinstance(field.validation_alias, AliasChoices):
        return str(field.validation_alias.choices[0])
    return f"{ENV_PREFIX}{field_name.upper()}"


def load_settings() -> Settings:
    """Read the settings from the environment; a bad value raises `SettingsError` naming it."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            if not detail["loc"]:  # a rule across settings; its message names the variables
                problems.append(str(detail["msg"]).removeprefix("Value error, ") + ".")
                continue
            field_name = str(detail["loc"][0])
            variable = (
                _variable_name(field_name) if field_name in Settings.model_fields else field_name
            )
            problems.append(
                f"{variable}={detail.get('input')!r} is invalid: {detail['msg']}. "
                f"See docs/configuration.md for the expected format."
            )
        raise SettingsError("\n".join(problems)) from None
