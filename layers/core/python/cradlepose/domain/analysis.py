"""Staged analysis reports (seed 003 applied to infant images): what each stage decides.

    uploaded → segmenting → converting → enhancing → completed, or failed at one named stage.

segmenting  keypoints (a verified annotation's, else the registered model's prediction) and an
            overlay of the skeleton;
converting  findings (cradlepose.domain.findings) and a plain-language description of them;
enhancing   a report that puts the findings in context with passages of the reference notes,
            retrieved by topic, each cited.

The report's frame — provenance, confidence by stage, the sources, the limitations and the
statement that it is a research aid — is written here, never by a text model: whatever writes the
paragraphs, a report cannot leave those out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cradlepose.domain.enums import AnalysisStatus
from cradlepose.domain.errors import Conflict
from cradlepose.domain.findings import Findings, Posture

STAGES: tuple[AnalysisStatus, ...] = (
    AnalysisStatus.SEGMENTING,
    AnalysisStatus.CONVERTING,
    AnalysisStatus.ENHANCING,
)
_BEFORE: dict[AnalysisStatus, AnalysisStatus] = {
    AnalysisStatus.SEGMENTING: AnalysisStatus.UPLOADED,
    AnalysisStatus.CONVERTING: AnalysisStatus.SEGMENTING,
    AnalysisStatus.ENHANCING: AnalysisStatus.CONVERTING,
}
TERMINAL = frozenset({AnalysisStatus.COMPLETED, AnalysisStatus.FAILED})

DISCLAIMER = (
    "Research aid, not a diagnosis. These measurements come from keypoints on a single photograph: "
    "they describe one posture at one instant, in the image plane, and have not been validated as "
    "predictors of any outcome. They must not be used on their own for clinical decisions about "
    "this or any infant."
)
LIMITATIONS = (
    "Joint angles are angles of the limbs' projections onto the image; a limb pointing towards or "
    "away from the camera looks shorter and bent differently than it is.",
    "Occluded keypoints are estimated positions and missing keypoints are left out: every measure "
    "that uses them is less certain or absent.",
    "A still image cannot show movement quality, which validated assessments such as the General "
    "Movements Assessment judge from video.",
    "Posture is inferred from simple geometric cues documented with the findings rules; it can be "
    "wrong when the camera looks from an unusual angle.",
)
CONFIDENCE_MEANING = {
    AnalysisStatus.SEGMENTING: "mean keypoint confidence of the model (1.00: keypoints verified by a person)",
    AnalysisStatus.CONVERTING: "keypoints located (of 17), weighed by the visibility of the posture's cues",
    AnalysisStatus.ENHANCING: "share of the findings' topics for which the reference notes had a passage",
}


class StageOrderViolation(Conflict):
    """A stage was asked to run on a job that failed or has not reached the stage before it."""


class StageAction(StrEnum):
    START = "start"  # move the job to the stage, then run it
    RESUME = "resume"  # the job is at the stage but its output is not stored: run it (again)
    SKIP = "skip"  # the stage's output is stored: a retried step answers with it


def stage_action(status: AnalysisStatus, stage: AnalysisStatus, *, output_stored: bool) -> StageAction:
    """What a stage's step does with a job in `status`. Every step may run twice (Step Functions'
    retries, a lost answer), so a stage already done is answered, not redone."""
    if stage not in _BEFORE:
        raise ValueError(f"{stage} is not a stage")
    if status is AnalysisStatus.FAILED:
        raise StageOrderViolation(f"the analysis failed; {stage.value} will not run")
    if status is _BEFORE[stage]:
        return StageAction.START
    if status is stage:
        return StageAction.SKIP if output_stored else StageAction.RESUME
    if _order(status) > _order(stage):
        return StageAction.SKIP
    raise StageOrderViolation(f"{stage.value} cannot run on an analysis that is {status.value}")


def _order(status: AnalysisStatus) -> int:
    return [AnalysisStatus.UPLOADED, *STAGES, AnalysisStatus.COMPLETED].index(status)


# ------------------------------------------------------------------ topics for retrieval


@dataclass(frozen=True)
class Topic:
    """One thing the report puts in context: the sentence that states it and the search for it."""

    name: str
    lead: str
    query: str  # PostgreSQL websearch_to_tsquery syntax, English configuration


def topics_for(findings: Findings) -> list[Topic]:
    topics: list[Topic] = []
    posture_queries = {
        Posture.SUPINE: "supine",
        Posture.PRONE: "prone or tummy",
        Posture.SIDE_LYING: "posture or asymmetry",
        Posture.SITTING: "sitting",
    }
    if findings.posture in posture_queries:
        topics.append(
            Topic(
                "posture",
                f"The infant appears to be {findings.posture.value.replace('_', '-')} in this image.",
                posture_queries[findings.posture],
            )
        )
    flagged = findings.flagged
    if flagged:
        measures = ", ".join(sorted({a.measure.replace("_", " ") for a in flagged}))
        topics.append(
            Topic("asymmetry", f"Left/right asymmetry above the thresholds was measured ({measures}).",
                  "asymmetry or asymmetries")
        )  # fmt: skip
    uncertain = len(findings.occluded) + len(findings.missing)
    if uncertain:
        topics.append(
            Topic("visibility", f"{uncertain} of the 17 keypoints are occluded or were not located.",
                  "occluded or absent keypoints")
        )  # fmt: skip
    if findings.angles:
        topics.append(
            Topic("angles", "The joint angles are measured on the photograph, in the image plane.",
                  "angle projection or foreshortening")
        )  # fmt: skip
    topics.append(Topic("still_image", "This report rests on a single still image.", "video"))
    topics.append(
        Topic("screening", "Cradle's keypoint data serve research on the early detection of cerebral palsy.",
              "early diagnosis or detection")
    )  # fmt: skip
    return topics


# ------------------------------------------------------------------ what the text writers produce


class WrittenText(BaseModel):
    """A describing or report-writing step's answer; the same structure whoever wrote it."""

    model_config = ConfigDict(frozen=True)

    paragraphs: list[str] = Field(min_length=1)
    cited: list[int] = Field(default_factory=list, description="numbers [n] of the passages cited")
    writer: str  # the model id, or the deterministic composer and its version
    usage: dict[str, int] = Field(
        default_factory=dict, description="tokens and latency, when a model wrote it"
    )

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class SourcePassage:
    """A retrieved passage as offered to the writer and listed in the report, numbered from 1."""

    number: int
    passage_id: int
    topic: str
    title: str
    body: str
    citation: str
    content_hash: str


