"""Chromium for the browser tests and the screenshots: where it is, how it starts, what it must not log."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page

# The machine has no internet: without these Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}


def find_chromium() -> str | None:
    """$CRADLE_CHROMIUM, else Debian's chromium (or chromium-browser) on the PATH."""
    configured = os.environ.get("CRADLE_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Watched:
    """A page in a context of its own, recording console errors and uncaught exceptions."""

    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Any, base_url: str) -> Watched:
        assert isinstance(browser, Browser)
        context = browser.new_context(viewport=VIEWPORT, base_url=base_url)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        page = context.new_page()
        watched = cls(context, page)
        page.on("console", watched._console)
        page.on("pageerror", watched._page_error)
        return watched

    def allow(self, fragment: str) -> None:
        """Tolerate console errors containing `fragment` (a status the test provokes on purpose)."""
        self.allowed.append(fragment)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "assert") and not any(a in message.text for a in self.allowed):
            self.problems.append(f"console.{message.type}: {message.text} ({message.location})")

    def _page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught: {error.name}: {error.message}")

    def close(self) -> None:
        self.context.close()
