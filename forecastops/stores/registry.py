"""The model registry: one registered MLflow model with a `champion` and a `challenger` alias.

Every daily retrain registers a new model version and points `challenger` at it
(`register_challenger`); the promotion gate points `champion` at the challenger when it wins
(`move_alias`), and a rollback points `champion` back at `previous_champion()`. Forecasts load
`models:/<model_name>@champion`.

Alias history. MLflow keeps only where an alias points now, so every alias move is also recorded
in the registry itself, as one tag of the registered model per move (it works the same on the
SQLite and the PostgreSQL MLflow backends, and travels with the registry):

    alias_move.<moved_at as YYYYmmddTHHMMSS.ffffffZ> = {"alias": "champion",
        "from_version": "3", "to_version": "4", "actor": "dagster:<run_id>",
        "reason": "...", "moved_at": "2025-01-02T06:31:07.123456+00:00"}

- Keys sort in time order (a UTC timestamp to the microsecond), so `history()` is the tags in key
  order; a timestamp key needs no read-modify-write of a counter, so two processes moving aliases
  at once cannot overwrite each other's record (within one process a clash is bumped by 1 us).
- MLflow's SQL schema stores registered-model tag values as VARCHAR(5000) (PostgreSQL enforces
  it), so a record is capped at `HISTORY_TAG_MAX_CHARS`: the `actor` is cut to
  `ACTOR_MAX_CHARS` and the `reason` is cut (ending in "...[truncated]") to fit.
- The order is: check the version exists, move the alias, write the record. If the record
  cannot be written the alias is put back where it was and `RegistryError` is raised.

- One tag per move grows by about 365 challenger moves a year (plus the champion moves);
  MLflow reads all tags with the registered model, which stays fast at that size.

Model versions carry the caller's tags (training cutoff, feature set, ...) plus
`artifact_sha256`, the SHA-256 of the booster file, computed at registration. Every alias and
tag name is defined in `forecastops.stores.registry_tags`. The logged model is
a pyfunc (`forecastops.stores.pyfunc_model.DemandForecastPyfunc`) whose artifact is the folder
`LightGBMForecaster.save` wrote, with explicit `package==version` requirements of the installed
lightgbm, pandas, numpy and scikit-learn (MLflow adds its own pin; no requirement inference), a
signature, and the repository's `uv.lock` when forecastops runs from a source checkout.

Fluent MLflow calls (`start_run`, `pyfunc.log_model`) take no tracking URI, so
`register_challenger` points the process-wide tracking URI at this registry's store for their
duration and restores it afterwards: do not register from two threads of one process at once.

MLflow is imported only inside the methods (importing it takes about 2 s), so importing this
module stays cheap. The pyfunc flavour that MLflow loads is `forecastops.stores.pyfunc_model`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from forecastops.domain.forecasters import SPEC_SUFFIX, spec_path
from forecastops.domain.secrets import mask_url, mask_urls_in
from forecastops.stores.registry_tags import (
    ALIASES,
    CHALLENGER,
    CHAMPION,
    DAGSTER_ROOT_RUN_ID_TAG,
    EXPERIMENT_KIND_TAG,
    HISTORY_TAG_PREFIX,
    MODEL_DEVELOPMENT,
    SHA256_TAG,
    reused_in_tag,
)
from forecastops.stores.ui_links import MlflowUi, without_credentials

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from forecastops.domain.forecasters import LightGBMForecaster

logger = logging.getLogger(__name__)

HISTORY_TAG_MAX_CHARS = 5000
"""MLflow's SQL schema: `registered_model_tags.value` is VARCHAR(5000)."""
ACTOR_MAX_CHARS = 200
TRUNCATED = "...[truncated]"
MODEL_ARTIFACT_NAME = "model"
"""The name of a logged pyfunc model when the caller gives none."""
DEFAULT_UI = "http://127.0.0.1:5000"
"""The MLflow UI `forecastops up` serves with the default settings: the registry's UI when it
is given none and tracking is not over http(s)."""
PINNED_PACKAGES: tuple[str, ...] = ("lightgbm", "pandas", "numpy", "scikit-learn")
"""Logged as `package==<installed version>` requirements of the pyfunc model (MLflow adds its
own pin); listing them avoids MLflow's requirement inference, which takes seconds."""
_HTTP_SCHEMES = ("http://", "https://")
_SQLITE_PREFIX = "sqlite:///"
CONNECT_TIMEOUT_S = 3
"""How long `ModelRegistry.check_reachable` waits for the tracking server or database. MLflow's
own client retries an unreachable server with backoff for minutes; the check answers first."""


class RegistryError(RuntimeError):
    """A registry operation failed; the message says what failed and where the aliases are.
    Any URL in it (the tracking URI, one quoted by MLflow's error) has its password masked."""

    def __init__(self, message: str) -> None:
        super().__init__(mask_urls_in(message))


