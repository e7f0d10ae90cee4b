"""The one typed settings object: every ForecastOps setting, read from `FORECASTOPS_*` env vars.

All state lives under one root, `FORECASTOPS_HOME`; every folder defaults to a place under it.
The standard `DAGSTER_HOME` and `MLFLOW_TRACKING_URI` are honoured when set. A bad value stops
with a `SettingsError` that names the variable and says what a good value looks like.
`docs/configuration.md` lists every field below; keep the two in step.

Every policy is built from the knobs of `PolicySettings` (which `Settings` includes): the
retrain cycle (`forecastops.pipeline.cycle.CyclePolicy.from_settings`), the promotion gate,
data drift, the champion's health and the retrain triggers (`promotion_policy`,
`drift_policy`, `performance_policy`, `trigger_policy`). A knob has one name: the settings
field, its variable `FORECASTOPS_<NAME>`, the policy's field and the Dagster resource's field
(`resources/policies.py`). Its default, bounds and meaning are defined once, here;
`check_policy_knobs` applies the same bounds to values from elsewhere (resource config set in
the launchpad).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from forecastops.domain.secrets import mask_url, mask_urls_in
from forecastops.stores.ui_links import without_credentials

if TYPE_CHECKING:
    from forecastops.domain.drift import DriftPolicy
    from forecastops.domain.performance import PerformancePolicy
    from forecastops.domain.promotion import PromotionPolicy
    from forecastops.domain.triggers import TriggerPolicy
ENV_PREFIX = "FORECASTOPS_"
DEFAULT_HOME = Path.home() / ".forecastops"
"""Where the state lives when FORECASTOPS_HOME is unset: the user's, whatever the current
directory or where the package is installed (the Makefile sets `<repo>/.forecastops`)."""
DAGSTER_PG_SCHEME = "postgresql+psycopg2"
MANAGED_MARKER = "# managed-by: forecastops"
"""First line of a dagster.yaml that setup may overwrite (one without it was customised)."""


SECRET_FIELDS = frozenset({"alert_notify_urls"})
"""Settings whose whole value is a secret (a webhook URL's path is its token): never shown."""
HIDDEN = "(hidden)"


class SettingsError(ValueError):
    """A setting has a value ForecastOps cannot use; the message names the variable and the fix."""


class PolicySettings(BaseModel):
    """The knobs of every policy, each with its default, bounds and meaning (the one
    definition). Field `x` is the env var `FORECASTOPS_X` (through `Settings`), the field `x`
    of the policy it builds and of its Dagster resource. Defaults are the calibrated values the
    policies document."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # -- the retrain cycle (CyclePolicy) -------------------------------------------------
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
    backtest_fold_anchor: Literal["daily", "weekly"] = Field(
        "daily",
        description="Where the backtest's last fold ends: `daily` at the cutoff (every day's "
        "folds are new, so every fold is refitted); `weekly` on the latest Sunday on or before "
        "it, so the cycles of a week share their folds and, with the fold cache, refit only what "
        "changed (the up to 6 newest days are then not scored).",
    )
    backtest_fold_cache: bool = Field(
        True,
        description="Reuse the scored forecasts of a (candidate, fold) whose inputs (the fold's "
        "history, covariates and actuals, the candidate's code and configuration) are unchanged "
        "since an earlier cycle, instead of refitting it; the results equal a full refit.",
    )
    missing_days_alert_after: int = Field(
        3,
        ge=0,
        le=1095,
        description="Days a day of the training window may stay without data (no raw_sales "
        "partition: rejected, not delivered, deleted) before sales_features raises a "
        "missing_data alert for it; counted from that day to the cutoff.",
    )
    # -- the promotion gate (PromotionPolicy) --------------------------------------------
    min_wape_improvement: float = Field(
        0.05, ge=0, lt=1, description="Relative WAPE gain over the champion needed to promote."
    )
    max_store_degradation: float = Field(
        0.10, ge=0, description="Largest relative WAPE loss any store may suffer on promotion."
    )
    min_shadow_days: int = Field(
        7,
        ge=1,
        description="Realized shadow days a challenger's configuration stream needs before it "
        "may replace the champion.",
    )
    # -- data drift (DriftPolicy) --------------------------------------------------------
    drift_numeric_threshold: float = Field(
        0.2,
        gt=0,
        description="A numeric feature drifts at this normed Wasserstein distance (reference "
        "standard deviations).",
    )
    drift_categorical_threshold: float = Field(
        0.2, gt=0, description="A categorical feature drifts at this PSI."
    )
    drift_null_rate_threshold: float = Field(
        0.05,
        gt=0,
        le=1,
        description="A column's null share changing by more than this is flagged (a share).",
    )
    drift_target_shift_threshold: float = Field(
        0.3,
        gt=0,
        description="|relative change of mean units sold| at which the target drifts.",
    )
    drift_share_threshold: float = Field(
        0.25,
        gt=0,
        le=1,
        description="The dataset drifts when at least this share of the features drifts.",
    )
    drift_max_rows: int = Field(
        50_000,
        ge=1,
        description="Rows each window is sampled down to (seeded) before the drift scores.",
    )
    # -- the champion's health (PerformancePolicy) ---------------------------------------
    health_degrading_threshold: float = Field(
        0.05,
        ge=0,
        description="Realized MAE this much worse than the backtest (relative) is degrading.",
    )
    health_drifting_threshold: float = Field(
        0.15,
        gt=0,
        description="Realized MAE more than this much worse than the backtest is drifting.",
    )
    health_min_points: int = Field(
        7, ge=1, le=366, description="Scored days a series needs in the window to be classified."
    )
    health_window_days: int = Field(
        28, ge=1, le=366, description="Days of realized accuracy the health is classified on."
    )
    # -- the retrain triggers (TriggerPolicy) --------------------------------------------
    trigger_data_fire: float = Field(
        1.0, gt=0, description="Drift score (overall_score) at which data drift retrains."
    )
    trigger_data_rearm: float = Field(
        0.8,
        ge=0,
        description="The data drift trigger re-arms once the drift score is below this.",
    )
    trigger_performance_fire: float = Field(
        0.15,
        gt=0,
        description="Champion MAE degradation above which performance drift retrains.",
    )
    trigger_performance_rearm: float = Field(
        0.10,
        ge=0,
        description="The performance trigger re-arms once the degradation is below this.",
    )
    trigger_cooldown_hours: float = Field(
        24.0,
        ge=0,
        le=8760,
        description="Hours after a drift retrain before the triggers may retrain again.",
    )

    @model_validator(mode="after")
    def _knobs_agree(self) -> Self:
        problems = [
            message
            for broken, message in (
                (
                    self.backtest_days < self.horizon_days + self.backtest_folds - 1,
                    f"{variable('backtest_days')}={self.backtest_days} must be at least "
                    f"{variable('horizon_days')} + {variable('backtest_folds')} - 1 = "
                    f"{self.horizon_days + self.backtest_folds - 1}, so that the folds' "
                    "cutoffs fit one day apart",
                ),
                (
                    self.health_degrading_threshold >= self.health_drifting_threshold,
                    f"{variable('health_degrading_threshold')}="
                    f"{self.health_degrading_threshold} must be below "
                    f"{variable('health_drifting_threshold')}={self.health_drifting_threshold}",
                ),
                (
                    self.health_min_points > self.health_window_days,
                    f"{variable('health_min_points')}={self.health_min_points} must be at most "
                    f"{variable('health_window_days')}={self.health_window_days} (no series "
                    "could ever be classified)",
                ),
                (
                    self.trigger_data_rearm > self.trigger_data_fire,
                    f"{variable('trigger_data_rearm')}={self.trigger_data_rearm} must be at "
                    f"most {variable('trigger_data_fire')}={self.trigger_data_fire}",
                ),
                (
                    self.trigger_performance_rearm > self.trigger_performance_fire,
                    f"{variable('trigger_performance_rearm')}={self.trigger_performance_rearm} "
                    f"must be at most "
                    f"{variable('trigger_performance_fire')}={self.trigger_performance_fire}",
                ),
            )
            if broken
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def promotion_policy(self) -> PromotionPolicy:
        """The promotion gate's thresholds."""
        from forecastops.domain.promotion import PromotionPolicy

        return PromotionPolicy(
            min_wape_improvement=self.min_wape_improvement,
            max_store_degradation=self.max_store_degradation,
            min_shadow_days=self.min_shadow_days,
        )

    def drift_policy(self) -> DriftPolicy:
        """The data drift detector's thresholds."""
        from forecastops.domain.drift import DriftPolicy

        return DriftPolicy(**self._values(DRIFT_KNOBS))

    def performance_policy(self) -> PerformancePolicy:
        """How the champion's realized accuracy is classified."""
        from forecastops.domain.performance import PerformancePolicy

        return PerformancePolicy(**self._values(HEALTH_KNOBS))

    def trigger_policy(self) -> TriggerPolicy:
        """When drift retrains: fire and re-arm levels, cooldown."""
        from forecastops.domain.triggers import TriggerPolicy

        return TriggerPolicy(**self._values(TRIGGER_KNOBS))

    def _values(self, knobs: tuple[str, ...]) -> dict[str, Any]:
        return {name: getattr(self, name) for name in knobs}


RETRAIN_KNOBS: tuple[str, ...] = (
    "objective",
    "training_window_days",
    "horizon_days",
    "backtest_days",
    "backtest_folds",
    "backtest_workers",
    "backtest_fold_anchor",
    "backtest_fold_cache",
    "missing_days_alert_after",
    "min_wape_improvement",
    "max_store_degradation",
    "min_shadow_days",
)
"""The knobs of the retrain cycle and its promotion gate (resource `retrain`)."""
DRIFT_KNOBS: tuple[str, ...] = (
    "drift_numeric_threshold",
    "drift_categorical_threshold",
    "drift_null_rate_threshold",
    "drift_target_shift_threshold",
    "drift_share_threshold",
    "drift_max_rows",
)
HEALTH_KNOBS: tuple[str, ...] = (
    "health_degrading_threshold",
    "health_drifting_threshold",
    "health_min_points",
    "health_window_days",
)
TRIGGER_KNOBS: tuple[str, ...] = (
    "trigger_data_fire",
    "trigger_data_rearm",
    "trigger_performance_fire",
    "trigger_performance_rearm",
    "trigger_cooldown_hours",
)
MONITORING_KNOBS: tuple[str, ...] = DRIFT_KNOBS + HEALTH_KNOBS + TRIGGER_KNOBS
"""The knobs of drift, health and the retrain triggers (resource `monitoring`)."""


def check_policy_knobs(values: Mapping[str, Any], source: str) -> PolicySettings:
    """The knobs with `values` (name -> value; the others at their defaults), checked by the
    same bounds as their variables. `source` says where the values were set (e.g. "resource
    config of RetrainPolicy"). Raises `SettingsError` naming each bad knob and its variable."""
    try:
        return PolicySettings(**values)
    except ValidationError as error:
        problems = _problems(
            error, lambda name, value: f"{name}={value!r} (variable {variable(name)})"
        )
        raise SettingsError(f"Bad policy settings in the {source}:\n{problems}") from None


class Settings(BaseSettings, PolicySettings):
    """ForecastOps configuration. Field `x` is read from the env var `FORECASTOPS_X`; the
    policies' knobs come from `PolicySettings`."""

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
        time(6, 0),
        description="Local time (HH:MM) at which the daily ingest schedule runs; the weekly "
        "champion backtest runs 3 h after it on Sundays.",
    )
    quality_history_days: int = Field(
        28, ge=1, le=366, description="Days of validated history the quality report compares with."
    )
    min_delivery_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A day whose file passes the contract with fewer rows than this share of "
        "the rows expected from the days before it is refused as a partial delivery (0: never).",
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
        "127.0.0.1",
        description="Interface the Dagster and MLflow UIs bind to (`forecastops up`, the "
        "systemd units). Never empty: an empty host makes both listen on every interface.",
    )
    webserver_port: int = Field(3000, ge=1, le=65535, description="Port of dagster-webserver.")
    mlflow_port: int = Field(5000, ge=1, le=65535, description="Port of the MLflow UI server.")
    dagster_ui_url: str | None = Field(
        None,
        description="Base URL of the Dagster UI as operators reach it (links in alerts and "
        "notifications). Default: http://<FORECASTOPS_SERVICE_HOST>:<FORECASTOPS_WEBSERVER_PORT>.",
    )
    mlflow_ui_url: str | None = Field(
        None,
        description="Base URL of the MLflow UI as operators reach it (links in asset metadata "
        "and alerts). Default: MLFLOW_TRACKING_URI when it is http(s) (without its "
        "credentials), else http://<FORECASTOPS_SERVICE_HOST>:<FORECASTOPS_MLFLOW_PORT>.",
    )
    alert_notify_urls: str | None = Field(
        None,
        description="Where new warning/critical alerts and their resolution are posted: one or "
        "more Apprise URLs separated by spaces or commas (a Slack incoming-webhook URL "
        "https://hooks.slack.com/services/…, json://host:port/path for any JSON webhook, "
        "mailto://…). A secret: never printed. Unset: alerts stay in the alert store.",
    )
    alert_notify_min_severity: Literal["warning", "critical"] = Field(
        "warning", description="The least severe alert the notifier posts."
    )
    executor: Literal["in_process", "multiprocess", "celery"] = Field(
        "multiprocess",
        description="How a run executes its steps: one process (in_process), a child process "
        "per step on the run's machine (multiprocess, Dagster's default), or on dagster-celery "
        "workers fed by the broker at FORECASTOPS_CELERY_BROKER_URL (celery).",
    )
    celery_broker_url: str | None = Field(
        None,
        description="Celery broker of the celery executor and its workers, e.g. "
        "redis://127.0.0.1:6379/0 (also the result backend). May carry a password: read from "
        "the environment only, masked wherever shown. Required with FORECASTOPS_EXECUTOR=celery.",
    )
    celery_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="dagster-celery worker processes `forecastops up` starts on this machine "
        "(with FORECASTOPS_EXECUTOR=celery).",
    )

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

    @field_validator("home", "landing_dir", "lake_dir", "dagster_home")
    @classmethod
    def _a_folder_that_can_exist(cls, value: Path | None) -> Path | None:
        problem = folder_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("start_date")
    @classmethod
    def _not_in_the_future(cls, value: date) -> date:
        # a day of slack: the start date is read in FORECASTOPS_TIMEZONE, ahead of UTC in Asia
        if value > datetime.now(UTC).date() + timedelta(days=1):
            raise ValueError(
                "it is in the future, so no daily partition would exist until then; give the "
                "first day of your sales history"
            )
        return value

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _an_mlflow_store(cls, value: str | None) -> str | None:
        problem = url_problem(value, MLFLOW_STORE_SCHEMES) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("alerts_db_url")
    @classmethod
    def _an_sqlalchemy_url(cls, value: str | None) -> str | None:
        problem = url_problem(value, ALERT_STORE_SCHEMES) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("mlflow_artifact_root")
    @classmethod
    def _an_artifact_store_we_can_reach(cls, value: str | None) -> str | None:
        scheme = value.split("://", 1)[0] if value and "://" in value else ""
        module = ARTIFACT_SCHEME_CLIENTS.get(scheme)
        if module is not None and not _installed(module):
            raise ValueError(
                f"{scheme}:// artifacts need the {module} package, which is not installed: "
                f"install it into ForecastOps' environment (uv pip install {module.split('.')[0]})"
                " or give a local folder"
            )
        return value

    @field_validator("dagster_ui_url", "mlflow_ui_url")
    @classmethod
    def _an_http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("give the UI's address with its scheme, e.g. http://ui.example:3000")
        return value.rstrip("/") if value else value

    @field_validator("alert_notify_urls")
    @classmethod
    def _known_notify_urls(cls, value: str | None) -> str | None:
        from forecastops.stores.notifier import notify_url_problem

        problem = notify_url_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value or None

    @field_validator("service_host")
    @classmethod
    def _a_named_interface(cls, value: str) -> str:
        host = value.strip()
        if not host:
            raise ValueError(
                "an empty host makes dagster-webserver and mlflow server listen on every "
                "interface, with no authentication; set it to 127.0.0.1 (this machine only), "
                "to one interface's address, or to 0.0.0.0 to expose the UIs on purpose"
            )
        return host

    @field_validator("celery_broker_url")
    @classmethod
    def _a_celery_broker(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in CELERY_BROKER_SCHEMES:
            raise ValueError(
                f"unsupported broker {mask_url(value)!r}; use one of "
                f"{', '.join(s + '://' for s in sorted(CELERY_BROKER_SCHEMES))} "
                "(e.g. redis://127.0.0.1:6379/0)"
            )
        return value

    @model_validator(mode="after")
    def _celery_needs_a_broker(self) -> Settings:
        # Refused here, not at the first run: without a broker dagster-celery would fall back
        # to an AMQP broker on localhost and the run would hang or fail far from the cause.
        if self.executor == "celery" and not self.celery_broker_url:
            raise ValueError(
                "FORECASTOPS_EXECUTOR=celery needs FORECASTOPS_CELERY_BROKER_URL "
                "(e.g. redis://127.0.0.1:6379/0)"
            )
        return self

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

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The fields as `repr` shows them (tracebacks, test reports): URLs' passwords masked,
        the notification URLs (whose path is the webhook's token) hidden whole."""
        for name, value in super().__repr_args__():
            if name in SECRET_FIELDS and value is not None:
                yield name, HIDDEN
            else:
                yield name, mask_url(value) if isinstance(value, str) else value

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

    @property
    def dagster_ui(self) -> str:
        """The Dagster UI's base URL, without a trailing slash."""
        return self.dagster_ui_url or f"http://{self.service_host}:{self.webserver_port}"

    @property
    def mlflow_ui(self) -> str:
        """The MLflow UI's base URL, without a trailing slash or credentials: the setting, else
        the tracking server when tracking is over http(s), else where `forecastops up` serves
        the UI."""
        if self.mlflow_ui_url:
            return self.mlflow_ui_url
        if self.mlflow_uri.startswith(("http://", "https://")):
            return without_credentials(self.mlflow_uri)
        return f"http://{self.service_host}:{self.mlflow_port}"

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
MLFLOW_STORE_SCHEMES = frozenset(
    {"file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks", "uc"}
)
"""URI schemes (before any `+driver`) MLflow 3 keeps runs and a model registry in."""
ALERT_STORE_SCHEMES = frozenset({"sqlite", "postgresql"})
ARTIFACT_SCHEME_CLIENTS = {
    "s3": "boto3",
    "gs": "google.cloud.storage",
    "wasbs": "azure.storage.blob",
    "abfss": "azure.storage.blob",
}
"""Artifact URI scheme -> the package MLflow needs to write there."""
KERNEL_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


CELERY_BROKER_SCHEMES = frozenset({"redis", "rediss", "amqp", "pyamqp"})
"""The brokers whose client ForecastOps installs (redis via celery[redis]; amqp via kombu)."""


def url_problem(url: str, schemes: frozenset[str]) -> str | None:
    """Why `url` is no store URL of one of `schemes` (a bare path counts as `file`), or None.

    Found at load, not at first use: MLflow and SQLAlchemy only fail when a run reaches them,
    with a traceback that does not name the variable."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if "://" not in url:
        known = not parts.scheme or scheme in schemes
        return None if known else f"expected a URL such as {_example(schemes)}"
    if scheme not in schemes:
        return (
            f"unsupported scheme {parts.scheme + '://'!r}; use one of "
            f"{', '.join(sorted(s + '://' for s in schemes))} (e.g. {_example(schemes)})"
        )
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return f"its port is not a number (e.g. {_example(schemes)})"
    return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package (google.cloud) is missing
        return False


def _example(schemes: frozenset[str]) -> str:
    return (
        "postgresql+psycopg2://user@127.0.0.1:5432/mlflow"
        if "http" in schemes
        else "postgresql://user@127.0.0.1:5432/alerts"
    )


def folder_problem(folder: Path) -> str | None:
    """Why `folder` can never hold ForecastOps' state, or None: it is a file, lies under a file,
    or lies in a kernel file system. Whether it is writable is `Settings.ensure_folders`'s
    question (a folder may be created by a deployment step after the settings are read)."""
    resolved = folder.expanduser().resolve()
    if any(resolved == kernel or kernel in resolved.parents for kernel in KERNEL_FOLDERS):
        return "it is in a kernel file system (/proc, /sys, /dev), where nothing can be stored"
    existing = next((p for p in [resolved, *resolved.parents] if p.exists()), None)
    if existing == resolved and not resolved.is_dir():
        return "it is a file, not a folder"
    if existing is not None and not existing.is_dir():
        return f"it lies under {existing}, which is a file, not a folder"
    return None


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


def variable(field_name: str) -> str:
    """The environment variable of setting `field_name`."""
    field = Settings.model_fields[field_name]
    if isinstance(field.validation_alias, AliasChoices):
        return str(field.validation_alias.choices[0])
    return f"{ENV_PREFIX}{field_name.upper()}"


_FIELD_OF_ALIAS = {
    alias: name
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
    for alias in field.validation_alias.choices
    if isinstance(alias, str)
}
"""`DAGSTER_HOME` -> `dagster_home`: pydantic reports an aliased field's error by its alias."""


def _problems(error: ValidationError, label: Callable[[str, Any], str]) -> str:
    """One line per problem of `error`; `label(field name, value)` names the bad setting."""
    problems = []
    for detail in error.errors():
        if not detail["loc"]:  # a rule across settings; its message names the variables
            problems.append(str(detail["msg"]).removeprefix("Value error, ") + ".")
            continue
        field_name = _FIELD_OF_ALIAS.get(str(detail["loc"][0]), str(detail["loc"][0]))
        value = detail.get("input")
        problems.append(
            f"{label(field_name, value) if field_name in Settings.model_fields else field_name}"
            f" is invalid: {str(detail['msg']).removeprefix('Value error, ')}. "
            "See docs/configuration.md for the expected format."
        )
    return "\n".join(problems)


def _shown_setting(field_name: str, value: object) -> str:
    """`VARIABLE=value` as an error shows it; a secret setting's value is hidden."""
    return f"{variable(field_name)}={HIDDEN if field_name in SECRET_FIELDS else repr(value)}"


def load_settings() -> Settings:
    """Read the settings from the environment; a bad value raises `SettingsError` naming it."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(mask_urls_in(_problems(error, _shown_setting))) from None
