"""The one owner of URL masking (`forecastops.domain.secrets`), and the places that show a URL
through it: registry messages and links, `status`, alert rows, doctor, settings errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecastops.domain.secrets import mask_url, mask_urls_in

PASSWORD = "pa55-W0rd"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql+psycopg2://postgres:{PASSWORD}@127.0.0.1:5432/mlflow",
            "postgresql+psycopg2://postgres:***@127.0.0.1:5432/mlflow",
        ),
        (f"postgresql://:{PASSWORD}@db/x", "postgresql://:***@db/x"),
        (f"https://ops:{PASSWORD}@mlflow.example.com/", "https://ops:***@mlflow.example.com/"),
        # unescaped `@` and `/` in a password (SQLAlchemy accepts both): masked whole
        ("postgresql://app:a@b/c@db:5432/x", "postgresql://app:***@db:5432/x"),
        (f"postgresql://app@db/x?sslmode=require&password={PASSWORD}", None),
        ("postgresql://app@db:5432/x", "postgresql://app@db:5432/x"),
        ("sqlite:////var/lib/forecastops/alerts.db", "sqlite:////var/lib/forecastops/alerts.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("postgresql://app:***@db/x", "postgresql://app:***@db/x"),
    ],
)
def test_mask_url_hides_the_password_and_keeps_the_rest(url: str, shown: str | None) -> None:
    masked = mask_url(url)
    assert PASSWORD not in masked and "a@b/c" not in masked
    if shown is not None:
        assert masked == shown
    else:
        assert masked.endswith("password=***")


def test_mask_urls_in_masks_every_url_of_a_message() -> None:
    message = (
        f"Could not reach 'postgresql+psycopg2://postgres:{PASSWORD}@127.0.0.1:5432/db' "
        f"nor https://u:{PASSWORD}@host/x.\nSee http://127.0.0.1:3000/runs/abc (no password)."
    )
    masked = mask_urls_in(message)
    assert PASSWORD not in masked
    assert "'postgresql+psycopg2://postgres:***@127.0.0.1:5432/db'" in masked
    assert "https://u:***@host/x." in masked
    assert masked.endswith("See http://127.0.0.1:3000/runs/abc (no password).")


def test_the_registry_shows_only_the_masked_uri(tmp_path: Path) -> None:
    from forecastops.stores.registry import ModelRegistry, RegistryError

    uri = f"postgresql+psycopg2://postgres:{PASSWORD}@127.0.0.1:5432/mlflow"
    registry = ModelRegistry(uri, "demand_forecaster")
    shown = [
        registry.display_uri,
        str(RegistryError(f"Reading alias 'champion' of {uri} failed")),
    ]
    assert all(PASSWORD not in text and "postgres:***@" in text for text in shown), shown
    # A UI link has no user part at all: a masked one would make the browser send "***".
    http = ModelRegistry(f"https://ops:{PASSWORD}@mlflow.example.com", "m")
    assert http.version_url("3") == (
        "https://mlflow.example.com/#/models/m/versions/3?workflowType=machine_learning"
    )
    assert PASSWORD not in registry.version_url("3")


def test_an_alert_never_stores_a_password(tmp_path: Path) -> None:
    from forecastops.stores.alerts.store import AlertStore

    with AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}") as store:
        store.create_schema()
        alert = store.raise_alert(
            type="run_failure",
            severity="critical",
            title=f"failed at postgresql://app:{PASSWORD}@db/x",
            message=f"RegistryError: could not reach postgresql://app:{PASSWORD}@db/x",
            links=[{"label": "MLflow", "url": f"https://ops:{PASSWORD}@mlflow/#/models/m"}],
        )
        dismissed = store.dismiss(alert.id, "ops", notes=f"fixed postgresql://a:{PASSWORD}@db/x")
        stored = store.get(alert.id)
    text = repr(stored) + repr(dismissed)
    assert PASSWORD not in text
    assert "postgresql://app:***@db/x" in stored.message
    assert stored.links[0].url == "https://ops:***@mlflow/#/models/m"


def test_a_bad_alert_store_url_is_named_masked() -> None:
    from forecastops.stores.alerts.identity import AlertStoreConfigError
    from forecastops.stores.alerts.store import AlertStore

    with pytest.raises(AlertStoreConfigError) as raised:
        AlertStore(f"mysql://app:{PASSWORD}@db/x")
    assert PASSWORD not in str(raised.value) and "app:***@db" in str(raised.value)


def test_a_settings_error_never_quotes_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from forecastops.stores.settings import SettingsError, load_settings

    monkeypatch.setenv("DAGSTER_PG_URL", f"postgresql+psycopg2://postgres:{PASSWORD}@db/d")
    monkeypatch.setenv("FORECASTOPS_WEBSERVER_PORT", f"http://x:{PASSWORD}@y")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "FORECASTOPS_WEBSERVER_PORT" in str(raised.value)
    assert PASSWORD not in str(raised.value)


def test_doctor_masks_a_tracking_server_it_cannot_reach() -> None:
    from forecastops.ops.doctor import _check_mlflow_server

    verdict = _check_mlflow_server(f"http://ops:{PASSWORD}@127.0.0.1:9")
    assert not verdict.healthy
    assert PASSWORD not in verdict.line and "ops:***@127.0.0.1:9" in verdict.line


def test_the_settings_repr_masks_every_url(tmp_path: Path) -> None:
    from forecastops.stores.settings import Settings

    settings = Settings(
        home=tmp_path,
        mlflow_tracking_uri=f"postgresql+psycopg2://postgres:{PASSWORD}@db:5432/mlflow",
        alerts_db_url=f"postgresql://postgres:{PASSWORD}@db:5432/alerts",
    )
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert "postgres:***@db:5432/mlflow" in repr(settings)
    assert PASSWORD in settings.mlflow_uri  # the value itself is untouched
