"""A real Streamlit server and a real Chromium for the browser tests.

Chromium comes from the system (`apt-get install chromium`, at /usr/bin/chromium or
$CHROMIUM); without it these tests are skipped, unless ENCDEC_REQUIRE_BROWSER=1 (CI sets it),
in which case they fail.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from bench.chromium import CHROMIUM, FLAGS, ROOT, Server  # noqa: F401 - ROOT and Server are used by the tests

SHOTS = Path(os.environ.get("ENCDEC_SCREENSHOTS") or tempfile.mkdtemp(prefix="encdec-shots-"))  # docs/screenshots to refresh them


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("e2e-home"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("ENCDEC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium is not installed at {CHROMIUM}; install it (apt-get install chromium).")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()
