"""End to end in a real browser: Debian's chromium, driven by Selenium through its
chromium-driver, against a real ``mig serve`` subprocess on a copy of the bundled example.
Screenshots go to ``artifacts/screenshots/`` (or ``MIG_SCREENSHOTS``) for CI to keep.

Skipped when chromium, chromium-driver or selenium is missing, unless MIG_REQUIRE_SERVERS=1
(as in CI), where that is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mig.testing import REQUIRE_SERVERS_ENV, Project
from web_helpers import EXAMPLE_CONFIG, TOKEN

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _missing() -> str | None:
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        return ("chromium or chromium-driver is not installed"
                " (apt-get install -y chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    problem = _missing()
    if problem:
        if os.environ.get(REQUIRE_SERVERS_ENV) == "1":
            pytest.fail(f"browser tests required ({REQUIRE_SERVERS_ENV}=1): {problem}")
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    folder = Path(os.environ.get("MIG_SCREENSHOTS")
                  or Path(request.config.rootpath) / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def served(example: Project) -> Iterator[str]:
    """``mig serve`` in a subprocess on the example; its printed URL."""
    proc = example.popen("serve", "--port", "0", env={"MIG_WEB_TOKEN": TOKEN})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "http://" not in line:
            proc.kill()
            raise AssertionError(f"mig serve printed {line!r}; stderr: {proc.stderr.read()}")
        url = line.split(": ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/?token={TOKEN}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_job(driver: Any) -> str:
    """Wait for the action's progress stream to end; its outcome ("ok" or "failed")."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The page re-renders as the stream ends: an element found just before is then stale,
    # which means "look again", not a failure.
    WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-job-done")
        or d.find_element("id", "state").text in ("done", "FAILED"))
    return "ok" if driver.find_element("id", "state").text == "done" else "failed"


def test_a_user_browses_rolls_back_and_restores(
        browser: Any, served: str, example: Project, screenshots: Path) -> None:
    d = browser
    d.get(served)
    assert d.current_url.endswith("/")  # the token went into a cookie
    assert d.find_element("id", "count-applied").text == "5"
    assert TOKEN not in d.page_source
    d.save_screenshot(str(screenshots / "01-status.png"))

    d.find_element("id", "nav-history").click()
    rows = d.find_elements("css selector", "#history tbody tr.op-apply")
    assert len(rows) >= 5, "the history table is empty"
    d.save_screenshot(str(screenshots / "02-history.png"))

    d.find_element("id", "nav-graph").click()
    nodes = d.find_elements("css selector", "#graph svg a.node")
    assert len(nodes) == 5, "the graph SVG has no nodes"
    assert all("applied" in n.get_attribute("class") for n in nodes)
    d.save_screenshot(str(screenshots / "03-graph.png"))

    nodes[2].click()  # a migration's UP and DOWN, highlighted
    assert d.find_elements("css selector", "#up .sql span")
    d.save_screenshot(str(screenshots / "04-migration.png"))

    # Roll back the newest migration from the status page, confirming like the CLI.
    d.find_element("id", "nav-status").click()
    d.find_element("id", "rollback-005_add_user_preferences").click()
    assert "005_add_user_preferences" in d.find_element("id", "rollback-plan").text
    boxes = d.find_elements("id", "confirm")
    if boxes:
        boxes[0].click()
    d.save_screenshot(str(screenshots / "05-rollback-plan.png"))
    d.find_element("id", "do-rollback").click()
    assert wait_job(d) == "ok", d.find_element("id", "log").text
    assert "rollback of 005_add_user_preferences" in d.find_element("id", "log").text
    d.save_screenshot(str(screenshots / "06-rollback-done.png"))
    assert "005_add_user_preferences" not in example.applied()

    # Restore the backup taken before 004 from the backups page.
    d.find_element("id", "nav-backups").click()
    d.save_screenshot(str(screenshots / "07-backups.png"))
    before_004 = [r for r in d.find_elements("css selector", "#backups tbody tr")
                  if "004_create_trades_table" in r.text]
    assert before_004, "no backup before 004 listed"
    before_004[0].find_element("link text", "Restore…").click()
    assert "it undoes: 004_create_trades_table" in d.find_element("id", "data-loss").text
    d.find_element("id", "confirm").click()
    d.find_element("id", "do-restore").click()
    assert wait_job(d) == "ok", d.find_element("id", "log").text
    d.save_screenshot(str(screenshots / "08-restore-done.png"))
    assert example.applied() == ["001_create_users_table", "002_create_portfolio_table",
                                 "003_create_orders_table"]
    d.find_element("id", "nav-history").click()
    assert "web:" in d.find_element("id", "history").text  # who did it
    d.save_screenshot(str(screenshots / "09-history-after.png"))
    d.find_element("id", "nav-status").click()
    assert d.find_element("id", "count-applied").text == "3"
    d.save_screenshot(str(screenshots / "10-status-after.png"))


__all__ = ["EXAMPLE_CONFIG"]
