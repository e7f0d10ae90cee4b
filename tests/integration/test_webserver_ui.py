"""The Dagster UI an operator opens, checked in a real headless browser.

`dagster-webserver` serves a FORECASTOPS_HOME where the pipeline ran for a small simulated
retailer; Debian's chromium, driven by Playwright, reads the pages. Each test saves a screenshot
in its tmp folder; `UPDATE_SCREENSHOTS=1` also copies them into docs/screenshots/ (review them
before committing). The selectors follow Dagster 1.13's UI.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pytest

from forecast_jobs.definitions import build_definitions
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.stores.settings import Settings
from tests.dagster.pipeline import SMALL_CYCLE, small_cycle_env
from tests.integration.helpers import (
    REPO_ROOT,
    answers,
    free_port,
    isolated_env,
    log_tail,
    running,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2025, 5, 10)
STARTUP_DEADLINE_S = 180
UI_TIMEOUT_MS = 60_000
NUX_DELAY_MS = 3_000
"""How long to wait for the community dialog, which the UI opens 1 s after the page loads."""

ASSETS_BY_GROUP = {
    "ingest": ["raw_sales", "sales_quality_report"],
    "model": [
        "sales_features",
        "challenger_model",
        "backtest",
        "promotion_decision",
        "forecasts",
        "champion_backtest",
    ],
    "monitoring": ["drift_score", "experiments", "model_health", "open_alerts"],
}
SCHEDULES = ["daily_cycle_schedule", "daily_ingest_schedule", "weekly_backtest_schedule"]
SENSORS = [
    "drift_retrain_sensor",
    "repair_sensor",
    "run_failure_alerts",
    "alert_notifier",
    "champion_health_refresh",
    "open_alerts_refresh",
]


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; `make browser` installs Debian's chromium (as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def materialized_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FORECASTOPS_HOME after ingesting 130 days and one daily cycle on the last of them."""
    home = tmp_path_factory.mktemp("ui-home")
    settings = Settings(home=home, **SMALL_CYCLE)
    write_landing_files(
        SimulationSpec(start=FIRST_DAY, end=LAST_DAY, stores=2, products=4, seed=3),
        settings.landing_path,
    )
    dagster_home = isolated_env(home)["DAGSTER_HOME"]
    defs = build_definitions(settings)
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        ingest = execute_partition_range(
            defs.resolve_job_def("ingest_job"), FIRST_DAY, LAST_DAY - timedelta(days=1), instance
        )
        cycle = defs.resolve_job_def("daily_cycle_job").execute_in_process(
            instance=instance, partition_key=LAST_DAY.isoformat()
        )
    assert ingest.success and cycle.success
    return home


