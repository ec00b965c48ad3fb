"""The demo's story, told over HTTP against a running local stack.

An admin and two newcomers (an annotator and a verifier, approved by the admin); a batch uploaded
through presigned forms by the CLI's own uploader; the batch pipeline pre-annotating it with the
real yolo11n-pose weights on the CPU; assignment; the annotator's corrections; the verifier's
decisions, one of them a revision round; metrics; a dataset exported as COCO keypoints; an
analysis report; and a folder
of pictures with YOLO's skeleton and the final one side by side.

The people are scripted: the annotator nudges the keypoints the model was least sure of, the
verifier follows a fixed plan of decisions. Everything else is the real system.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cradle_workstation.cli import uploader
from cradle_workstation.cli.analyses import SETTLED
from cradle_workstation.demo.people import Member, local_admin, newcomer
from cradle_workstation.demo.samples import write_upload_folder
from cradle_workstation.demo.scripting import DemoFailed, Say, stage, wait
from cradle_workstation.devstack.stack import LocalStack
from cradlepose.domain.keypoints import Keypoint
from cradlepose.imaging.overlay import draw_skeleton, side_by_side

# What the verifier decides, image by image (in the order they are claimed).
DECISION_PLAN = ("APPROVED", "MINOR_REVISION_NEEDED", "APPROVED_WITH_CORRECTIONS", "APPROVED")
SCORES = {"overall_quality_score": 8, "certainty_level": 8, "anatomical_accuracy": 8}
NUDGE_PX = 4.0  # how far the scripted annotator moves a keypoint it corrects
CORRECTED_PER_IMAGE = 3  # the keypoints the model was least sure of


@dataclass
class Summary:
    batch_id: int = 0
    batch_status: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)  # file -> verdict
    keypoints_found: dict[str, int] = field(default_factory=dict)  # image -> keypoints YOLO placed
    yolo_confidence: dict[str, float] = field(default_factory=dict)
    decisions: list[tuple[str, str]] = field(default_factory=list)  # (image, decision)
    annotator_accuracy: float | None = None
    annotator_metrics: dict[str, Any] = field(default_factory=dict)
    verifier_metrics: dict[str, Any] = field(default_factory=dict)
    export_path: Path | None = None
    exported_annotations: int = 0
    report_path: Path | None = None
    pictures: list[Path] = field(default_factory=list)
    execution_status: str = ""  # the batch pipeline's execution, as Step Functions reports it
    execution_states: list[str] = field(default_factory=list)  # the states it entered after the wait


class StoryFailed(DemoFailed):
    """The system did not do what the story expects; the message says what and where."""


def run(stack: LocalStack, workdir: Path, say: Say, inference_timeout_s: float = 900.0) -> Summary:
    summary = Summary()
    with stage(summary.stage_seconds, "people", say):
        admin = local_admin(stack)
        annotator = newcomer(stack, admin, "ana", "ANNOTATOR", "full_body")
        verifier = newcomer(stack, admin, "victor", "VERIFIER", "pediatric_physiotherapy")
    with stage(summary.stage_seconds, "upload", say):
        batch_id = _upload(admin, stack, workdir / "upload", summary)
    with stage(summary.stage_seconds, "pre-annotation (yolo11n-pose, CPU)", say):
        _pre_annotated(admin, batch_id, summary, inference_timeout_s)
        _container_answers(stack, say)
    images = {i["id"]: i for i in admin.api.pages(f"/batches/{batch_id}/images")}
    names = {image_id: image["original_filename"] for image_id, image in images.items()}
    with stage(summary.stage_seconds, "assignment", say):
        assignment = admin.api.post(
            f"/batches/{batch_id}/assignments",
            {"annotator_id": annotator.user_id, "priority": 8,
             "special_instructions": "Place hips at the joint centre; mark hidden joints occluded."},
        )  # fmt: skip
    with stage(summary.stage_seconds, "annotation", say):
        _annotate(annotator, assignment["id"])
    with stage(summary.stage_seconds, "verification and a revision round", say):
        _verify(verifier, annotator, names, summary)
        status = admin.api.get(f"/batches/{batch_id}")["status"]
        summary.batch_status = status
        if status != "COMPLETED":
            raise StoryFailed(f"every image is decided, but batch {batch_id} is {status}, not COMPLETED")
    with stage(summary.stage_seconds, "pipeline execution to its end", say):
        _execution_finished(admin, stack, batch_id, summary)
    with stage(summary.stage_seconds, "metrics", say):
        _metrics(admin, annotator, verifier, summary)
    with stage(summary.stage_seconds, "dataset and COCO keypoints export", say):
        _export(admin, batch_id, workdir / "export", summary)
    with stage(summary.stage_seconds, "analysis report", say):
        _report(admin, next(iter(sorted(images))), workdir, summary)
    with stage(summary.stage_seconds, "skeleton pictures", say):
        _pictures(admin, images, workdir / "skeletons", summary, say)
    summary.batch_id = batch_id
    return summary


# ------------------------------------------------------------------ upload and pre-annotation


def _upload(admin: Member, stack: LocalStack, folder: Path, summary: Summary) -> int:
    write_upload_folder(folder)
    state = uploader.scan(folder, None, stack.api_url, f"demo-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}")
    uploader.ensure_batch(admin.api, state, folder, {"specialty": "full_body"})
    uploader.send_all(folder, state, uploader.Events(), workers=4)
    if not uploader.await_verdicts(admin.api, state, timeout_s=120):
        raise StoryFailed("the upload trigger did not answer for every file")
    state.save(folder)
    summary.uploads = {
        f.path: uploader.describe(f) for f in sorted(state.files.values(), key=lambda f: f.path)
    }
    assert state.batch_id is not None
    if not any(f.state == "registered" for f in state.files.values()):
        raise StoryFailed(f"no file was registered: {summary.uploads}")
    detail = admin.api.get(f"/batches/{state.batch_id}")
    if detail["status"] == "UPLOADED" and not detail.get("pipeline_run"):
        # A refused file never arrives: the admin starts pre-annotation with what did.
        admin.api.post(f"/batches/{state.batch_id}/complete")
    return state.batch_id


def _pre_annotated(admin: Member, batch_id: int, summary: Summary, timeout_s: float) -> None:
    def ready() -> dict[str, Any] | None:
        batch: dict[str, Any] = admin.api.get(f"/batches/{batch_id}")
        run = batch.get("pipeline_run") or {}
        if run.get("status") == "FAILED":
            raise StoryFailed(f"the batch pipeline failed: {run.get('error')}")
        return batch if batch["status"] == "READY_FOR_ANNOTATION" else None

    wait("the batch pipeline to pre-annotate the batch", ready, timeout_s)
    for listed in admin.api.pages(f"/batches/{batch_id}/images"):
        image = admin.api.get(f"/images/{listed['id']}")
        points = (image.get("yolo_keypoints") or {}).get("keypoints", [])
        summary.keypoints_found[image["original_filename"]] = sum(1 for k in points if k.get("visible"))
        if image.get("yolo_confidence") is not None:
            summary.yolo_confidence[image["original_filename"]] = float(image["yolo_confidence"])


def _execution_finished(admin: Member, stack: LocalStack, batch_id: int, summary: Summary) -> None:
    """The API's commit of COMPLETED released the execution's wait: it runs AnalysePoses and ends.
    Read from Step Functions itself, as an operator would in the console."""
    arn = (admin.api.get(f"/batches/{batch_id}").get("pipeline_run") or {}).get("execution_arn")
    if not arn:
        raise StoryFailed(f"batch {batch_id} has no pipeline execution")
    sfn = stack.aws.client("stepfunctions")

    def ended() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return None if described["status"] == "RUNNING" else described

    described = wait("the batch pipeline's execution to end", ended, timeout_s=120)
    summary.execution_status = described["status"]
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    summary.execution_states = entered[len(entered) - entered[::-1].index("WaitForPeople") :]
    if summary.execution_status != "SUCCEEDED":
        raise StoryFailed(f"the batch pipeline's execution ended {summary.execution_status}, not SUCCEEDED")


def _container_answers(stack: LocalStack, say: Say) -> None:
    """Show that each chunk's container process answered Step Functions itself."""
    runner = stack.runner
    for task in runner.tasks if runner is not None else []:
        for line in task.log_lines:
            if '"task_success_sent"' in line or '"task_failure_sent"' in line:
                event = json.loads(line)
                say(
                    f"  chunk {event.get('chunk_index')}: the container process "
                    f"(pid {task.process.pid if task.process else '?'}) logged {event['event']}"
                )
    say(f"  the inference containers' log: {stack.config.state_dir / 'logs' / 'inference.log'}")


