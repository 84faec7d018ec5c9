"""A browser journey in Debian's headless Chromium (Selenium): a site data manager logs in and sees the patients.

The app is served by Django's threaded WSGI server on a free loopback port, on the test's registry (SQLite only:
the PostgreSQL half of the authorisation is covered by the test-client tests). ``CARTALYSIS_SCREENSHOTS=DIR``
keeps the screenshots for looking at them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from registry_builders import WEB_PASSWORD as PASSWORD

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def live_url(web):
    if web["db"].backend != "sqlite":
        pytest.skip("browser journey runs on SQLite only (isolation on PostgreSQL: test_authorisation)")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium or chromedriver is not installed (/usr/bin/chromium, /usr/bin/chromedriver)")
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cartalysis-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _shot(driver, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 1000
    if os.environ.get("CARTALYSIS_SCREENSHOTS"):
        keep = Path(os.environ["CARTALYSIS_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, keep / path.name)


def test_site_manager_logs_in_and_sees_the_patients(live_url, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(live_url + "/")
    assert "/login/" in browser.current_url
    _shot(browser, tmp_path, "login")
    browser.find_element(By.ID, "id_username").send_keys("dm1")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    assert browser.current_url.endswith("/patients/")
    ids = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#patients tbody td:first-child a")]
    assert ids == ["P01", "P02", "P05"]  # site S1 only
    _shot(browser, tmp_path, "patients")
    browser.find_element(By.LINK_TEXT, "P01").click()
    assert "Patient P01" in browser.find_element(By.TAG_NAME, "h1").text
    _shot(browser, tmp_path, "patient")
    browser.find_element(By.CSS_SELECTOR, "header form button").click()
    assert "/login/" in browser.current_url
