"""Steps that `cradle loop-demo` and the learning loop's e2e test script over HTTP the same way:
a batch annotated and approved, and a model made a schema's first default.

(tests/e2e may import workstation code: the test and the experiment use these, not copies.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cradle_workstation.demo.people import Member
from cradle_workstation.demo.scripting import DemoFailed, wait

# What the annotator submits for one image, given the assignment's next item (its yolo_keypoints).
Submission = Callable[[dict[str, Any]], list[dict[str, Any]]]
ENDED = ("COMPLETED", "FAILED", "CANCELLED")


def annotate_and_approve(
    admin: Member, annotator: Member, verifier: Member, batch_id: int, keypoints: Submission, tool: str
) -> None:
    """The admin assigns the batch; the annotator submits `keypoints(item)` for each image; the
    verifier approves every submission in the queue."""
    assignment = admin.api.post(f"/batches/{batch_id}/assignments", {"annotator_id": annotator.user_id})
    api = annotator.api
    api.post(f"/assignments/{assignment['id']}/acknowledge")
    api.post(f"/assignments/{assignment['id']}/start")
    while item := api.get(f"/assignments/{assignment['id']}/next-image")["item"]:
        body = {
            "keypoints": {"keypoints": keypoints(item)},
            "time_spent_seconds": 60,
            "difficulty_rating": "EASY",
            "annotation_tool_version": tool,
        }
        saved = api.request("PUT", f"/images/{item['image_id']}/annotation", json=body)
        api.request(
            "POST",
            f"/images/{item['image_id']}/annotation/submit",
            headers={"If-Match": f'"{saved["row_version"]}"'},
        )
    while item := verifier.api.post("/verifications/next", queue="submitted")["item"]:
        verifier.api.post(
            f"/annotations/{item['annotation']['id']}/verifications",
            {"decision": "APPROVED", "verification_time_seconds": 30, "overall_quality_score": 8,
             "certainty_level": 8},
        )  # fmt: skip


def make_first_default(
    admin: Member, model_id: int, dataset_id: int, reason: str, timeout_s: float
) -> dict[str, Any]:
    """Cradle's one way to a schema's first default: the model evaluated on the dataset's test split,
    promoted to TESTING, then made the default through the AP gate (nothing to beat yet). Answers
    the model, now the default."""
    gate = {"dataset_id": dataset_id, "split": "test"}
    job = admin.api.post("/inference-jobs", {"model_id": model_id, "evaluation": gate})

    def ended() -> dict[str, Any] | None:
        found: dict[str, Any] = admin.api.get(f"/inference-jobs/{job['id']}")
        return found if found["status"] in ENDED else None

    finished = wait(f"model {model_id}'s evaluation", ended, timeout_s)
    if finished["status"] != "COMPLETED":
        raise DemoFailed(
            f"model {model_id}'s evaluation ended {finished['status']}: {finished['error_message']}"
        )
    admin.api.post(f"/models/{model_id}/promotions", {"target": "TESTING"})
    default: dict[str, Any] = admin.api.post(f"/models/{model_id}/default", {"gate": gate, "reason": reason})
    return default