# ------------------------------------------------------------------ annotation and verification


def _corrected(keypoints: dict[str, Any], focus: list[int] | None = None) -> dict[str, Any]:
    """The scripted annotator: every keypoint labelled (a hidden one placed and marked occluded),
    and the least certain ones (or those the verifier named) nudged by a few pixels."""
    points = [dict(k) for k in keypoints["keypoints"]]
    labelled = [k for k in points if k.get("visible")]
    if focus is None:
        focus = [
            k["id"] for k in sorted(labelled, key=lambda k: k.get("confidence") or 0)[:CORRECTED_PER_IMAGE]
        ]
    for k in points:
        if not k.get("visible"):
            k["visible"] = 1  # the annotator can tell where it is, under the blanket or behind a limb
        if k["id"] in focus:
            k["x"], k["y"] = k["x"] + NUDGE_PX, k["y"] - NUDGE_PX / 2
    return {"keypoints": points}


def _annotate(annotator: Member, assignment_id: int) -> int:
    annotator.api.post(f"/assignments/{assignment_id}/acknowledge")
    annotator.api.post(f"/assignments/{assignment_id}/start")
    done = 0
    while item := annotator.api.get(f"/assignments/{assignment_id}/next-image")["item"]:
        revision = item.get("revision") or {}
        start_from = (item.get("annotation") or {}).get("refined_keypoints") or item["yolo_keypoints"]
        focus = revision.get("problematic_keypoints") if revision else None
        _submit(annotator, item["image_id"], _corrected(start_from, focus), item.get("annotation"))
        done += 1
    return done