def compose_context(topics: Sequence[Topic], sources: Sequence[SourcePassage], writer: str) -> WrittenText:
    """The deterministic composer's report body: each topic's lead, then the passages retrieved for
    it, quoted (their first two sentences) with their numbers. It adds nothing the notes do not say."""
    paragraphs = []
    for topic in topics:
        found = [s for s in sources if s.topic == topic.name]
        if not found:
            paragraphs.append(f"{topic.lead} The reference notes have no passage on this.")
            continue
        quoted = " ".join(
            f"{s.title.split(' — ')[-1]}: “{_first_sentences(s.body, 2)}” [{s.number}]" for s in found
        )
        paragraphs.append(f"{topic.lead} {quoted}")
    return WrittenText(paragraphs=paragraphs, cited=[s.number for s in sources], writer=writer)


def _first_sentences(text: str, count: int) -> str:
    sentences: list[str] = []
    rest = text
    while rest and len(sentences) < count:
        cut = rest.find(". ")
        if cut < 0:
            sentences.append(rest.strip())
            break
        sentences.append(rest[: cut + 1].strip())
        rest = rest[cut + 2 :]
    return " ".join(sentences)


def check_citations(text: WrittenText, sources: Sequence[SourcePassage]) -> None:
    """A writer may cite only passages it was given, and must cite what its text marks."""
    offered = {s.number for s in sources}
    unknown = sorted(set(text.cited) - offered)
    if unknown:
        raise ValueError(f"the report cites passages it was not given: {unknown}")
    marked = {n for n in offered if f"[{n}]" in text.text}
    if not marked <= set(text.cited):
        raise ValueError(
            f"the report marks passages {sorted(marked - set(text.cited))} it does not list as cited"
        )


def coverage(topics: Sequence[Topic], sources: Sequence[SourcePassage]) -> float:
    """The enhancing stage's confidence: the share of topics with at least one passage."""
    if not topics:
        return 0.0
    covered = {s.topic for s in sources}
    return round(sum(1 for t in topics if t.name in covered) / len(topics), 3)