class RegistryUnreachable(RegistryError):
    """The tracking server or database did not answer within `CONNECT_TIMEOUT_S`."""


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version `register_challenger` created.

    `model_uri`: `models:/<model_name>/<version>`; `pages`: its pages in the MLflow UI.
    """

    version: str
    run_id: str
    model_uri: str
    pages: VersionPages


@dataclass(frozen=True)
class VersionPages:
    """The MLflow UI pages of one model version (`forecastops.stores.ui_links` shapes): the
    version, the run that logged it, its experiment and its logged model (None for a version
    registered without one)."""

    model_version: str
    run: str
    experiment: str
    logged_model: str | None


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias: `from_version` is None when the alias was not set before.
    `moved_at` is ISO 8601 in UTC with microseconds."""

    alias: str
    from_version: str | None
    to_version: str
    actor: str
    reason: str
    moved_at: str

    def to_json(self) -> str:
        """The history tag value: at most `HISTORY_TAG_MAX_CHARS` characters, cutting `actor`
        and then `reason` if needed."""
        record = asdict(self)
        if len(self.actor) > ACTOR_MAX_CHARS:
            record["actor"] = self.actor[: ACTOR_MAX_CHARS - len(TRUNCATED)] + TRUNCATED
        text = json.dumps(record, ensure_ascii=False, sort_keys=True)
        excess = len(text) - HISTORY_TAG_MAX_CHARS
        if excess > 0:
            reason = record["reason"]
            # JSON escapes can make a character longer than one; cut until it fits.
            keep = max(len(reason) - excess - len(TRUNCATED), 0)
            while True:
                record["reason"] = reason[:keep] + TRUNCATED
                text = json.dumps(record, ensure_ascii=False, sort_keys=True)
                if len(text) <= HISTORY_TAG_MAX_CHARS or keep == 0:
                    break
                keep = max(keep - (len(text) - HISTORY_TAG_MAX_CHARS), 0)
        return text

    @classmethod
    def from_json(cls, text: str) -> AliasMove:
        record = json.loads(text)
        return cls(
            alias=str(record["alias"]),
            from_version=None if record["from_version"] is None else str(record["from_version"]),
            to_version=str(record["to_version"]),
            actor=str(record["actor"]),
            reason=str(record["reason"]),
            moved_at=str(record["moved_at"]),
        )


def find_booster(model_dir: Path) -> Path:
    """The booster file in `model_dir`, the folder `LightGBMForecaster.save(model_dir / name)`
    wrote: the one file whose spec JSON (`forecastops.domain.forecasters.spec_path`) sits beside it.

    Raises `RegistryError` when there is no such file or more than one.
    """
    if not model_dir.is_dir():
        raise RegistryError(
            f"Model folder {model_dir} does not exist; write it with "
            "LightGBMForecaster.save(model_dir / 'model.txt'). Aliases were left unchanged."
        )
    boosters = sorted(
        path
        for path in model_dir.iterdir()
        if path.is_file() and not path.name.endswith(SPEC_SUFFIX) and spec_path(path).is_file()
    )
    if len(boosters) != 1:
        found = sorted(path.name for path in model_dir.iterdir())
        problem = "no booster file" if not boosters else f"{len(boosters)} booster files"
        raise RegistryError(
            f"Model folder {model_dir} holds {problem} with its '*{SPEC_SUFFIX}' spec beside it "
            f"(found {found}); it must hold exactly one, as LightGBMForecaster.save(model_dir / "
            "'model.txt') writes. Aliases were left unchanged."
        )
    return boosters[0]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pinned_requirements() -> list[str]:
    """`package==version` of `PINNED_PACKAGES` as installed here (cheap: package metadata)."""
    return [f"{package}=={metadata.version(package)}" for package in PINNED_PACKAGES]


def _forecastops_version() -> str:
    """The installed forecastops version, recorded in the MLmodel metadata ("unknown" when the
    package runs from a source tree without being installed)."""
    try:
        return metadata.version("forecastops")
    except metadata.PackageNotFoundError:
        return "unknown"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _history_key(moved_at: datetime) -> str:
    return f"{HISTORY_TAG_PREFIX}{moved_at.strftime('%Y%m%dT%H%M%S.%fZ')}"


def _error_code(error: BaseException) -> str | None:
    code = getattr(error, "error_code", None)
    return code if isinstance(code, str) else None


