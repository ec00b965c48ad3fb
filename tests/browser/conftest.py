"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, over the whole local stack.

Chromium comes from Debian (`make chromium` installs it; Playwright never downloads a browser
here). Without one the tests skip, saying so. Every page fails its test on a console error or an
uncaught exception.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from tests.browser.browser import CHROMIUM_ARGS, Watched, find_chromium
from tests.browser.stack import RunningStack, running_stack

_databases = itertools.count()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no Chromium found (looked for $CRADLE_CHROMIUM, chromium, chromium-browser): "
            "`make chromium` installs Debian's package (apt-get install chromium)"
        )
    return path


@pytest.fixture(scope="session")
def playwright_browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(postgres: EmbeddedPostgres, migrated_template: str, chromium_path: str) -> Iterator[RunningStack]:
    name = f"browser_{os.getpid()}_{next(_databases)}"
    url = postgres.create_database(name, template=migrated_template)
    state = Path(tempfile.mkdtemp(prefix="cradle-browser-"))
    try:
        with running_stack(url, state) as running:
            yield running
    finally:
        postgres.drop_database(name)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def open_page(playwright_browser: object, stack: RunningStack) -> Iterator[object]:
    """open_page() → a fresh context (its own sessionStorage) at 1280×800, watched for errors."""
    opened: list[Watched] = []

    def open_() -> Watched:
        watched = Watched.open(playwright_browser, stack.base_url)
        opened.append(watched)
        return watched

    yield open_
    problems = [p for w in opened for p in w.problems]
    for watched in opened:
        watched.close()
    assert not problems, "the page logged errors:\n" + "\n".join(problems)
