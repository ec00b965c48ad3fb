"""Every route × every kind of caller, with the status each must get.

Personas: anonymous (no token), unregistered (a token, no Cradle account), unapproved,
inactive (deactivated), annotator_owner (assigned to the batch / the user in the path),
annotator_other (not), verifier, admin. Objects a caller may not see answer 404, not 403,
so their existence does not leak. Each row runs on a fresh database, admin last.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.api import world as world_module
from tests.integration.api.world import World
from tests.support import ApiClient

pytestmark = pytest.mark.integration

ORDER = (
    "anonymous",
    "unregistered",
    "unapproved",
    "inactive",
    "annotator_owner",
    "annotator_other",
    "verifier",
    "admin",
)


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # as the OpenAPI document writes it
    path: Callable[[World], str]
    expected: tuple[int, ...]  # in ORDER
    body: Callable[[World], Any] | None = None
    query: Callable[[World], dict[str, Any]] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


PUBLIC = (200,) * 8
ADMIN_ONLY_200 = (401, 403, 403, 403, 403, 403, 403, 200)
ADMIN_ONLY_201 = (401, 403, 403, 403, 403, 403, 403, 201)
WORKERS_200 = (401, 403, 403, 403, 200, 200, 200, 200)
OWNER_200 = (401, 403, 403, 403, 200, 404, 200, 200)  # annotators see only their assigned batches
# An image: only the annotator whose open assignment covers it (or a verifier holding its claimed
# verification; nobody claimed this one) and admins; everyone else gets the nonexistent image's 404.
IMAGE_OWNER_200 = (401, 403, 403, 403, 200, 404, 404, 200)
# Annotators' own work: others' assignments and images do not exist for them; other roles may not.
ANNOTATOR_ONLY_200 = (401, 403, 403, 403, 200, 404, 403, 403)
ANNOTATOR_ONLY_409 = (401, 403, 403, 403, 409, 404, 403, 403)
ADMIN_ONLY_409 = (401, 403, 403, 403, 403, 403, 403, 409)
# Researchers (verifiers and admins) work with the verified data; annotators produce it.
RESEARCHERS_200 = (401, 403, 403, 403, 403, 403, 200, 200)
RESEARCHERS_201 = (401, 403, 403, 403, 403, 403, 201, 201)
RESEARCHERS_202 = (401, 403, 403, 403, 403, 403, 202, 202)
_names = itertools.count()
READERS_200 = (401, 403, 403, 403, 403, 403, 200, 200)  # admins and verifiers
READERS_409 = (401, 403, 403, 403, 403, 403, 409, 409)

_SCHEMA_BODY = {
    "name": "tiny",
    "version": "v1",
    "schema_definition": {"keypoints": [{"id": 0, "name": "nose", "color": "#FF0000"}]},
    "max_missing_keypoints": 0,
}

ROWS = [
    Row("GET", "/health", lambda w: "/health", PUBLIC),
    Row("GET", "/openapi.json", lambda w: "/openapi.json", PUBLIC),
    Row("POST", "/me/register", lambda w: "/me/register", (401, 201, 409, 409, 409, 409, 409, 409), lambda w: {"role": "ANNOTATOR"}),
    Row("GET", "/me", lambda w: "/me", (401, 403, 200, 200, 200, 200, 200, 200)),
    Row("GET", "/users", lambda w: "/users", ADMIN_ONLY_200),
    # No identity provider in this world: past the door, the admin is told so (409); test_invitations has the rest.
    Row("POST", "/invitations", lambda w: "/invitations", ADMIN_ONLY_409,
        lambda w: {"email": "ivy@example.org", "username": "ivy", "role": "ANNOTATOR"}),
    Row("GET", "/users/{id}", lambda w: f"/users/{w.people['annotator_owner'].user_id}", (401, 403, 403, 403, 200, 403, 403, 200)),
    Row("PATCH", "/users/{id}", lambda w: f"/users/{w.people['annotator_owner'].user_id}", ADMIN_ONLY_200,
        lambda w: {"max_concurrent_batches": 3}),
    Row("POST", "/users/{id}/approve", lambda w: f"/users/{w.pending_user_id}/approve", ADMIN_ONLY_200),
    Row("POST", "/users/{id}/reject", lambda w: f"/users/{w.pending_user_id}/reject", ADMIN_ONLY_200, lambda w: {"reason": "not in the study"}),
    Row("PUT", "/users/{id}/role", lambda w: f"/users/{w.people['annotator_other'].user_id}/role", ADMIN_ONLY_200, lambda w: {"role": "VERIFIER"}),
    Row("POST", "/users/{id}/deactivate", lambda w: f"/users/{w.people['annotator_other'].user_id}/deactivate", ADMIN_ONLY_200),
    Row("POST", "/users/{id}/reactivate", lambda w: f"/users/{w.people['inactive'].user_id}/reactivate", ADMIN_ONLY_200),
    Row("GET", "/schemas", lambda w: "/schemas", WORKERS_200),
    Row("GET", "/schemas/{id}", lambda w: f"/schemas/{w.schema_id}", WORKERS_200),
    Row("POST", "/schemas", lambda w: "/schemas", ADMIN_ONLY_201, lambda w: _SCHEMA_BODY),
    Row("PATCH", "/schemas/{id}", lambda w: f"/schemas/{w.unused_schema_id}", ADMIN_ONLY_200, lambda w: {"description": "edited"}),
    Row("POST", "/schemas/{id}/versions", lambda w: f"/schemas/{w.schema_id}/versions", ADMIN_ONLY_201, lambda w: {"version": "v1.1"}),
    Row("POST", "/schemas/{id}/activate", lambda w: f"/schemas/{w.inactive_schema_id}/activate", ADMIN_ONLY_200),
    Row("POST", "/schemas/{id}/deactivate", lambda w: f"/schemas/{w.unused_schema_id}/deactivate", ADMIN_ONLY_200),
    Row("GET", "/models", lambda w: "/models", WORKERS_200),
    Row("GET", "/models/{id}", lambda w: f"/models/{w.model_id}", WORKERS_200),
    Row("POST", "/models", lambda w: "/models", ADMIN_ONLY_201,
        lambda w: {"model_name": "m", "version": "1", "keypoint_schema_id": w.schema_id, "model_path": "s3://b/m.pt"}),
    Row("PATCH", "/models/{id}", lambda w: f"/models/{w.model_id}", ADMIN_ONLY_200, lambda w: {"description": "nano"}),
    Row("DELETE", "/models/{id}", lambda w: f"/models/{w.model_id}", (401, 403, 403, 403, 403, 403, 403, 204)),
    # The world's model is in DEVELOPMENT: the default is reached only from TESTING (409).
    Row("POST", "/models/{id}/default", lambda w: f"/models/{w.model_id}/default", (401, 403, 403, 403, 403, 403, 403, 409),
        lambda w: {"gate": {"dataset_id": w.dataset_id, "split": "train"}}),
    Row("POST", "/batches", lambda w: "/batches", ADMIN_ONLY_201, lambda w: {"batch_name": "new", "uploads": {"count": 1}}),
    Row("GET", "/batches", lambda w: "/batches", WORKERS_200),
    Row("GET", "/batches/{id}", lambda w: f"/batches/{w.assigned_batch_id}", OWNER_200),
    Row("POST", "/batches/{id}/uploads", lambda w: f"/batches/{w.uploading_batch_id}/uploads", ADMIN_ONLY_200,
        lambda w: {"files": [{"filename": "more.jpg"}]}),
    Row("GET", "/batches/{id}/uploads", lambda w: f"/batches/{w.uploading_batch_id}/uploads", ADMIN_ONLY_200),
    Row("POST", "/batches/{id}/complete", lambda w: f"/batches/{w.uploading_batch_id}/complete", ADMIN_ONLY_200),
    Row("POST", "/batches/{id}/archive", lambda w: f"/batches/{w.ready_batch_id}/archive", ADMIN_ONLY_200),
    Row("GET", "/batches/{id}/images", lambda w: f"/batches/{w.assigned_batch_id}/images", OWNER_200),
    Row("GET", "/images/{id}", lambda w: f"/images/{w.submitted_image_id}", IMAGE_OWNER_200),
    # Nobody in this world uploaded the batch but the admin: everyone else is refused alike.
    Row("PATCH", "/images/{id}", lambda w: f"/images/{w.submitted_image_id}", ADMIN_ONLY_200,
        lambda w: {"source_institution": "Site A"}),
    Row("GET", "/audit-logs", lambda w: "/audit-logs", ADMIN_ONLY_200),
    # --- the workflow
    Row("POST", "/batches/{id}/assignments", lambda w: f"/batches/{w.ready_batch_id}/assignments", ADMIN_ONLY_201,
        lambda w: {"annotator_id": w.people["annotator_other"].user_id}),
    Row("POST", "/batches/{id}/auto-assign", lambda w: f"/batches/{w.ready_batch_id}/auto-assign", ADMIN_ONLY_200),
    Row("POST", "/auto-assignments", lambda w: "/auto-assignments", ADMIN_ONLY_200),
    Row("PATCH", "/batches/{id}", lambda w: f"/batches/{w.ready_batch_id}", ADMIN_ONLY_200,
        lambda w: {"description": "x"}),
    # The admin meets the state rule (409): the assignment's only image is handed in already.
    Row("POST", "/assignments/{id}/unassign", lambda w: f"/assignments/{w.assignment_id}/unassign", ADMIN_ONLY_409),
    Row("POST", "/assignments/{id}/reassign", lambda w: f"/assignments/{w.assignment_id}/reassign", ADMIN_ONLY_409,
        lambda w: {"annotator_id": w.people["annotator_other"].user_id}),
    Row("GET", "/claims", lambda w: "/claims", ADMIN_ONLY_200),
    # Nobody claimed the submitted image: there is no such claim (404).
    Row("POST", "/claims/{id}/release", lambda w: f"/claims/{w.submitted_image_id}/release",
        (401, 403, 403, 403, 403, 403, 403, 404)),
    Row("POST", "/claims/{id}/renew", lambda w: f"/claims/{w.submitted_image_id}/renew",
        (401, 403, 403, 403, 403, 403, 404, 404)),
    # The owner meets the state rule (409): the image is handed in already.
    Row("POST", "/images/{id}/flag-unusable", lambda w: f"/images/{w.submitted_image_id}/flag-unusable",
        ANNOTATOR_ONLY_409, lambda w: {"reason": "OCCLUDED"}),
    Row("GET", "/flags", lambda w: "/flags", READERS_200),
    # Verifiers and admins meet the state rule (409): the image has no flag waiting.
    Row("POST", "/images/{id}/flag-decision", lambda w: f"/images/{w.submitted_image_id}/flag-decision",
        READERS_409, lambda w: {"accept": True}),
    Row("GET", "/assignments", lambda w: "/assignments", WORKERS_200),
    Row("GET", "/assignments/{id}", lambda w: f"/assignments/{w.assignment_id}", (401, 403, 403, 403, 200, 404, 404, 200)),
    # The owner gets past the door and meets the state rule (409): the assignment is already IN_PROGRESS.
    Row("POST", "/assignments/{id}/acknowledge", lambda w: f"/assignments/{w.assignment_id}/acknowledge", ANNOTATOR_ONLY_409),
    Row("POST", "/assignments/{id}/start", lambda w: f"/assignments/{w.assignment_id}/start", ANNOTATOR_ONLY_409),
    Row("POST", "/assignments/{id}/pause", lambda w: f"/assignments/{w.assignment_id}/pause", ANNOTATOR_ONLY_409),
    Row("POST", "/assignments/{id}/resume", lambda w: f"/assignments/{w.assignment_id}/resume", ANNOTATOR_ONLY_200),
    Row("PATCH", "/assignments/{id}", lambda w: f"/assignments/{w.assignment_id}", ANNOTATOR_ONLY_200,
        lambda w: {"self_reported_difficulty": 3}),
    Row("GET", "/assignments/{id}/next-image", lambda w: f"/assignments/{w.assignment_id}/next-image", ANNOTATOR_ONLY_200),
    Row("GET", "/images/{id}/work", lambda w: f"/images/{w.submitted_image_id}/work", ANNOTATOR_ONLY_409),
    Row("PUT", "/images/{id}/annotation", lambda w: f"/images/{w.submitted_image_id}/annotation", ANNOTATOR_ONLY_409,
        lambda w: {"keypoints": {"keypoints": []}}),
    Row("POST", "/images/{id}/annotation/submit", lambda w: f"/images/{w.submitted_image_id}/annotation/submit",
        ANNOTATOR_ONLY_409),
    Row("GET", "/images/{id}/annotations", lambda w: f"/images/{w.submitted_image_id}/annotations", IMAGE_OWNER_200),
    Row("POST", "/verifications/next", lambda w: "/verifications/next", (401, 403, 403, 403, 403, 403, 200, 200)),
    # Verifiers get past the door and meet the claim rule (409): nobody claimed the annotation.
    Row("POST", "/annotations/{id}/verifications", lambda w: f"/annotations/{w.annotation_id}/verifications",
        (401, 403, 403, 403, 403, 403, 409, 409),
        lambda w: {"decision": "APPROVED", "overall_quality_score": 8, "verification_time_seconds": 5, "certainty_level": 8}),
    Row("POST", "/annotations/{id}/release", lambda w: f"/annotations/{w.annotation_id}/release",
        (401, 403, 403, 403, 403, 403, 409, 409)),
    Row("GET", "/annotations/{id}/verifications", lambda w: f"/annotations/{w.annotation_id}/verifications", OWNER_200),
    # Admins only; the admin gets past the door and meets a verification this world does not have.
    Row("GET", "/verifications/{id}/internal-notes", lambda w: "/verifications/987654/internal-notes",
        (401, 403, 403, 403, 403, 403, 403, 404)),
    Row("PUT", "/verifications/{id}/internal-notes", lambda w: "/verifications/987654/internal-notes",
        (401, 403, 403, 403, 403, 403, 403, 404), lambda w: {"internal_notes": "x"}),
    Row("GET", "/users/{id}/metrics", lambda w: f"/users/{w.people['annotator_owner'].user_id}/metrics",
        (401, 403, 403, 403, 200, 403, 403, 200)),
    Row("POST", "/metrics/rollup", lambda w: "/metrics/rollup", ADMIN_ONLY_200),
    # The ready batch's pipeline did not fail: past the door, the admin meets the state rule.
    Row("POST", "/batches/{id}/pipeline/restart", lambda w: f"/batches/{w.ready_batch_id}/pipeline/restart",
        ADMIN_ONLY_409),
    Row("GET", "/metrics/corrections", lambda w: "/metrics/corrections", RESEARCHERS_200),
    Row("PUT", "/batches/{id}/images/{id}/gold", lambda w: f"/batches/{w.ready_batch_id}/images/{w.ready_image_id}/gold",
        ADMIN_ONLY_200, lambda w: {"keypoints": {"keypoints": [{"id": 0, "x": 10, "y": 10}]}}),
    # The ready image is no quality check in this world: past the door, the admin meets the state rule.
    Row("DELETE", "/batches/{id}/images/{id}/gold",
        lambda w: f"/batches/{w.ready_batch_id}/images/{w.ready_image_id}/gold", ADMIN_ONLY_409),
    # --- datasets, exports, imports, models
    Row("POST", "/datasets", lambda w: "/datasets", RESEARCHERS_201,
        lambda w: {"name": f"d{next(_names)}", "keypoint_schema_id": w.schema_id}),
    Row("GET", "/datasets", lambda w: "/datasets", RESEARCHERS_200),
    Row("GET", "/datasets/{id}", lambda w: f"/datasets/{w.dataset_id}", RESEARCHERS_200),
    Row("PATCH", "/datasets/{id}", lambda w: f"/datasets/{w.dataset_id}", ADMIN_ONLY_200, lambda w: {"description": "x"}),
    Row("GET", "/datasets/{id}/images", lambda w: f"/datasets/{w.dataset_id}/images", RESEARCHERS_200),
    Row("GET", "/datasets/{id}/statistics", lambda w: f"/datasets/{w.dataset_id}/statistics", RESEARCHERS_200),
    Row("POST", "/datasets/{id}/exports", lambda w: f"/datasets/{w.dataset_id}/exports", RESEARCHERS_202,
        lambda w: {"format": "COCO_KEYPOINTS"}),
    Row("GET", "/vocabulary-terms", lambda w: "/vocabulary-terms", RESEARCHERS_200),
    Row("POST", "/vocabulary-terms", lambda w: "/vocabulary-terms", ADMIN_ONLY_201,
        lambda w: {"kind": "TAG", "code": "prone", "name": "Prone"}),
    Row("GET", "/vocabulary-terms/{id}", lambda w: f"/vocabulary-terms/{w.term_id}", RESEARCHERS_200),
    Row("PATCH", "/vocabulary-terms/{id}", lambda w: f"/vocabulary-terms/{w.term_id}", ADMIN_ONLY_200,
        lambda w: {"description": "x"}),
    Row("POST", "/collections", lambda w: "/collections", RESEARCHERS_202,
        lambda w: {"name": "c", "keypoint_schema_id": w.schema_id}),
    Row("GET", "/collections", lambda w: "/collections", RESEARCHERS_200),
    # The admin's collection does not exist for another researcher.
    Row("GET", "/collections/{id}", lambda w: f"/collections/{w.collection_id}", (401, 403, 403, 403, 403, 403, 404, 200)),
    Row("POST", "/dataset-imports", lambda w: "/dataset-imports", ADMIN_ONLY_201, lambda w: {"name": "coco"}),
    Row("GET", "/dataset-imports/{id}", lambda w: f"/dataset-imports/{w.import_id}", ADMIN_ONLY_200),
    # The admin gets past the door and meets the state rule: nothing was uploaded yet.
    Row("POST", "/dataset-imports/{id}/start", lambda w: f"/dataset-imports/{w.import_id}/start", ADMIN_ONLY_409),
    Row("POST", "/training-jobs", lambda w: "/training-jobs", RESEARCHERS_202,
        lambda w: {"base_model_id": w.model_id, "dataset_id": w.dataset_id}),
    Row("GET", "/training-jobs", lambda w: "/training-jobs", RESEARCHERS_200),
    Row("GET", "/training-jobs/{id}", lambda w: f"/training-jobs/{w.training_job_id}", RESEARCHERS_200),
    # Whoever asked for a job (here the admin), or an admin, cancels it.
    Row("POST", "/training-jobs/{id}/cancel", lambda w: f"/training-jobs/{w.training_job_id}/cancel", ADMIN_ONLY_200),
    # A verifier targets verified images only: the ready image answers as a nonexistent one (422).
    Row("POST", "/inference-jobs", lambda w: "/inference-jobs", (401, 403, 403, 403, 403, 403, 422, 202),
        lambda w: {"model_id": w.model_id, "image_ids": [w.ready_image_id]}),
    Row("GET", "/inference-jobs", lambda w: "/inference-jobs", RESEARCHERS_200),
    Row("GET", "/inference-jobs/{id}", lambda w: f"/inference-jobs/{w.inference_job_id}", RESEARCHERS_200),
    # The world's inference job is QUEUED: its predictions are not reviewable yet (409 for an admin).
    Row("POST", "/inference-jobs/{id}/review-batch", lambda w: f"/inference-jobs/{w.inference_job_id}/review-batch",
        (401, 403, 403, 403, 403, 403, 403, 409), lambda w: {}),
    Row("POST", "/inference-jobs/{id}/cancel", lambda w: f"/inference-jobs/{w.inference_job_id}/cancel", ADMIN_ONLY_200),
    Row("GET", "/models/{id}/metrics", lambda w: f"/models/{w.model_id}/metrics", RESEARCHERS_200),
    Row("POST", "/models/{id}/promotions", lambda w: f"/models/{w.model_id}/promotions", ADMIN_ONLY_201,
        lambda w: {"target": "TESTING"}),
    # A dry run of the gate: the world's model is DEVELOPMENT, so the verdict (200) says it is refused.
    Row("GET", "/models/{id}/promotion-check", lambda w: f"/models/{w.model_id}/promotion-check",
        RESEARCHERS_200, query=lambda w: {"dataset_id": w.dataset_id}),
    Row("GET", "/models/{id}/deployments", lambda w: f"/models/{w.model_id}/deployments", RESEARCHERS_200),
    Row("POST", "/schemas/{id}/sigma-calibrations", lambda w: f"/schemas/{w.schema_id}/sigma-calibrations",
        RESEARCHERS_201, lambda w: {"min_samples": 1}),
    Row("GET", "/schemas/{id}/sigma-calibrations", lambda w: f"/schemas/{w.schema_id}/sigma-calibrations",
        RESEARCHERS_200),
    Row("GET", "/sigma-calibrations/{id}", lambda w: f"/sigma-calibrations/{w.calibration_id}", RESEARCHERS_200),
    Row("POST", "/sigma-calibrations/{id}/adopt", lambda w: f"/sigma-calibrations/{w.calibration_id}/adopt",
        ADMIN_ONLY_201, lambda w: {"version": "v9"}),
    # --- the learning loop. The world's schema has no default model: a run needs a base (409), and
    # there is nothing to roll back to (409).
    Row("GET", "/schemas/{id}/learning-loop", lambda w: f"/schemas/{w.schema_id}/learning-loop", READERS_200),
    Row("PUT", "/schemas/{id}/learning-loop", lambda w: f"/schemas/{w.schema_id}/learning-loop", ADMIN_ONLY_200,
        lambda w: {"enabled": False, "every_n_verified": 10, "schedule_hours": None, "base_model_id": w.model_id,
                   "epochs": 1, "imgsz": 64, "batch": 2, "lr0": 0.01, "holdout_fraction": 0.2,
                   "min_ap_gain": 0.0, "max_keypoint_oks_drop": 0.05}),
    Row("POST", "/schemas/{id}/learning-loop/runs", lambda w: f"/schemas/{w.schema_id}/learning-loop/runs",
        ADMIN_ONLY_409),
    Row("POST", "/schemas/{id}/learning-loop/rollback", lambda w: f"/schemas/{w.schema_id}/learning-loop/rollback",
        ADMIN_ONLY_409, lambda w: {"reason": None}),
    Row("GET", "/learning-loop/runs", lambda w: "/learning-loop/runs", READERS_200),
    Row("GET", "/learning-loop/runs/{id}", lambda w: f"/learning-loop/runs/{w.learning_loop_run_id}", READERS_200),
    # --- pose anomaly screening
    Row("POST", "/anomaly/training-jobs", lambda w: "/anomaly/training-jobs", ADMIN_ONLY_201, lambda w: {}),
    Row("GET", "/anomaly/training-jobs", lambda w: "/anomaly/training-jobs", READERS_200),
    Row("GET", "/anomaly/training-jobs/{id}", lambda w: f"/anomaly/training-jobs/{w.anomaly_job_id}", READERS_200),
    Row("GET", "/anomaly/models", lambda w: "/anomaly/models", READERS_200),
    Row("POST", "/anomaly/analyses", lambda w: "/anomaly/analyses", READERS_409, lambda w: {"annotation_id": w.annotation_id}),
    Row("POST", "/anomaly/batch-analyses", lambda w: "/anomaly/batch-analyses", READERS_409,
        lambda w: {"batch_id": w.assigned_batch_id}),
    Row("GET", "/anomaly/analyses", lambda w: "/anomaly/analyses", READERS_200),
    Row("GET", "/anomaly/analyses/{id}", lambda w: f"/anomaly/analyses/{w.anomaly_analysis_id}", READERS_200),
    Row("GET", "/anomaly/similar-poses/{id}", lambda w: f"/anomaly/similar-poses/{w.annotation_id}", READERS_409),
    Row("GET", "/anomaly/poses/{id}", lambda w: f"/anomaly/poses/{w.annotation_id}", READERS_409),
    # --- analysis reports: admins and verifiers; a verifier's job is theirs. The submitted image has no
    # keypoints yet and the job has not run: past the door, the state rule answers 409.
    Row("POST", "/analyses", lambda w: "/analyses", READERS_409, lambda w: {"image_id": w.submitted_image_id}),
    Row("GET", "/analyses", lambda w: "/analyses", READERS_200),
    Row("GET", "/analyses/{id}", lambda w: f"/analyses/{w.analysis_job_id}", READERS_200),
    Row("GET", "/analyses/{id}/report", lambda w: f"/analyses/{w.analysis_job_id}/report", READERS_409),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_route_answers_each_kind_of_caller(
    row: Row, api: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    world = world_module.build(session_factory)
    outcomes = {}
    for persona_name in ORDER:
        body = row.body(world) if row.body else None
        query = row.query(world) if row.query else None
        response = api.call(row.method, row.path(world), world.people[persona_name], body=body, query=query)
        outcomes[persona_name] = response.status
        if response.status >= 400:
            assert response.headers["content-type"] == "application/problem+json", (
                persona_name,
                response.body,
            )
    assert outcomes == dict(zip(ORDER, row.expected, strict=True))


def test_the_table_covers_every_route() -> None:
    from api.handler import app  # noqa: PLC0415

    paths = app.get_openapi_schema().paths or {}
    documented = {
        (method.upper(), re.sub(r"\{\w+\}", "{id}", path))
        for path, item in paths.items()
        for method in ("get", "post", "put", "patch", "delete")
        if getattr(item, method, None) is not None
    }
    tested = {(row.method, row.route) for row in ROWS}
    assert documented - tested == set(), "routes without a row in the access table"
