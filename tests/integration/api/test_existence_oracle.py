"""Issue 18: a verifier cannot learn from error differences whether another batch's image exists."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.api import world as world_module
from tests.support import ApiClient

pytestmark = pytest.mark.integration

MISSING = 2_000_000_000


def test_an_image_a_verifier_may_not_use_answers_like_one_that_does_not_exist(
    api: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    world = world_module.build(session_factory)
    verifier = world.people["verifier"]
    hidden = world.ready_image_id  # another batch's image, not verified, not under their review
    answers = {}
    for image_id in (hidden, MISSING):
        for path, body in (
            ("/inference-jobs", {"model_id": world.model_id, "image_ids": [image_id]}),
            (f"/images/{image_id}", None),
            (f"/images/{image_id}/annotations", None),
        ):
            method = "POST" if body else "GET"
            response = api.call(method, path, verifier, body=body)
            problem = {k: v for k, v in response.json.items() if k not in ("request_id", "instance")}
            text = (
                json.dumps(problem, sort_keys=True)
                .replace(f" {image_id}", " #")
                .replace(f"/{image_id}", "/#")
            )
            answers[(path.replace(str(image_id), "#"), image_id)] = (response.status, text)
    for path in ("/inference-jobs", "/images/#", "/images/#/annotations"):
        assert answers[(path, hidden)] == answers[(path, MISSING)], path
    assert answers[("/inference-jobs", hidden)][0] == 422