@pytest.fixture(scope="module")
def webserver(materialized_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dagster-webserver` on a free port of 127.0.0.1; yields its base URL once it answers."""
    env = isolated_env(materialized_home, **small_cycle_env())
    port = free_port()
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    command = ["dagster-webserver", "-w", str(REPO_ROOT / "workspace.yaml")]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    with running(command, env, log, cwd=materialized_home) as process:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not answers(f"{url}/server_info"):
            assert process.poll() is None, f"dagster-webserver exited:\n{log_tail(log)}"
            assert time.monotonic() < deadline, (
                f"dagster-webserver never answered:\n{log_tail(log)}"
            )
            time.sleep(1)
        yield url


@pytest.fixture(scope="module")
def browser_page(chromium: Path, webserver: str) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=webserver, viewport={"width": 1440, "height": 900})
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield page
        finally:
            browser.close()


def _open(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")


def _wait_for_text(page: Page, text: str) -> None:
    """Wait until `text` is shown as a whole (Dagster also renders hidden copies of names to
    measure them)."""
    page.get_by_text(text, exact=True).filter(visible=True).first.wait_for()


def _screenshot(page: Page, name: str, tmp_path: Path) -> None:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / shot.name)


def test_the_first_visit_community_dialog_never_opens(browser_page: Page) -> None:
    """The project's dagster.yaml turns Dagster's `nux` off, so a fresh DAGSTER_HOME (no
    `.nux/nux.yaml`) and a fresh browser (nothing in localStorage) get no dialog: the UI asks
    `shouldShowNux` and, when true, opens it a second later over whatever page is open."""
    page = browser_page
    answer = page.request.post("/graphql", data={"query": "{ shouldShowNux }"}).json()
    assert answer == {"data": {"shouldShowNux": False}}
    _open(page, "/assets")
    page.wait_for_timeout(NUX_DELAY_MS)
    assert not page.get_by_text("Join the Dagster community").is_visible()
    assert not page.get_by_role("dialog").is_visible()


def test_the_lineage_lists_every_asset_in_its_group(browser_page: Page, tmp_path: Path) -> None:
    page = browser_page
    _open(page, "/asset-groups")
    for group, assets in ASSETS_BY_GROUP.items():
        # Expand the group in the sidebar tree (its arrow sits beside the group's name).
        name = page.locator(f"span:text-is('{group}')").first
        row = name.locator("xpath=ancestor::*[.//*[@aria-label='arrow_drop_down']][1]")
        row.locator("[aria-label='arrow_drop_down']").first.click()
        for asset in assets:
            _wait_for_text(page, asset)
    page.get_by_text("fetching statuses").first.wait_for(state="hidden")
    _screenshot(page, "asset-lineage", tmp_path)


def test_the_catalog_lists_every_asset(browser_page: Page) -> None:
    page = browser_page
    _open(page, "/assets")
    for asset in [a for assets in ASSETS_BY_GROUP.values() for a in assets]:
        page.locator(f"a[href='/assets/{asset}']").filter(visible=True).first.wait_for()


def test_the_quality_report_page_shows_the_days_table(browser_page: Page, tmp_path: Path) -> None:
    page = browser_page
    _open(page, "/assets/sales_quality_report")
    days = page.locator("tr", has=page.locator("span:text-is('days')")).first
    table = days.locator("table").first
    table.wait_for(state="visible")
    headers = table.locator("th").all_inner_texts()
    assert {"date", "row_count", "row_count_ratio", "zero_sales_share"} <= set(headers)
    assert LAST_DAY.isoformat() in table.locator("td").all_inner_texts()
    page.get_by_text("Metadata", exact=True).first.scroll_into_view_if_needed()
    _screenshot(page, "asset-sales-quality-report", tmp_path)


def test_the_backtest_page_shows_its_plot(browser_page: Page, tmp_path: Path) -> None:
    page = browser_page
    _open(page, "/assets/backtest")
    page.locator("tr", has=page.locator("span:text-is('ranking')")).first.wait_for()
    plot = page.locator("tr", has=page.locator("span:text-is('plot')")).first
    plot.get_by_text("[Show Markdown]").click()
    image = page.get_by_role("dialog").get_by_role("img", name="backtest")
    image.wait_for(state="visible")
    width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > 0 and height > 0, "the backtest plot did not load"
    _screenshot(page, "asset-backtest-plot", tmp_path)
    page.get_by_role("button", name="Close").click()


@pytest.mark.parametrize(
    ("kind", "names"),
    [("schedules", SCHEDULES), ("sensors", SENSORS)],
    ids=["schedules", "sensors"],
)
def test_the_code_location_lists_our_automation(
    browser_page: Page, kind: str, names: list[str]
) -> None:
    page = browser_page
    _open(page, f"/locations/forecastops/{kind}")
    for name in names:
        _wait_for_text(page, name)


def test_the_automation_page_shows_schedules_and_sensors(
    browser_page: Page, tmp_path: Path
) -> None:
    page = browser_page
    _open(page, "/automation")
    for name in SCHEDULES + SENSORS:
        _wait_for_text(page, name)
    page.get_by_text("Scheduled At 06:00 AM UTC").first.wait_for()
    _screenshot(page, "automation", tmp_path)
