"""The reference notes shipped with Cradle parse into cited passages; a malformed note is refused."""

from __future__ import annotations

import re

import pytest

from cradlepose import reference_notes
from cradlepose.domain.reference_notes import MalformedNote, Passage, library_revision, parse_note

pytestmark = pytest.mark.unit

NOTE = """# A title

Source: Someone A. A paper. A Journal. 2020;1(2):3-4.

## First section

Two lines
of text.

## Second section

More text.
"""


def test_a_note_becomes_one_passage_per_section_each_citing_the_source() -> None:
    passages = parse_note("note", NOTE)
    assert [p.title for p in passages] == ["A title — First section", "A title — Second section"]
    assert passages[0].body == "Two lines of text."
    assert {p.citation for p in passages} == {"Someone A. A paper. A Journal. 2020;1(2):3-4."}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (NOTE.replace("# A title\n", ""), "no '# ' title"),
        (NOTE.replace("Source: Someone A. A paper. A Journal. 2020;1(2):3-4.\n", ""), "no 'Source:'"),
        ("# T\n\nSource: S\n", "no '## ' sections"),
        ("# T\n\nSource: S\n\n## Empty\n\n## Full\n\nx\n", "is empty"),
        ("# T\n\nSource: S\nstray text\n\n## A\n\nx\n", "text before"),
        ("# T\n\n# U\n\nSource: S\n\n## A\n\nx\n", "more than one"),
    ],
)
def test_a_malformed_note_is_refused(text: str, problem: str) -> None:
    with pytest.raises(MalformedNote, match=problem):
        parse_note("bad", text)


def test_the_shipped_notes_are_cited_and_distinct() -> None:
    passages = reference_notes.load()
    assert len({p.note for p in passages}) >= 6
    assert len({p.content_hash for p in passages}) == len(passages)
    for passage in passages:
        assert re.search(r"\b(19|20)\d\d\b", passage.citation), passage.citation  # a dated source
        assert len(passage.body) > 100


def test_changing_one_word_changes_the_passage_and_the_library_revision() -> None:
    passage = Passage("n", "t", "the body", "c")
    edited = Passage("n", "t", "the bodies", "c")
    assert passage.content_hash != edited.content_hash
    assert library_revision([passage.content_hash]) != library_revision([edited.content_hash])
    assert library_revision(["a", "b"]) == library_revision(["b", "a"])  # order does not matter
