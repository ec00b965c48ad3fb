"""docs/web.md lists the same keyboard shortcuts the page shows on "?" (web/js/views/*.js)."""

from __future__ import annotations

import re

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

DOC = ROOT / "docs" / "web.md"
ENTRY = re.compile(r'\{ keys: "([^"]+)", label: "([^"]+)" \}')


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