def _submit(
    annotator: Member, image_id: int, keypoints: dict[str, Any], draft: dict[str, Any] | None
) -> None:
    body = {
        "keypoints": keypoints, "time_spent_seconds": 140, "difficulty_rating": "MEDIUM",
        "annotation_quality_score": 0.85, "annotation_tool_version": "demo",
    }  # fmt: skip
    headers = {"If-Match": f'"{draft["row_version"]}"'} if draft else {}
    saved = annotator.api.request("PUT", f"/images/{image_id}/annotation", json=body, headers=headers)
    annotator.api.request(
        "POST", f"/images/{image_id}/annotation/submit", headers={"If-Match": f'"{saved["row_version"]}"'}
    )


def _verify(verifier: Member, annotator: Member, names: dict[int, str], summary: Summary) -> None:
    plan = iter(DECISION_PLAN)
    revised = False
    while True:
        item = verifier.api.post("/verifications/next", queue="submitted")["item"]
        if item is None:
            if revised:
                return
            # The revision went back to the annotator: they work it, then it comes back here.
            revision = next(
                a for a in annotator.api.pages("/assignments") if a["assignment_type"] == "REVISION"
            )
            _annotate(annotator, revision["id"])
            revised = True
            continue
        decision = next(plan, "APPROVED")
        body: dict[str, Any] = {"decision": decision, "verification_time_seconds": 75, **SCORES}
        annotation = item["annotation"]
        if decision == "MINOR_REVISION_NEEDED":
            by_distance = sorted(item["displacement"], key=lambda d: d.get("pixels") or 0, reverse=True)
            body |= {
                "feedback_to_annotator": "The marked joints sit off the joint centre; place them again.",
                "problematic_keypoints": [d["id"] for d in by_distance[:2]],
            }
        elif decision == "APPROVED_WITH_CORRECTIONS":
            body |= {
                "corrected_keypoints": _corrected(annotation["refined_keypoints"], focus=[5, 6]),
                "correction_summary": "Shoulders moved to the joint centres.",
            }
        verifier.api.post(f"/annotations/{annotation['id']}/verifications", body)
        summary.decisions.append((names[item["image_id"]], decision))