# ------------------------------------------------------------------ the report


class Provenance(BaseModel):
    """Everything a reader needs to know about how a report was made."""

    keypoint_source: str  # "verified annotation #12 (version 2)" or "model prediction"
    pose_model: str | None  # the registered model that predicted (or pre-annotated) the keypoints
    findings_rules: str
    describer: str
    report_writer: str | None = None
    reference_library: str | None = None  # "revision 1a2b3c4d5e6f, 6 notes, 17 passages"
    cradle_version: str


@dataclass(frozen=True)
class ReportFacts:
    job_id: str
    image_label: str
    requested_at: dt.datetime
    requested_by: str
    completed_at: dt.datetime
    findings: dict[str, object]
    description: str
    body: WrittenText
    sources: Sequence[SourcePassage]
    confidence: dict[str, float]
    provenance: Provenance


def render_markdown(facts: ReportFacts) -> str:
    p = facts.provenance
    f = facts.findings
    lines = [
        f"# Posture report: {facts.image_label}",
        "",
        f"> **{DISCLAIMER}**",
        "",
        "| | |",
        "|---|---|",
        f"| Analysis | `{facts.job_id}` |",
        f"| Requested | {_when(facts.requested_at)} by {facts.requested_by} |",
        f"| Completed | {_when(facts.completed_at)} |",
        f"| Keypoints | {p.keypoint_source} |",
        f"| Pose model | {p.pose_model or 'none recorded'} |",
        f"| Findings rules | {p.findings_rules} |",
        f"| Description written by | {p.describer} |",
        f"| Report written by | {p.report_writer or facts.body.writer} |",
        f"| Reference notes | {p.reference_library or 'none'} |",
        f"| Cradle | {p.cradle_version} |",
        "",
        "## Confidence by stage",
        "",
        "| Stage | Confidence | What it measures |",
        "|---|---|---|",
    ]
    for stage in STAGES:
        value = facts.confidence.get(stage.value)
        shown = f"{value:.2f}" if value is not None else "—"
        lines.append(f"| {stage.value} | {shown} | {CONFIDENCE_MEANING[stage]} |")
    lines += ["", "## Findings", "", facts.description, ""]
    angles = f.get("joint_angles_deg") or {}
    if isinstance(angles, dict) and angles:
        lines += [
            "### Joint angles (image plane, degrees; 180 is straight)",
            "",
            "| Joint | Left | Right |",
            "|---|---|---|",
        ]
        for joint in ("shoulder", "elbow", "hip", "knee"):
            left, right = angles.get(f"left_{joint}"), angles.get(f"right_{joint}")
            if left is not None or right is not None:
                lines.append(f"| {joint} | {_deg(left)} | {_deg(right)} |")
        lines.append("")
    asymmetries = f.get("asymmetries") or []
    if isinstance(asymmetries, list) and asymmetries:
        lines += [
            "### Left/right asymmetry",
            "",
            "| Measure | Left | Right | Difference | Flagged |",
            "|---|---|---|---|---|",
        ]
        for a in asymmetries:
            unit = "°" if a["measure"] in ("shoulder", "elbow", "hip", "knee") else " px"
            diff = f"{a['difference']:.0f}°" if unit == "°" else f"{a['difference'] * 100:.0f} % shorter"
            measure, flagged = a["measure"].replace("_", " "), "yes" if a["flagged"] else "no"
            lines.append(
                f"| {measure} | {a['left']:.0f}{unit} | {a['right']:.0f}{unit} | {diff} | {flagged} |"
            )
        lines.append("")
    lines += ["## In context", ""]
    for paragraph in facts.body.paragraphs:
        lines += [paragraph, ""]
    lines += ["## Sources", ""]
    if facts.sources:
        for s in facts.sources:
            lines.append(f"{s.number}. **{s.title}.** {s.citation} (passage `{s.content_hash[:12]}`)")
    else:
        lines.append("No passage of the reference notes was cited.")
    lines += ["", "## Limitations", ""]
    lines += [f"- {item}" for item in LIMITATIONS]
    lines += ["", f"*{DISCLAIMER}*", ""]
    return "\n".join(lines)


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _deg(value: object) -> str:
    return f"{value:.0f}°" if isinstance(value, int | float) else "—"
