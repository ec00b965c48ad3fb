"""docs/web.md lists the same keyboard shortcuts the page shows on "?" (web/js/views/*.js), and
shows a screenshot of every page of the side navigations."""

from __future__ import annotations

import re

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

DOC = ROOT / "docs" / "web.md"
ENTRY = re.compile(r'\{ keys: "([^"]+)", label: "([^"]+)" \}')
PICTURE = re.compile(r"!\[[^\]]+\]\(screenshots/([^)]+)\)")
PAGE_KEY = re.compile(r'\{ key: "([a-z-]*)", label: ')


def _page(module: str, constant: str) -> list[tuple[str, str]]:
    source = (ROOT / "web" / "js" / "views" / module).read_text()
    start = source.index(f"export const {constant} = [")
    block = source[start : source.index("\n];", start)]
    return [(keys, label.lower()) for keys, label in ENTRY.findall(block)]


def _documented(heading: str) -> list[tuple[str, str]]:
    text = DOC.read_text()
    section = text[text.index(f"### {heading}\n") :].split("\n\n")[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # after the header
    found = []
    for row in rows:
        keys, label = (re.sub(r"</?kbd>", "", cell).strip() for cell in row.strip("|").split(" | "))
        found.append((keys, label.lower()))
    return found


@pytest.mark.parametrize(
    ("module", "constant", "heading"),
    [
        ("workbench.js", "WORKBENCH_SHORTCUTS", "Workbench shortcuts"),
        ("verify.js", "VERIFY_SHORTCUTS", "Verification shortcuts"),
    ],
)
def test_the_documented_shortcuts_are_the_pages(module: str, constant: str, heading: str) -> None:
    shown = _page(module, constant)
    assert len(shown) > 10
    assert _documented(heading) == shown


def test_every_picture_shown_is_in_docs_screenshots_and_every_screenshot_is_shown_once() -> None:
    shown = PICTURE.findall(DOC.read_text())
    taken = sorted(path.name for path in (ROOT / "docs" / "screenshots").glob("*.png"))
    assert len(taken) > 30
    assert sorted(shown) == taken


@pytest.mark.parametrize(
    ("section", "default"), [("admin", "approvals"), ("datasets", "catalogue"), ("research", "anomaly")]
)
def test_every_page_of_a_side_navigation_has_its_screenshot_in_the_guide(section: str, default: str) -> None:
    """The admin console's, the datasets' and research's pages (their PAGES), as `<section>-<key>.png`."""
    source = (ROOT / "web" / "js" / "views" / section / "index.js").read_text()
    block = source[source.index("const PAGES = [") : source.index("\n];", source.index("const PAGES = ["))]
    keys = [key or default for key in PAGE_KEY.findall(block)]
    assert len(keys) >= 2
    shown = set(PICTURE.findall(DOC.read_text()))
    assert [key for key in keys if f"{section}-{key}.png" not in shown] == []
