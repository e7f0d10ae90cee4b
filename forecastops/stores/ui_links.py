"""The addresses of the pages an operator opens in the MLflow and Dagster UIs: the one place
that knows their shapes. Asset metadata (`dagster.MetadataValue.url`) and alert links are built
here from the UIs' base URLs (`Settings.mlflow_ui`, `Settings.dagster_ui`).

The shapes are the routes of the installed UIs, not guesses:

- MLflow 3 (`mlflow/server/js`, a hash router): `#/experiments/<id>`,
  `#/experiments/<id>/runs/<run_id>`, `#/experiments/<id>/runs/<run_id>/artifacts/<path>`,
  `#/experiments/<id>/models/<logged_model_id>` and `#/models/<name>/versions/<v>` (the
  registered model's name URL-encoded, as the UI's own links encode it).
- Dagster (`dagster_webserver/webapp`): `/runs/<run_id>` and
  `/assets/<key path>?view=partitions&partition=<key>`.

Every MLflow link carries `?workflowType=machine_learning`. The MLflow 3 UI shows an experiment
either as GenAI (traces, token usage) or as machine learning (runs, models, metrics); it takes
the mode from that query parameter, else from the browser's last choice, else GenAI, whatever
the experiment's `mlflow.experimentKind` tag says (see docs/decisions/0018-mlflow-ui-links.md).

Pure string building: nothing here talks to a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

MLFLOW_WORKFLOW = urlencode({"workflowType": "machine_learning"})
"""The query that opens an MLflow page in the machine-learning (not GenAI) mode."""


def without_credentials(url: str) -> str:
    """`url` without its `user:password@` part, and without a trailing slash: a base URL a
    browser can open (it asks for the credentials itself); no secret can leak through it."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)).rstrip("/")


@dataclass(frozen=True)
class MlflowUi:
    """Pages of the MLflow UI at `base` (`http(s)://host[:port][/prefix]`)."""

    base: str

    def _page(self, route: str) -> str:
        return f"{self.base.rstrip('/')}/#/{route}?{MLFLOW_WORKFLOW}"

    def experiment(self, experiment_id: str) -> str:
        """The experiment's runs."""
        return self._page(f"experiments/{experiment_id}")

    def run(self, experiment_id: str, run_id: str) -> str:
        """A run's page: parameters, metrics, tags, artifacts."""
        return self._page(f"experiments/{experiment_id}/runs/{run_id}")

    def run_artifact(self, experiment_id: str, run_id: str, path: str) -> str:
        """One artifact of a run, opened in the run's artifact browser (`path` as logged,
        e.g. `drift/drift_2025-03-01.html`)."""
        return self._page(f"experiments/{experiment_id}/runs/{run_id}/artifacts/{path}")

    def logged_model(self, experiment_id: str, model_id: str) -> str:
        """A logged model's page (MLflow 3): its metrics, parameters and registered versions."""
        return self._page(f"experiments/{experiment_id}/models/{model_id}")

    def model_version(self, model_name: str, version: str) -> str:
        """A registered model version's page: its aliases, tags and source run."""
        return self._page(f"models/{quote(model_name, safe='')}/versions/{version}")


@dataclass(frozen=True)
class DagsterUi:
    """Pages of the Dagster UI at `base` (`http(s)://host[:port][/prefix]`)."""

    base: str

    def run(self, run_id: str) -> str:
        """A run's page: its steps, logs and the failure's stack trace."""
        return f"{self.base.rstrip('/')}/runs/{run_id}"

    def asset(self, asset: str, partition: str | None = None) -> str:
        """An asset's page (`asset`: its key, path parts joined by `/`); with `partition`, that
        partition's materializations and checks."""
        path = "/".join(quote(part, safe="") for part in asset.split("/"))
        url = f"{self.base.rstrip('/')}/assets/{path}"
        if partition is None:
            return url
        return f"{url}?{urlencode({'view': 'partitions', 'partition': partition})}"
