"""A trained research world for the browser tests and the screenshots: verified poses in three age
bands (one too small to model), the age-band models trained through the API's training job, a fresh
batch to screen, its pictures in the uploads bucket, and the reference notes the reports cite.

The verified poses are seeded as tests/integration/anomaly seeds them (tests/anomaly_support: the
workflow that produces them has its own tests).
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from cradle_workstation.devstack.identity_provider import CLIENT_ID
from cradlepose.adapters.storage import S3Storage
from cradlepose.anomaly import training as anomaly_training
from cradlepose.common.system import step_context
from cradlepose.domain import synthetic_poses
from cradlepose.domain.enums import Role
from cradlepose.domain.synthetic_poses import SyntheticPoses
from cradlepose.reports import reference_library
from cradlepose.settings import get_settings
from tests.anomaly_support import band_poses, seed_batch
from tests.browser.stack import PASSWORD, Person, RunningStack
from tests.support import Persona

BANDS = [{"age_min": 0, "age_max": 3}, {"age_min": 3, "age_max": 6}, {"age_min": 6, "age_max": 12}]


@dataclass(frozen=True)
class Research:
    admin: Person
    verifier: Person
    fresh_batch: int
    fresh_images: list[int]


def _call(stack: RunningStack, who: Person, method: str, path: str, body: Any = None) -> Any:
    """One call to the local API as `who`, with the ID token the sign-in form would get."""
    tokens = stack.idp.handle(
        "InitiateAuth",
        {
            "ClientId": CLIENT_ID,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": who.username, "PASSWORD": PASSWORD},
        },
    )["AuthenticationResult"]
    request = urllib.request.Request(
        f"{stack.base_url}/api{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {tokens['IdToken']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _persona(person: Person) -> Persona:
    return Persona(person.username, None, person.user_id, person.role)


def _picture() -> bytes:
    size = synthetic_poses.IMAGE_SIZE
    out = io.BytesIO()
    Image.new("RGB", (size, size), (214, 232, 226)).save(out, format="JPEG", quality=70)
    return out.getvalue()


def build(stack: RunningStack, admin: Person, verifier: Person) -> Research:
    annotator = stack.worker("research-annotator", Role.ANNOTATOR, admin)
    # Verified reference poses: two age bands with enough of them, one too small to model.
    parts = [
        band_poses(11, 90, 0, atypical_share=0.1),
        band_poses(12, 90, 1, atypical_share=0.1),
        band_poses(13, 8, 2),
    ]
    reference = SyntheticPoses(
        points=np.concatenate([p.points for p in parts]),
        present=np.concatenate([p.present for p in parts]),
        ages=np.concatenate([p.ages for p in parts]),
        atypical=np.concatenate([p.atypical for p in parts]),
        perturbed=tuple(x for p in parts for x in p.perturbed),
    )
    seeded = seed_batch(
        stack.session_factory, _persona(admin), _persona(annotator), reference, name="reference"
    )
    fresh_poses = band_poses(21, 6, 0, atypical_share=0.5)
    fresh = seed_batch(stack.session_factory, _persona(admin), _persona(annotator), fresh_poses, name="fresh")
    s3 = stack.s3()
    picture = _picture()
    for batch in (seeded, fresh):
        for image_id in batch.image_ids:
            key = stack.scalar("SELECT storage_path FROM images WHERE id = :i", i=image_id)
            s3.put_object(
                Bucket=get_settings().uploads_bucket, Key=key, Body=picture, ContentType="image/jpeg"
            )

    # The administrator asks for the age-band models through the API; the training worker runs the job.
    job = _call(
        stack,
        admin,
        "POST",
        "/anomaly/training-jobs",
        {
            "config": {
                "bands": BANDS,
                "min_samples": 30,
                "validation_fraction": 0.25,
                "seed": 1,
                "batch_ids": [seeded.batch_id],
            }
        },
    )
    deadline = time.monotonic() + 120
    while _call(stack, admin, "GET", f"/anomaly/training-jobs/{job['id']}")["status"] not in {
        "COMPLETED",
        "FAILED",
    }:
        if time.monotonic() > deadline:
            ran = anomaly_training.run_next(
                stack.uow_factory, S3Storage(), step_context("schedule:anomaly_training", kind="SCHEDULE")
            )
            assert ran is not None
            break
        time.sleep(0.5)
    assert _call(stack, admin, "GET", f"/anomaly/training-jobs/{job['id']}")["status"] == "COMPLETED"
    reference_library.sync(stack.uow_factory)  # the reference notes the reports cite
    return Research(admin, verifier, fresh.batch_id, fresh.image_ids)