def _ask_health(uri: str, timeout_s: float) -> None:
    """GET the server's `/health` (it needs no login: asked without the URI's user part, so no
    credential is sent); raises on no answer or an error status."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    health = urllib.parse.urlunsplit(
        (parts.scheme, host, parts.path.rstrip("/") + "/health", "", "")
    )
    with urllib.request.urlopen(health, timeout=timeout_s) as response:
        response.read()


def _select_one(uri: str, timeout_s: float) -> None:
    """`SELECT 1` on the database at `uri`, connecting for at most `timeout_s` (PostgreSQL)."""
    import sqlalchemy as sa

    url = sa.engine.make_url(uri)
    connect_args = (
        {"connect_timeout": int(timeout_s)} if url.get_backend_name() == "postgresql" else {}
    )
    engine = sa.create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def _default_artifact_location(tracking_uri: str) -> str | None:
    """For a SQLite store, an `artifacts` folder beside the database file (so the store is one
    folder); otherwise None (the tracking server's default)."""
    if not tracking_uri.startswith(_SQLITE_PREFIX):
        return None
    database = Path(tracking_uri.removeprefix(_SQLITE_PREFIX)).resolve()
    return (database.parent / "artifacts").as_uri()


@contextmanager
def _fluent_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API (`start_run`, `pyfunc.log_model`, which take no tracking URI)
    at `uri` for the block, then restore the process's setting and `MLFLOW_TRACKING_URI`
    (which `mlflow.set_tracking_uri` rewrites). Not thread-safe: the setting is process-wide."""
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    previous = tracking_utils._tracking_uri
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        if previous is None:
            tracking_utils._tracking_uri = None
        else:
            mlflow.set_tracking_uri(previous)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env


class ModelRegistry:
    """The registered model `model_name` in the MLflow store at `tracking_uri` (also used as the
    registry URI), with runs logged to the experiment `experiment`.

    `artifact_location`: where the experiment stores artifacts when this class creates it
    (ignored for an existing experiment). Default: for `sqlite:///<dir>/<file>.db`,
    `<dir>/artifacts`; for other URIs the tracking server's default.

    `ui_url`: the MLflow UI's base URL, for the links to its pages (`Settings.mlflow_ui`).
    Default: the tracking URI when it is http(s) (without credentials), else `DEFAULT_UI`.

    The experiment is a model-development experiment (tag `mlflow.experimentKind`), set when
    this class creates it or first uses one without the tag.
    """

    def __init__(
        self,
        tracking_uri: str,
        model_name: str = "demand_forecaster",
        experiment: str = "forecastops",
        *,
        artifact_location: str | None = None,
        ui_url: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.experiment = experiment
        self.artifact_location = artifact_location or _default_artifact_location(tracking_uri)
        self.ui = MlflowUi(
            ui_url
            or (
                without_credentials(tracking_uri)
                if tracking_uri.startswith(_HTTP_SCHEMES)
                else DEFAULT_UI
            )
        )
        self._mlflow_client: MlflowClient | None = None

    # -- MLflow plumbing ------------------------------------------------------------------

    def check_reachable(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        """Raise `RegistryUnreachable` (naming the masked URI and the fix) unless the store
        answers within `timeout_s`: an http(s) server's `/health`, a database's `SELECT 1`.
        A SQLite file needs no server (MLflow creates it). Called before work that would
        otherwise be lost when the registration finds MLflow down."""
        uri = self.tracking_uri
        try:
            if uri.startswith(_HTTP_SCHEMES):
                _ask_health(uri, timeout_s)
            elif not uri.startswith(_SQLITE_PREFIX) and "://" in uri:
                _select_one(uri, timeout_s)
        except Exception as error:
            raise RegistryUnreachable(
                f"The MLflow store MLFLOW_TRACKING_URI={mask_url(uri)} did not answer within "
                f"{timeout_s:g} s ({type(error).__name__}: {error}). Start the tracking server "
                "or database, or correct MLFLOW_TRACKING_URI; nothing was trained or registered."
            ) from None

    def _client(self) -> MlflowClient:
        if self._mlflow_client is None:
            from mlflow import MlflowClient

            self._mlflow_client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._mlflow_client

    def _experiment_id(self, client: MlflowClient) -> str:
        from mlflow.exceptions import MlflowException

        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            if experiment.tags.get(EXPERIMENT_KIND_TAG) is None:  # created before the tag
                client.set_experiment_tag(
                    experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT
                )
            return str(experiment.experiment_id)
        try:
            return str(
                client.create_experiment(
                    self.experiment,
                    artifact_location=self.artifact_location,
                    tags={EXPERIMENT_KIND_TAG: MODEL_DEVELOPMENT},
                )
            )
        except MlflowException as error:  # created meanwhile by another process
            experiment = client.get_experiment_by_name(self.experiment)
            if experiment is None:
                raise error from None
            return str(experiment.experiment_id)

    def _ensure_registered_model(self, client: MlflowClient) -> None:
        from mlflow.exceptions import MlflowException

        try:
            client.get_registered_model(self.model_name)
        except MlflowException as error:
            if _error_code(error) != "RESOURCE_DOES_NOT_EXIST":
                raise
            try:
                client.create_registered_model(
                    self.model_name,
                    description=f"Daily demand forecaster (ForecastOps); aliases {CHAMPION} and "
                    f"{CHALLENGER}; alias history in the {HISTORY_TAG_PREFIX}* tags.",
                )
            except MlflowException as create_error:
                if _error_code(create_error) != "RESOURCE_ALREADY_EXISTS":
                    raise

    def _registered_model_or_none(self, client: MlflowClient) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return client.get_registered_model(self.model_name)
        except MlflowException as error:
            if _error_code(error) == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    @property
    def display_uri(self) -> str:
        """The tracking URI with its password masked: what messages, links and tags show."""
        return mask_url(self.tracking_uri)

    def version_url(self, version: str) -> str:
        """The version's page in the MLflow UI."""
        return self.ui.model_version(self.model_name, str(version))

    def version_pages(self, version: str) -> VersionPages:
        """The MLflow UI pages of `version`: it, its run, experiment and logged model.
        Raises `RegistryError` when the version or its run cannot be read."""
        client = self._client()
        try:
            model_version, run_id, experiment_id = _version_run(client, self.model_name, version)
        except Exception as error:
            raise RegistryError(
                f"Reading the run of version {version} of {self._where()} failed: {error}"
            ) from error
        return self._pages(str(version), experiment_id, run_id, _logged_model_id(model_version))

    def _pages(
        self, version: str, experiment_id: str, run_id: str, model_id: str | None
    ) -> VersionPages:
        return VersionPages(
            model_version=self.version_url(version),
            run=self.ui.run(experiment_id, run_id),
            experiment=self.ui.experiment(experiment_id),
            logged_model=self.ui.logged_model(experiment_id, model_id) if model_id else None,
        )

    def _where(self) -> str:
        return f"model {self.model_name!r} at {self.display_uri}"

    # -- registration ---------------------------------------------------------------------

    def register_challenger(
        self,
        model_dir: Path,
        *,
        params: Mapping[str, object],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        artifacts: Mapping[str, Path] = MappingProxyType({}),
        actor: str | None = None,
        logged_model_name: str = MODEL_ARTIFACT_NAME,
    ) -> RegisteredVersion:
        """Log and register the model in `model_dir`, then point `challenger` at it.

        Inputs: `model_dir` as `LightGBMForecaster.save(model_dir / 'model.txt')` wrote it (one
        booster file + its spec JSON); run `params` (values logged as text), `metrics` (floats),
        `tags` (logged on the run and set on the model version); `artifacts`: extra files or
        folders for the run, `name -> path`, logged under the run folder `name/` (plots, CSVs);
        `actor` of the alias move (default: the OS user); `logged_model_name`: the name of the
        MLflow logged model (`registry_tags.logged_model_name`, e.g. `lightgbm_tweedie_w120`).

        One MLflow run logs the params, metrics, tags and artifacts and the pyfunc model
        (`forecastops.stores.pyfunc_model.DemandForecastPyfunc`, with `model_dir` as its artifact,
        pinned requirements and a signature); a new version of `model_name` is created from it
        with the version tags `tags` + `artifact_sha256`; the run ends (FINISHED, or FAILED on
        an error, never left active); then `challenger` moves to the new version and the move
        is recorded.

        Raises `RegistryError` on any failure. Aliases are untouched until the last step: a
        failure before it leaves them exactly as they were (a version created before the
        failure is deleted again, best effort); a failure of the move itself is handled as in
        `move_alias` (the alias is put back; the complete, tagged version stays).
        """
        booster = find_booster(model_dir)
        for name, path in artifacts.items():
            if not path.exists():
                raise RegistryError(
                    f"Registering {self._where()} failed: artifact {name!r} at {path} does not "
                    "exist. Aliases were left unchanged."
                )
        sha256 = file_sha256(booster)
        run_id: str | None = None
        experiment_id = ""
        version: str | None = None
        model_id: str | None = None
        try:
            import mlflow

            from forecastops.domain.forecasters import LightGBMForecaster
            from forecastops.stores.pyfunc_model import (
                MODEL_DIR_ARTIFACT,
                DemandForecastPyfunc,
                model_signature,
            )

            signature = model_signature(LightGBMForecaster.load(booster))
            client = self._client()
            experiment_id = self._experiment_id(client)
            run_name = f"{self.model_name}-{_utc_now().strftime('%Y%m%dT%H%M%SZ')}"
            with (
                warnings.catch_warnings(),
                _fluent_tracking_uri(self.tracking_uri),
                mlflow.start_run(
                    experiment_id=experiment_id,
                    run_name=run_name,
                    tags={key: str(value) for key, value in tags.items()},
                    nested=mlflow.active_run() is not None,
                ) as run,
            ):
                run_id = run.info.run_id
                # The signature is given; an input example would be validated by loading the
                # model and predicting in-process, for nothing the signature does not say.
                warnings.filterwarnings("ignore", message=r".*An input example was not provided")
                mlflow.log_params({key: str(value) for key, value in params.items()})
                mlflow.log_metrics({key: float(value) for key, value in metrics.items()})
                for name, path in artifacts.items():
                    if path.is_dir():
                        client.log_artifacts(run_id, str(path), artifact_path=name)
                    else:
                        client.log_artifact(run_id, str(path), artifact_path=name)
                info = mlflow.pyfunc.log_model(
                    name=logged_model_name,
                    python_model=DemandForecastPyfunc(booster.name),
                    artifacts={MODEL_DIR_ARTIFACT: str(model_dir)},
                    pip_requirements=pinned_requirements(),
                    signature=signature,
                    uv_project_path=_uv_project_dir(),
                    metadata={"forecastops_version": _forecastops_version()},
                )
                self._ensure_registered_model(client)
                created = client.create_model_version(
                    self.model_name,
                    source=info.model_uri,
                    run_id=run_id,
                    tags={**{key: str(value) for key, value in tags.items()}, SHA256_TAG: sha256},
                    run_link=self.ui.run(experiment_id, run_id)
                    if self.tracking_uri.startswith(_HTTP_SCHEMES)
                    else None,
                    model_id=info.model_id,
                )
                model_id = info.model_id
                version = str(created.version)
                _link_logged_model(client, info.model_id, self.model_name, version)
        except Exception as error:
            cleanup = self._delete_version_quietly(version) if version is not None else ""
            raise RegistryError(
                f"Registering a new version of {self._where()} from {model_dir} failed "
                f"({type(error).__name__}: {error}). Aliases were left unchanged.{cleanup}"
                + (f" The MLflow run {run_id} is marked FAILED." if run_id else "")
            ) from error
        assert run_id is not None and version is not None
        self.move_alias(
            CHALLENGER,
            version,
            actor=actor or getpass.getuser(),
            reason=f"registered from MLflow run {run_id}",
        )
        return RegisteredVersion(
            version=version,
            run_id=run_id,
            model_uri=f"models:/{self.model_name}/{version}",
            pages=self._pages(version, experiment_id, run_id, model_id),
        )

    def _delete_version_quietly(self, version: str) -> str:
        """Delete a half-registered version; returns a sentence for the error message."""
        try:
            self._client().delete_model_version(self.model_name, version)
        except Exception as error:
            logger.warning(
                "Could not delete half-registered version %s: %s", version, mask_urls_in(str(error))
            )
            return (
                f" Version {version} was created but could not be deleted ({error}); it has no "
                "alias: delete it in the MLflow UI."
            )
        return f" The half-registered version {version} was deleted."

    # -- tags -----------------------------------------------------------------------------

    def version_tags(self, version: str) -> dict[str, str]:
        """The tags of model version `version`. Raises `RegistryError` if it does not exist."""
        try:
            model_version = self._client().get_model_version(self.model_name, str(version))
        except Exception as error:
            raise RegistryError(
                f"Reading the tags of version {version} of {self._where()} failed: {error}"
            ) from error
        return {str(key): str(value) for key, value in model_version.tags.items()}

    def set_version_tags(self, version: str, tags: Mapping[str, str]) -> None:
        """Set (add or overwrite) tags of model version `version`, e.g. backtest metrics once
        known. Raises `RegistryError` if the version does not exist or a write fails."""
        client = self._client()
        try:
            client.get_model_version(self.model_name, str(version))
            for key, value in tags.items():
                client.set_model_version_tag(self.model_name, str(version), key, str(value))
        except Exception as error:
            raise RegistryError(
                f"Setting tags {sorted(tags)} on version {version} of {self._where()} failed: "
                f"{error}. Aliases were left unchanged."
            ) from error

    def log_to_version_run(
        self,
        version: str,
        *,
        metrics: Mapping[str, float],
        artifacts: Mapping[str, Path] = MappingProxyType({}),
    ) -> dict[str, str]:
        """Add metrics and files (`name -> path`, logged under `name/`) to the MLflow run that
        produced `version`, e.g. its backtest results or the day's drift report. The metrics
        are also the logged model's (MLflow 3 `model_id`), so its page shows them.

        Returns `name -> the artifact's page in the MLflow UI`. Raises `RegistryError`."""
        client = self._client()
        try:
            model_version, run_id, experiment_id = _version_run(client, self.model_name, version)
            for key, value in metrics.items():
                client.log_metric(
                    run_id, key, float(value), model_id=_logged_model_id(model_version)
                )
            pages = {}
            for name, path in artifacts.items():
                client.log_artifact(run_id, str(path), artifact_path=name)
                pages[name] = self.ui.run_artifact(experiment_id, run_id, f"{name}/{path.name}")
        except Exception as error:
            raise RegistryError(
                f"Logging {sorted(metrics)} and {sorted(artifacts)} to the run of version "
                f"{version} of {self._where()} failed: {error}. Aliases were left unchanged."
            ) from error
        return pages

    # -- runs left behind -------------------------------------------------------------------

    def running_runs(self) -> list[dict[str, Any]]:
        """The experiment's MLflow runs still marked RUNNING: `{"run_id": str, "tags": {str:
        str}, "started": ISO 8601 UTC str}`, oldest first (none when there is no experiment)."""
        client = self._client()
        try:
            experiment = client.get_experiment_by_name(self.experiment)
            if experiment is None:
                return []
            runs = client.search_runs(
                [experiment.experiment_id],
                filter_string="attributes.status = 'RUNNING'",
                max_results=1000,
                order_by=["attributes.start_time ASC"],
            )
        except Exception as error:
            raise RegistryError(
                f"Listing the running runs of {self._where()} failed: {error}"
            ) from error
        return [
            {
                "run_id": run.info.run_id,
                "tags": dict(run.data.tags),
                "started": datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(),
            }
            for run in runs
        ]

    def fail_run(self, run_id: str) -> None:
        """End MLflow run `run_id` as FAILED (a run whose process died left it RUNNING)."""
        try:
            self._client().set_terminated(run_id, status="FAILED")
        except Exception as error:
            raise RegistryError(
                f"Marking run {run_id} of {self._where()} FAILED failed: {error}"
            ) from error

    def remove_alias(self, alias: str) -> None:
        """Take `alias` off whatever version it names (a no-op when it is not set). Not an
        `AliasMove` (a move names the version it goes to); the caller reports the removal."""
        if alias not in ALIASES:
            raise RegistryError(f"Unknown alias {alias!r}; {self.model_name} uses {list(ALIASES)}.")
        try:
            if self.alias_version(alias) is not None:
                self._client().delete_registered_model_alias(self.model_name, alias)
        except Exception as error:
            raise RegistryError(f"Removing {alias!r} of {self._where()} failed: {error}") from error

    # -- aliases --------------------------------------------------------------------------

    def alias_version(self, alias: str) -> str | None:
        """The version `alias` points at, or None when it is not set (or no model yet)."""
        try:
            model = self._registered_model_or_none(self._client())
        except Exception as error:
            raise RegistryError(
                f"Reading alias {alias!r} of {self._where()} failed: {error}"
            ) from error
        if model is None:
            return None
        version = model.aliases.get(alias)
        return None if version is None else str(version)

    def move_alias(self, alias: str, version: str, *, actor: str, reason: str) -> AliasMove:
        """Point `alias` (`champion` or `challenger`) at `version` and record the move.

        `actor`: who moves it (a user name, `dagster:<run_id>`); `reason`: why, in a sentence
        (cut to fit `HISTORY_TAG_MAX_CHARS` in the record). Raises `RegistryError`, with the
        alias where it was, when the alias is unknown, the version does not exist, or the
        move or its record fails (the alias is then put back).
        """
        from mlflow.exceptions import MlflowException

        version = str(version)
        if alias not in ALIASES:
            raise RegistryError(
                f"Unknown alias {alias!r}; {self.model_name} uses {list(ALIASES)}. "
                "Aliases were left unchanged."
            )
        client = self._client()
        try:
            client.get_model_version(self.model_name, version)
        except MlflowException as error:
            raise RegistryError(
                f"Cannot move {alias!r} of {self._where()} to version {version}: that version "
                f"does not exist or cannot be read ({error.message}). Aliases were left "
                "unchanged; ModelRegistry.versions() lists the versions there are."
            ) from error
        try:
            previous = self.alias_version(alias)
        except RegistryError as error:
            raise RegistryError(f"{error} Aliases were left unchanged.") from error
        try:
            client.set_registered_model_alias(self.model_name, alias, version)
        except Exception as error:
            raise RegistryError(
                f"Moving {alias!r} of {self._where()} to version {version} failed: {error}. "
                f"Aliases were left unchanged ({alias!r} -> {previous})."
            ) from error
        move = AliasMove(
            alias=alias,
            from_version=previous,
            to_version=version,
            actor=actor,
            reason=reason,
            moved_at=_utc_now().isoformat(timespec="microseconds"),
        )
        try:
            self._record(client, move)
        except Exception as error:
            try:
                if previous is None:
                    client.delete_registered_model_alias(self.model_name, alias)
                else:
                    client.set_registered_model_alias(self.model_name, alias, previous)
            except Exception as restore_error:
                raise RegistryError(
                    f"Recording the move of {alias!r} of {self._where()} to version {version} "
                    f"failed ({error}), and putting the alias back to {previous} failed too "
                    f"({restore_error}): {alias!r} now points at version {version} without a "
                    "history record. Set it back by hand in the MLflow UI."
                ) from error
            raise RegistryError(
                f"Recording the move of {alias!r} of {self._where()} to version {version} "
                f"failed: {error}. The alias was put back ({alias!r} -> {previous}); aliases "
                "are unchanged."
            ) from error
        logger.info("Moved %s of %s: %s -> %s", alias, self.model_name, previous, version)
        return move

    def _record(self, client: MlflowClient, move: AliasMove) -> None:
        """Write `move` as a history tag whose key is not taken yet."""
        model = client.get_registered_model(self.model_name)
        moved_at = datetime.fromisoformat(move.moved_at)
        key = _history_key(moved_at)
        while key in model.tags:
            moved_at += timedelta(microseconds=1)
            key = _history_key(moved_at)
        client.set_registered_model_tag(self.model_name, key, move.to_json())

    def history(self) -> list[AliasMove]:
        """Every recorded alias move of both aliases, oldest first. A history tag that is not
        a valid record (edited by hand) is skipped with a warning."""
        try:
            model = self._registered_model_or_none(self._client())
        except Exception as error:
            raise RegistryError(
                f"Reading the alias history of {self._where()} failed: {error}"
            ) from error
        if model is None:
            return []
        moves = []
        for key in sorted(k for k in model.tags if k.startswith(HISTORY_TAG_PREFIX)):
            try:
                moves.append(AliasMove.from_json(model.tags[key]))
            except (ValueError, KeyError, TypeError) as error:
                logger.warning("Skipping unreadable alias history tag %s: %s", key, error)
        return moves

    def previous_champion(self) -> str | None:
        """The version that was champion before the current one: the newest recorded champion
        move to a version other than the current champion (the rollback target), or None."""
        current = self.alias_version(CHAMPION)
        for move in reversed(self.history()):
            if move.alias == CHAMPION and move.to_version != current:
                return move.to_version
        return None

    def versions(self) -> list[dict[str, Any]]:
        """Every version, oldest first: `{"version": str, "aliases": [str], "tags": {str: str},
        "created": ISO 8601 UTC str, "run_id": str}`."""
        client = self._client()
        try:
            model = self._registered_model_or_none(client)
            if model is None:
                return []
            found: list[Any] = []
            page_token = None
            while True:
                page = client.search_model_versions(
                    f"name = '{self.model_name}'", page_token=page_token
                )
                found.extend(page)
                page_token = page.token
                if not page_token:
                    break
        except Exception as error:
            raise RegistryError(
                f"Listing the versions of {self._where()} failed: {error}"
            ) from error
        aliases: dict[str, list[str]] = {}
        for alias, version in model.aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        rows = [
            {
                "version": str(item.version),
                "aliases": sorted(aliases.get(str(item.version), [])),
                "tags": {str(key): str(value) for key, value in item.tags.items()},
                "created": datetime.fromtimestamp(item.creation_timestamp / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                "run_id": item.run_id,
            }
            for item in found
        ]
        return sorted(rows, key=lambda row: int(row["version"]))

    def version_registered_in(self, root_run_id: str) -> str | None:
        """The newest version a run of the re-execution chain `root_run_id` registered (tag
        `dagster_root_run_id`), or None. A retrain run's later steps (backtest, gate) work on
        this version, never on whatever the `challenger` alias names by then: a concurrent run
        may have moved it."""
        if not root_run_id.replace("-", "").isalnum():  # goes into a filter string
            raise ValueError(f"{root_run_id!r} is not a Dagster run id")
        client = self._client()
        try:
            found = client.search_model_versions(
                f"name = '{self.model_name}' and tags.{DAGSTER_ROOT_RUN_ID_TAG} = '{root_run_id}'"
            )
        except Exception as error:
            raise RegistryError(
                f"Finding the version run {root_run_id} registered in {self._where()} failed: "
                f"{error}"
            ) from error
        versions = [int(item.version) for item in found]
        if not versions:  # the run may have reused an existing version instead (`reuse_version`)
            return self.find_version({reused_in_tag(root_run_id): None}, newest=True)
        return str(max(versions))

    def find_version(self, tags: Mapping[str, str | None], *, newest: bool = False) -> str | None:
        """The oldest (`newest`: the newest) version whose tags equal every `tags` value (a None
        value: the tag is set, to anything), or None. Values must not hold quotes (they go into
        an MLflow filter string; ours are hashes, numbers and names)."""
        clauses = [f"name = '{self.model_name}'"]
        for key, value in tags.items():
            if any(mark in f"{key}{value}" for mark in ("'", "`", '"')):
                raise ValueError(f"Tag {key}={value!r} holds a quote; it cannot be searched for.")
            clauses.append(f"tags.`{key}` != ''" if value is None else f"tags.`{key}` = '{value}'")
        try:
            found = self._client().search_model_versions(" and ".join(clauses))
        except Exception as error:
            raise RegistryError(
                f"Searching {self._where()} for a version tagged {dict(tags)} failed: {error}"
            ) from error
        versions = [int(item.version) for item in found]
        if not versions:
            return None
        return str(max(versions) if newest else min(versions))

    def reuse_version(self, version: str, *, root_run_id: str, partition: str, actor: str) -> None:
        """Record that the run chain `root_run_id` (partition `partition`) reused `version`
        instead of registering a twin of it (tag `reused_in.<root_run_id>`, which
        `version_registered_in` finds), then point `challenger` at it. Raises `RegistryError`;
        on a failure of the tag the alias is left as it was."""
        self.set_version_tags(version, {reused_in_tag(root_run_id): partition})
        self.move_alias(
            CHALLENGER,
            version,
            actor=actor,
            reason=f"reused v{version} for partition {partition}: same training data and "
            "configuration, so no twin was registered",
        )

    # -- loading --------------------------------------------------------------------------

    def resolve(self, alias_or_version: str) -> str:
        """The version number `alias_or_version` names (digits: a version; else an alias).
        Raises `RegistryError` when the alias is not set."""
        text = str(alias_or_version)
        if text.isdigit():
            return text
        version = self.alias_version(text)
        if version is None:
            raise RegistryError(
                f"Alias {text!r} of {self._where()} is not set; register a challenger first "
                "(or name a version number)."
            )
        return version

    def download(self, alias_or_version: str, folder: Path) -> Path:
        """Download the MLflow model of a version (a version number or an alias) into `folder`
        and return its local path: `MLmodel`, the requirements files and `artifacts/<name of
        the model folder>/` with the booster and its spec. Raises `RegistryError`.

        The version's storage location is resolved first, because MLflow resolves `models:/`
        URIs against the process-wide registry URI only (it ignores a `registry_uri` argument).
        """
        version = self.resolve(alias_or_version)
        try:
            import mlflow

            location = self._client().get_model_version_download_uri(self.model_name, version)
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=str(folder), tracking_uri=self.tracking_uri
            )
        except Exception as error:
            raise RegistryError(
                f"Downloading version {version} of {self._where()} failed: {error}"
            ) from error
        return Path(local)

    def load_forecaster(self, alias_or_version: str) -> LightGBMForecaster:
        """The `LightGBMForecaster` of a version (a version number or an alias): its artifacts
        are downloaded to a temporary folder and loaded with `LightGBMForecaster.load` through
        the pyfunc wrapper (the same path as `mlflow.pyfunc.load_model`).

        Raises `RegistryError` when the version or alias does not exist or loading fails."""
        version = self.resolve(alias_or_version)
        try:
            import mlflow

            from forecastops.stores.pyfunc_model import DemandForecastPyfunc

            with tempfile.TemporaryDirectory(prefix="forecastops-model-") as folder:
                local = self.download(version, Path(folder))
                wrapper = mlflow.pyfunc.load_model(str(local)).unwrap_python_model()
        except RegistryError:
            raise
        except Exception as error:
            raise RegistryError(
                f"Loading version {version} of {self._where()} failed: {error}"
            ) from error
        if not isinstance(wrapper, DemandForecastPyfunc) or wrapper.forecaster is None:
            raise RegistryError(
                f"Version {version} of {self._where()} is not a ForecastOps LightGBM model "
                f"(its pyfunc is {type(wrapper).__name__})."
            )
        return wrapper.forecaster


def _logged_model_id(model_version: Any) -> str | None:
    """The id of the logged model a version was registered from, or None (a version made from
    a run artifact). MLflow's SQL registry does not keep `model_id`; the version's `source`,
    `models:/<model_id>` (`register_challenger` registers the logged model's URI), carries it."""
    if model_version.model_id:
        return str(model_version.model_id)
    rest = str(model_version.source or "").removeprefix("models:/")
    is_model_id = str(model_version.source or "").startswith("models:/") and "/" not in rest
    return rest if is_model_id and rest else None


def _link_logged_model(client: MlflowClient, model_id: str, name: str, version: str) -> None:
    """Tag the logged model with its registered version, as `mlflow.register_model` does (the
    MLflow UI links the two through it). Best effort: the version is complete without it."""
    from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

    try:
        existing = client.get_logged_model(model_id).tags.get(MLFLOW_MODEL_VERSIONS)
        linked = [*(json.loads(existing) if existing else []), {"name": name, "version": version}]
        client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(linked)})
    except Exception as error:
        logger.warning(
            "Could not link logged model %s to version %s: %s",
            model_id,
            version,
            mask_urls_in(str(error)),
        )


def _uv_project_dir() -> str | None:
    """The source checkout holding `uv.lock` and `pyproject.toml` (logged with the model, for
    the exact environment), so that what is logged does not depend on the current directory;
    None when forecastops is installed from a wheel (MLflow then looks in the current
    directory)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "uv.lock").is_file() and (root / "pyproject.toml").is_file():
        return str(root)
    return None


def _version_run(client: Any, model_name: str, version: str) -> tuple[Any, str, str]:
    """(the model version, its MLflow run id, the run's experiment id); raises when the
    version has no run."""
    model_version = client.get_model_version(model_name, str(version))
    run_id = model_version.run_id
    if run_id is None:
        raise ValueError("the version has no MLflow run")
    return model_version, run_id, str(client.get_run(run_id).info.experiment_id)
