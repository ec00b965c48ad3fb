"""The reference notes the analysis reports cite (see cradlepose.domain.reference_notes for the format)."""

from __future__ import annotations

from importlib import resources

from cradlepose.domain.reference_notes import Passage, parse_note


def load() -> list[Passage]:
    """Every passage of every note shipped with the package, in file-name order."""
    notes = sorted(
        (f for f in resources.files(__name__).iterdir() if f.name.endswith(".md")), key=lambda f: f.name
    )
    return [p for f in notes for p in parse_note(f.name.removesuffix(".md"), f.read_text("utf-8"))]
