"""The verification rules: routing by expertise, the case flags, second opinions, gold checks,
and the judgement that keeps annotations out of exports."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain import verification_rules as rules
from cradlepose.domain.enums import DiagnosticQuality, DifficultyRating, VerificationDecision
from cradlepose.domain.judgement import usable_for_research
from cradlepose.domain.verification_rules import CaseSignals, VerifierCandidate

pytestmark = pytest.mark.unit

expertise = st.one_of(st.none(), st.sampled_from(["pediatric_physiotherapy", "neurology", "orthopaedics"]))
needs = st.one_of(expertise, st.just(rules.ANY_EXPERTISE))


def test_needed_expertise_by_hand() -> None:
    named = {"verification_expertise": " neurology "}
    assert rules.needed_expertise(named, difficult=False, specialist=False) == "neurology"
    assert rules.needed_expertise(named, difficult=True, specialist=False) == "neurology"
    assert rules.needed_expertise({}, difficult=True, specialist=False) == rules.ANY_EXPERTISE
    assert rules.needed_expertise(None, difficult=False, specialist=True) == rules.ANY_EXPERTISE
    assert rules.needed_expertise({"verification_expertise": 3}, difficult=False, specialist=False) is None
    assert rules.needed_expertise(None, difficult=False, specialist=False) is None


@given(needed=needs, mine=expertise, other=expertise)
def test_a_matching_verifier_ranks_an_item_first_and_no_one_is_blocked(
    needed: str | None, mine: str | None, other: str | None
) -> None:
    rank = rules.routing_rank(needed, mine)
    assert rank in (rules.MATCH, rules.NO_NEED, rules.MISMATCH)  # every item stays reachable
    if needed is None:
        assert rank == rules.NO_NEED
    elif mine is not None and needed in (mine, rules.ANY_EXPERTISE):
        assert rank == rules.MATCH
        assert rank <= rules.routing_rank(needed, other)
    else:
        assert rank == rules.MISMATCH


@given(
    needed=needs,
    pool=st.lists(st.tuples(expertise, st.integers(0, 5)), min_size=1, max_size=8),
    excluded=st.sets(st.integers(0, 7)),
)
def test_choose_verifier_prefers_expertise_then_load_and_never_an_excluded_one(
    needed: str | None, pool: list[tuple[str | None, int]], excluded: set[int]
) -> None:
    candidates = [VerifierCandidate(i, e, load) for i, (e, load) in enumerate(pool)]
    chosen = rules.choose_verifier(candidates, needed, frozenset(excluded))
    eligible = [c for c in candidates if c.user_id not in excluded]
    if not eligible:
        assert chosen is None
        return
    assert chosen is not None
    assert chosen.user_id not in excluded
    best = min(rules.routing_rank(needed, c.expertise) for c in eligible)
    assert rules.routing_rank(needed, chosen.expertise) == best


def test_difficult_case_signals_one_by_one() -> None:
    assert not rules.is_difficult_case(CaseSignals())
    assert not rules.is_difficult_case(CaseSignals(yolo_confidence=rules.LOW_MODEL_CONFIDENCE))
    for signals in (
        CaseSignals(yolo_confidence=rules.LOW_MODEL_CONFIDENCE - Decimal("0.01")),
        CaseSignals(has_quality_issues=True),
        CaseSignals(annotator_difficulty=DifficultyRating.HARD),
        CaseSignals(annotator_difficulty=DifficultyRating.VERY_HARD),
        CaseSignals(complexity_rating=rules.HIGH_COMPLEXITY),
        CaseSignals(requires_specialist_input=True),
        CaseSignals(revisions=rules.REPEATED_REVISIONS),
    ):
        assert rules.is_difficult_case(signals), signals
    assert not rules.is_difficult_case(CaseSignals(annotator_difficulty=DifficultyRating.MEDIUM))
    assert not rules.is_difficult_case(CaseSignals(complexity_rating=rules.HIGH_COMPLEXITY - 1))
    assert not rules.is_difficult_case(CaseSignals(revisions=rules.REPEATED_REVISIONS - 1))


def test_annotation_issue_signals_one_by_one() -> None:
    assert not rules.has_annotation_issues(CaseSignals(overall_quality_score=rules.LOW_QUALITY_SCORE + 1))
    assert not rules.has_annotation_issues(
        CaseSignals(decision=VerificationDecision.APPROVED_WITH_CORRECTIONS)
    )
    for signals in (
        CaseSignals(problematic_keypoints=1),
        CaseSignals(overall_quality_score=rules.LOW_QUALITY_SCORE),
        CaseSignals(decision=VerificationDecision.MINOR_REVISION_NEEDED),
        CaseSignals(decision=VerificationDecision.MAJOR_REVISION_NEEDED),
        CaseSignals(decision=VerificationDecision.REJECTED),
        CaseSignals(gold_check_failed=True),
        CaseSignals(revisions=rules.REPEATED_REVISIONS),
    ):
        assert rules.has_annotation_issues(signals), signals


@given(asked=st.booleans(), difficult=st.booleans(), certainty=st.integers(1, 10))
def test_second_opinion_when_asked_or_unsure_on_a_difficult_case(
    asked: bool, difficult: bool, certainty: int
) -> None:
    expected = asked or (difficult and certainty <= rules.LOW_CERTAINTY)
    assert rules.needs_second_opinion(asked=asked, difficult=difficult, certainty_level=certainty) is expected


def test_gold_threshold() -> None:
    assert rules.gold_check_passed(rules.GOLD_PASS_OKS)
    assert not rules.gold_check_passed(rules.GOLD_PASS_OKS - 1e-9)


@given(usable=st.booleans(), quality=st.one_of(st.none(), st.sampled_from(list(DiagnosticQuality))))
def test_only_usable_and_not_poor_is_exported(usable: bool, quality: DiagnosticQuality | None) -> None:
    assert usable_for_research(usable, quality) is (usable and quality is not DiagnosticQuality.POOR)