# ------------------------------------------------------------------ what comes out


def _metrics(admin: Member, annotator: Member, verifier: Member, summary: Summary) -> None:
    admin.api.post("/metrics/rollup", period="DAILY")
    for member, into in ((annotator, summary.annotator_metrics), (verifier, summary.verifier_metrics)):
        rows = admin.api.get(f"/users/{member.user_id}/metrics", period="DAILY")
        if not rows:
            raise StoryFailed(f"no metrics were rolled up for {member.username}")
        into.update(rows[0])
    summary.annotator_accuracy = float(admin.api.get(f"/users/{annotator.user_id}")["accuracy_score"])


def _export(admin: Member, batch_id: int, folder: Path, summary: Summary) -> None:
    """A dataset of the batch's verified images (seeded splits), exported as COCO keypoints: a
    collection the stack's schedule packs into a ZIP in the background."""
    batch = admin.api.get(f"/batches/{batch_id}")
    dataset = admin.api.post(
        "/datasets",
        {"name": f"demo batch {batch_id}", "keypoint_schema_id": batch["keypoint_schema_id"],
         "filters": {"batch_ids": [batch_id]}, "group_by": "batch", "seed": 7},
    )  # fmt: skip
    collection = admin.api.post(f"/datasets/{dataset['id']}/exports", {"format": "COCO_KEYPOINTS"})

    def packed() -> dict[str, Any] | None:
        found: dict[str, Any] = admin.api.get(f"/collections/{collection['id']}")
        if found["status"] == "FAILED":
            raise StoryFailed(f"the export failed: {found['error_message']}")
        return found if found["status"] == "READY" else None

    ready = wait("the export to be packed", packed, timeout_s=120)
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "coco-keypoints.zip"
    archive.write_bytes(httpx.get(ready["download_url"], timeout=60).raise_for_status().content)
    with zipfile.ZipFile(archive) as opened:
        summary.exported_annotations = sum(
            len(json.loads(opened.read(name))["annotations"])
            for name in opened.namelist()
            if name.startswith("annotations/") and name.endswith(".json")
        )
    summary.export_path = archive


def _report(admin: Member, image_id: int, workdir: Path, summary: Summary) -> None:
    job = admin.api.post("/analyses", {"image_id": image_id})

    def settled() -> dict[str, Any] | None:
        found: dict[str, Any] = admin.api.get(f"/analyses/{job['job_id']}")
        return found if found["status"] in SETTLED else None

    done = wait("the analysis report", settled, timeout_s=120)
    if done["status"] != "completed":
        raise StoryFailed(f"the analysis failed at {done['failed_stage']}: {done['error_message']}")
    path = workdir / "report.html"
    path.write_text(admin.api.text(f"/analyses/{job['job_id']}/report", format="html"), encoding="utf-8")
    summary.report_path = path


def _pictures(
    admin: Member, images: dict[int, dict[str, Any]], folder: Path, summary: Summary, say: Say
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    batch = admin.api.get(f"/batches/{next(iter(images.values()))['batch_id']}")
    schema = admin.api.get(f"/schemas/{batch['keypoint_schema_id']}")
    connections = [(a, b) for a, b in schema["schema_definition"]["connections"]]
    with httpx.Client(timeout=30) as http:
        for image_id, listed in sorted(images.items()):
            image = admin.api.get(f"/images/{image_id}")
            versions = admin.api.get(f"/images/{image_id}/annotations")
            final = [a for a in versions if a["status"] == "APPROVED"]
            if not final or not image.get("yolo_keypoints"):
                continue
            pixels = http.get(image["image_url"]).raise_for_status().content
            yolo = [Keypoint.model_validate(k) for k in image["yolo_keypoints"]["keypoints"]]
            verified = [Keypoint.model_validate(k) for k in final[-1]["refined_keypoints"]["keypoints"]]
            picture = side_by_side(
                draw_skeleton(pixels, yolo, connections), draw_skeleton(pixels, verified, connections)
            )
            path = folder / f"{Path(listed['original_filename']).stem}.png"
            path.write_bytes(picture)
            summary.pictures.append(path)
            say(f"  {path.name}")
