"""The reference notes kept in the repository (cradlepose/reference_notes/*.md), as passages.

A note is Markdown: a `# Title` line, a `Source:` line with the full citation of what the note
paraphrases, and one or more `## Section` headings whose text is one passage each. A passage is
identified by the hash of everything it says and cites, so a changed passage is a new one and
reports keep citing the text they were written from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

SOURCE_PREFIX = "Source:"
_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*$")


class MalformedNote(ValueError):
    """A note that does not follow the format: it would produce passages without a source."""


@dataclass(frozen=True)
class Passage:
    note: str  # the note's file name without .md
    title: str  # "<note title> — <section>"
    body: str
    citation: str

    @property
    def content_hash(self) -> str:
        text = "\x1f".join((self.note, self.title, self.body, self.citation))
        return hashlib.sha256(text.encode()).hexdigest()


def parse_note(note: str, text: str) -> list[Passage]:
    title, citation, sections = _split(note, text)
    if not title:
        raise MalformedNote(f"{note}: no '# ' title")
    if not citation:
        raise MalformedNote(f"{note}: no '{SOURCE_PREFIX}' line before the first section")
    if not sections:
        raise MalformedNote(f"{note}: no '## ' sections")
    passages = []
    for heading, lines in sections:
        body = " ".join(" ".join(lines).split())
        if not body:
            raise MalformedNote(f"{note}: section {heading!r} is empty")
        passages.append(Passage(note=note, title=f"{title} — {heading}", body=body, citation=citation))
    return passages


def _split(note: str, text: str) -> tuple[str | None, str | None, list[tuple[str, list[str]]]]:
    title: str | None = None
    citation: str | None = None
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) == 1:
            if title is not None:
                raise MalformedNote(f"{note}: more than one '# ' title")
            title = heading.group(2)
        elif heading:
            sections.append((heading.group(2), []))
        elif sections:
            sections[-1][1].append(line)
        elif line.startswith(SOURCE_PREFIX):
            citation = line.removeprefix(SOURCE_PREFIX).strip()
        elif line.strip():
            raise MalformedNote(f"{note}: text before the first '## ' section: {line[:60]!r}")
    return title, citation, sections


def library_revision(content_hashes: Iterable[str]) -> str:
    """A short fingerprint of the whole library (its passages' hashes), in every report's provenance."""
    digest = hashlib.sha256("".join(sorted(content_hashes)).encode())
    return digest.hexdigest()[:12]
