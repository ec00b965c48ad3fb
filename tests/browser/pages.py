"""What a person does in the web UI, as steps the browser tests share (and the screenshots script)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.stack import PASSWORD

# The canvas fits the image with this margin on each side (web/js/keypoints/canvas.js, fit()).
FIT_MARGIN = 24


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/#/signin")
    page.get_by_label("User name or e-mail").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#topbar")).to_be_visible()


def sign_up(page: Page, username: str, role: str = "ANNOTATOR", password: str = PASSWORD) -> None:
    page.goto("/#/signup")
    page.get_by_label("User name").fill(username)
    page.get_by_label("E-mail").fill(f"{username}@example.org")
    page.get_by_label("Password").fill(password)
    page.get_by_label("I will work as").select_option(role)
    page.get_by_role("button", name="Create account").click()


def keypoint_on_screen(page: Page, image_size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    """Where the canvas draws image pixel (x, y) while the image is fitted (as it is when it opens)."""
    box = page.locator(".bench-canvas canvas").bounding_box()
    assert box is not None
    width, height = image_size
    scale = min((box["width"] - 2 * FIT_MARGIN) / width, (box["height"] - 2 * FIT_MARGIN) / height)
    left = box["x"] + (box["width"] - width * scale) / 2
    top = box["y"] + (box["height"] - height * scale) / 2
    return left + x * scale, top + y * scale


def fitted_scale(page: Page, image_size: tuple[int, int]) -> float:
    box = page.locator(".bench-canvas canvas").bounding_box()
    assert box is not None
    return min(
        (box["width"] - 2 * FIT_MARGIN) / image_size[0], (box["height"] - 2 * FIT_MARGIN) / image_size[1]
    )


def drag(page: Page, start: tuple[float, float], dx: float, dy: float) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + dx / 2, start[1] + dy / 2, steps=4)
    page.mouse.move(start[0] + dx, start[1] + dy, steps=4)
    page.mouse.up()


def keypoint(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return next(k for k in payload["keypoints"] if k["name"] == name)


def pick_score(page: Page, group: str, value: int) -> None:
    page.locator(f'.score[data-name="{group}"] button[data-value="{value}"]').click()


def no_horizontal_overflow(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the 1280px window"


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for something the page does in the background (a keepalive request) to reach the server."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true in time")
        time.sleep(0.05)
