"""Counters stay exact and stale writes lose, under real concurrency (threads, one transaction each).

In the cloud concurrency comes from many Lambda instances sharing one database; here threads,
each with its own unit of work and connection, do the same to the same service functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import Actor
from cradlepose.domain.enums import Role
from cradlepose.domain.errors import StaleVersion
from cradlepose.workflow import annotations as annotation_service
from cradlepose.workflow import assignments, verifications
from tests.integration.workflow.conftest import Team, moved
from tests.support import Persona

pytestmark = pytest.mark.integration

N = 8


def _actor(persona: Persona) -> Actor:
    assert persona.user_id is not None
    assert persona.role is not None
    return Actor(user_id=persona.user_id, username=persona.name, role=persona.role, is_approved=True)


def _in_parallel(work: Callable[[int], Any], n: int) -> list[Any]:
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()  # start together
        try:
            return work(i)
        except Exception as error:  # collected, asserted by the caller
            return error

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _assigned_batch(
    uow_factory: UnitOfWorkFactory, team: Team, ready_batch: Callable[..., int]
) -> tuple[int, list[int]]:
    batch_id = ready_batch(N)
    with uow_factory(_actor(team.admin)) as uow:
        assignment = assignments.assign_batch(uow, batch_id, assignments.AssignmentIn(annotator_id=team.annotator.user_id,
                                              priority=5))  # fmt: skip
    with uow_factory(_actor(team.annotator)) as uow:
        assignments.start(uow, assignment.id)
    with uow_factory(None) as uow:
        images = list(
            uow.session.scalars(sa.text(f"SELECT id FROM images WHERE batch_id = {batch_id} ORDER BY id"))
        )
    return assignment.id, images


def _draft(uow_factory: UnitOfWorkFactory, team: Team, image_id: int, dx: float, version: int | None) -> Any:
    with uow_factory(_actor(team.annotator)) as uow:
        item = annotation_service.work_item(uow, image_id)
        body = annotation_service.AnnotationIn(keypoints=moved(item.yolo_keypoints or {}, dx))
        return annotation_service.save_draft(uow, image_id, body, version)


def test_parallel_submissions_keep_exact_counters(
    uow_factory: UnitOfWorkFactory, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    assignment_id, images = _assigned_batch(uow_factory, team, ready_batch)
    drafts = [_draft(uow_factory, team, image_id, 2.0, None) for image_id in images]

    def submit(i: int) -> Any:
        with uow_factory(_actor(team.annotator)) as uow:
            return annotation_service.submit(uow, images[i], drafts[i].row_version)

    results = _in_parallel(submit, N)

    assert [type(r).__name__ for r in results] == ["AnnotationOut"] * N
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT images_completed, status, progress_percentage FROM batch_assignments WHERE id = :id"
            ),
            {"id": assignment_id},
        ).one()
    assert row.images_completed == N
    assert row.status == "SUBMITTED"
    assert float(row.progress_percentage) == 100.0


def test_parallel_verifications_keep_exact_counters_and_complete_once(
    uow_factory: UnitOfWorkFactory,
    team: Team,
    ready_batch: Callable[..., int],
    engine: sa.Engine,
    session_factory: Any,
) -> None:
    from tests.support import make_user  # noqa: PLC0415

    _, images = _assigned_batch(uow_factory, team, ready_batch)
    for image_id in images:
        draft = _draft(uow_factory, team, image_id, 1.0, None)
        with uow_factory(_actor(team.annotator)) as uow:
            annotation_service.submit(uow, image_id, draft.row_version)
    checkers = [make_user(session_factory, Role.VERIFIER, name=f"checker{i}") for i in range(N)]

    def verify(i: int) -> Any:
        with uow_factory(_actor(checkers[i])) as uow:
            item = verifications.claim_next(uow, verifications.Queue.SUBMITTED)
        assert item is not None, "every verifier finds work: claims never collide"
        command = verifications.VerificationIn(decision="APPROVED", overall_quality_score=8,
                                               verification_time_seconds=5, certainty_level=9)  # fmt: skip
        with uow_factory(_actor(checkers[i])) as uow:
            return verifications.decide(uow, item.annotation.id, command)

    results = _in_parallel(verify, N)

    assert [type(r).__name__ for r in results] == ["DecisionOut"] * N, results
    with engine.connect() as conn:
        batch = conn.execute(
            sa.text("SELECT status, approved_count, completed_count FROM image_batches")
        ).one()
        claimed = conn.scalar(sa.text("SELECT count(DISTINCT annotation_id) FROM verifications"))
        completed_audits = conn.scalar(
            sa.text("SELECT count(*) FROM audit_logs WHERE action = 'BATCH_COMPLETED'")
        )
    assert tuple(batch) == ("COMPLETED", N, N)
    assert claimed == N
    assert completed_audits == 1


def test_two_writers_of_the_same_version_one_wins(
    uow_factory: UnitOfWorkFactory, team: Team, ready_batch: Callable[..., int], engine: sa.Engine
) -> None:
    _, images = _assigned_batch(uow_factory, team, ready_batch)
    image_id = images[0]
    first = _draft(uow_factory, team, image_id, 1.0, None)

    results = _in_parallel(lambda i: _draft(uow_factory, team, image_id, 10.0 + i, first.row_version), 2)

    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], StaleVersion)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT row_version, refined_keypoints FROM annotations")).one()
    assert stored.row_version == first.row_version + 1
    assert stored.refined_keypoints == winners[0].refined_keypoints


def test_a_stale_write_through_the_api_is_a_412_and_changes_nothing(
    api: Any, team: Team, ready_batch: Callable[..., int]
) -> None:
    batch_id = ready_batch(1)
    assignment = api.post(
        f"/batches/{batch_id}/assignments", team.admin, body={"annotator_id": team.annotator.user_id}
    ).json
    api.post(f"/assignments/{assignment['id']}/start", team.annotator)
    work = api.get(f"/assignments/{assignment['id']}/next-image", team.annotator).json["item"]
    image = work["image_id"]
    first = api.put(f"/images/{image}/annotation", team.annotator, body={"keypoints": work["yolo_keypoints"]})
    second = api.put(f"/images/{image}/annotation", team.annotator, body={"keypoints": moved(work["yolo_keypoints"], 5)},
                     headers={"If-Match": first.headers["etag"]})  # fmt: skip
    stale = api.put(f"/images/{image}/annotation", team.annotator, body={"keypoints": moved(work["yolo_keypoints"], 9)},
                    headers={"If-Match": first.headers["etag"]})  # fmt: skip
    assert stale.status == 412
    assert f"at version {second.json['row_version']}" in stale.json["detail"]
    current = api.get(f"/images/{image}/work", team.annotator).json["annotation"]
    assert current["row_version"] == second.json["row_version"]
    assert current["refined_keypoints"] == second.json["refined_keypoints"]
