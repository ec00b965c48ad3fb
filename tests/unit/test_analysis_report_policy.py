"""The downloadable HTML report carries a strict Content Security Policy and needs nothing outside itself."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

import pytest

from cradlepose.reports.analysis_documents import html_page

pytestmark = pytest.mark.unit

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.policy: str | None = None
        self.policy_position: int | None = None
        self.head_tags: list[str] = []
        self.styles: list[str] = []
        self.sources: list[str] = []
        self.scripts = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.head_tags.append(tag)
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "content-security-policy":
            self.policy = values.get("content")
            self.policy_position = len(self.head_tags)
        if tag == "script":
            self.scripts += 1
        if tag == "style":
            self._in_style = True
        for name in ("src", "href"):
            if values.get(name):
                self.sources.append(str(values[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def _parse(markdown: str) -> _Page:
    page = _Page()
    page.feed(html_page(markdown, PNG_1X1, title="Analysis 1"))
    return page


def test_the_report_forbids_everything_but_its_own_style_and_inlined_images() -> None:
    # Given a report whose text tries to pull in a remote image and a script
    page = _parse("> research aid\n\n![x](https://evil.example/pixel.png)\n\n<script>alert(1)</script>\n")
    # Then the policy is the first thing after the charset, before anything that could load
    assert page.policy is not None
    assert page.policy_position == 4  # html, head, charset, policy
    directives = _directives(page.policy)
    assert directives["default-src"] == ["'none'"]
    assert directives["img-src"] == ["data:"]
    assert directives["base-uri"] == ["'none'"]
    # And the one stylesheet is allowed by its hash, nothing else inline
    (style,) = page.styles
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert directives["style-src"] == [f"'sha256-{digest}'"]
    # And no script runs; the overlay is inlined, so only the injected remote URL is outside the
    # page, and the policy refuses it
    assert page.scripts == 0
    remote = [source for source in page.sources if not source.startswith("data:")]
    assert remote == ["https://evil.example/pixel.png"]
    assert any(source.startswith("data:image/png;base64,") for source in page.sources)
