"""The analysis stages' order, the report's topics and citations, and the frame every report has."""

from __future__ import annotations

import datetime as dt

import pytest

from cradlepose.domain import findings
from cradlepose.domain.analysis import (
    DISCLAIMER,
    LIMITATIONS,
    Provenance,
    ReportFacts,
    SourcePassage,
    StageAction,
    StageOrderViolation,
    WrittenText,
    check_citations,
    compose_context,
    coverage,
    render_markdown,
    stage_action,
    topics_for,
)
from cradlepose.domain.enums import AnalysisStatus as S
from cradlepose.domain.enums import Visibility
from cradlepose.domain.keypoints import Keypoint
from cradlepose.domain.transitions import ANALYSIS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("status", "stage", "stored", "expected"),
    [
        (S.UPLOADED, S.SEGMENTING, False, StageAction.START),
        (S.SEGMENTING, S.SEGMENTING, False, StageAction.RESUME),
        (S.SEGMENTING, S.SEGMENTING, True, StageAction.SKIP),
        (S.SEGMENTING, S.CONVERTING, False, StageAction.START),
        (S.CONVERTING, S.SEGMENTING, True, StageAction.SKIP),
        (S.CONVERTING, S.ENHANCING, False, StageAction.START),
        (S.COMPLETED, S.ENHANCING, True, StageAction.SKIP),
        (S.COMPLETED, S.SEGMENTING, True, StageAction.SKIP),
    ],
)
def test_stage_actions(status: S, stage: S, stored: bool, expected: StageAction) -> None:
    assert stage_action(status, stage, output_stored=stored) is expected


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        (S.UPLOADED, S.CONVERTING),
        (S.UPLOADED, S.ENHANCING),
        (S.SEGMENTING, S.ENHANCING),
        (S.FAILED, S.SEGMENTING),
    ],
)
def test_a_stage_never_runs_out_of_order_or_after_a_failure(status: S, stage: S) -> None:
    with pytest.raises(StageOrderViolation):
        stage_action(status, stage, output_stored=False)


def test_every_stage_may_fail_and_the_ends_are_final() -> None:
    for stage in (S.UPLOADED, S.SEGMENTING, S.CONVERTING, S.ENHANCING):
        assert ANALYSIS.can(stage, S.FAILED)
    assert ANALYSIS.terminal() == {S.COMPLETED, S.FAILED}


def _k(name: str, x: float, y: float, v: Visibility = Visibility.VISIBLE) -> Keypoint:
    return Keypoint(id=findings.BODY.index(name), name=name, x=x, y=y, visible=v)


def _supine(knee: tuple[float, float] = (110, 160)) -> findings.Findings:
    points = {
        "nose": (100, 20), "left_eye": (95, 15), "right_eye": (105, 15), "left_shoulder": (80, 50),
        "right_shoulder": (120, 50), "left_elbow": (60, 50), "right_elbow": (140, 50), "left_wrist": (60, 30),
        "right_wrist": (140, 70), "left_hip": (90, 120), "right_hip": (110, 120), "left_knee": (90, 160),
        "right_knee": knee, "left_ankle": (90, 200), "right_ankle": (110, 200),
    }  # fmt: skip
    return findings.analyse([_k(n, x, y) for n, (x, y) in points.items()])


def test_topics_follow_the_findings() -> None:
    plain = [t.name for t in topics_for(_supine())]
    bent = [t.name for t in topics_for(_supine(knee=(140, 160)))]
    assert plain[0] == "posture"
    assert "asymmetry" not in plain
    assert "asymmetry" in bent
    assert "visibility" in plain  # two ears are missing
    assert plain[-2:] == ["still_image", "screening"]  # always said


def _source(number: int, topic: str) -> SourcePassage:
    return SourcePassage(
        number,
        100 + number,
        topic,
        f"Note — Section {number}",
        "First. Second. Third.",
        "Ref 2020.",
        "h" * 64,
    )


def test_the_composer_quotes_and_cites_every_passage_and_says_when_there_is_none() -> None:
    topics = topics_for(_supine())
    sources = [_source(1, "posture"), _source(2, "posture")]
    text = compose_context(topics, sources, "composer")
    assert text.cited == [1, 2]
    assert "“First. Second.” [1]" in text.paragraphs[0]
    assert "[2]" in text.paragraphs[0]
    assert "Third" not in text.text
    assert all("no passage on this" in p for p in text.paragraphs[1:])
    check_citations(text, sources)  # consistent with itself
    assert coverage(topics, sources) == pytest.approx(1 / len(topics), abs=1e-3)


def test_citations_must_be_offered_and_listed() -> None:
    sources = [_source(1, "posture")]
    with pytest.raises(ValueError, match="not given"):
        check_citations(WrittenText(paragraphs=["See [7]."], cited=[7], writer="m"), sources)
    with pytest.raises(ValueError, match="does not list"):
        check_citations(WrittenText(paragraphs=["See [1]."], cited=[], writer="m"), sources)


def test_every_report_states_its_models_confidences_sources_and_that_it_is_not_a_diagnosis() -> None:
    found = _supine(knee=(140, 160))
    sources = [_source(1, "asymmetry")]
    report = render_markdown(
        ReportFacts(
            job_id="j-1",
            image_label="image 7",
            requested_at=dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC),
            requested_by="vera",
            completed_at=dt.datetime(2026, 11, 1, 9, 1, tzinfo=dt.UTC),
            findings=found.as_document(),
            description=findings.describe(found),
            body=WrittenText(paragraphs=["A paragraph [1]."], cited=[1], writer="Amazon Bedrock some-model"),
            sources=sources,
            confidence={"segmenting": 0.81, "converting": 0.7, "enhancing": 0.5},
            provenance=Provenance(
                keypoint_source="model prediction",
                pose_model="YOLO pose v1",
                findings_rules="rules v1",
                describer="Amazon Bedrock some-model",
                reference_library="revision abc",
                cradle_version="0.1.0",
            ),
        )
    )
    assert report.count(DISCLAIMER) == 2  # at the top and at the end
    for line in ("| Pose model | YOLO pose v1 |", "| Report written by | Amazon Bedrock some-model |",
                 "| segmenting | 0.81 |", "| converting | 0.70 |", "| enhancing | 0.50 |",
                 "| knee | 180° | 106° |", "1. **Note — Section 1.** Ref 2020."):  # fmt: skip
        assert line in report, line
    assert all(item in report for item in LIMITATIONS)
