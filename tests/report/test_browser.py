"""Open report.html in headless Chromium (Selenium): sections, embedded images, no console errors.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skips with the reason otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium not available (install Debian packages chromium and chromium-driver, as .ci/run does)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _open(browser, report: Path) -> list[dict]:
    browser.get(report.resolve().as_uri())
    return browser.get_log("browser")


def test_report_renders_in_chromium(browser, pivotal_report):
    from selenium.webdriver.common.by import By

    logs = _open(browser, pivotal_report / "report.html")
    errors = [e for e in logs if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    ids = [s.get_attribute("id") for s in browser.find_elements(By.TAG_NAME, "section")]
    assert ids == ["disposition", "baseline", "response", "tte", "regression", "safety", "pk", "swimmer",
                   "provenance"]
    toc = [a.get_attribute("hash") for a in browser.find_elements(By.CSS_SELECTOR, "nav#toc a")]
    assert toc == [f"#{i}" for i in ids]
    imgs = browser.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(imgs) >= 9
    for img in imgs:
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        # decoded and laid out: a broken image has naturalWidth 0
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 300
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.results")) >= 10
    assert "Inaticabtagene" in browser.title


def test_bare_report_renders(browser, bare_report):
    from selenium.webdriver.common.by import By

    logs = _open(browser, bare_report / "report.html")
    assert not [e for e in logs if e["level"] in ("SEVERE", "ERROR")]
    assert "No cellular-kinetics samples in pk.csv" in browser.find_element(By.ID, "pk").text
