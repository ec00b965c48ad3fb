"""domain/lifecycles.py's four tables against answer keys written out here, not read from the tables.

Sources: docs/datasets.md (the collection diagram; jobs `QUEUED → RUNNING → COMPLETED | FAILED |
CANCELLED`; models DEVELOPMENT → TESTING → PRODUCTION, "promoting another one deprecates it"),
seed 001 (training jobs: queued → running → completed/failed, "Any → Cancelled"), seed 002
(collection statuses), docs/datasets.md "Import" (an upload form, then start). Exception moves
that only lifecycles.py states, with its reason, are kept apart so each is tested on its own.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any

import pytest

from cradlepose.domain.enums import CollectionStatus, DeploymentStatus, ImportStatus, JobStatus
from cradlepose.domain.errors import IllegalTransition
from cradlepose.domain.lifecycles import COLLECTION, DEPLOYMENT, IMPORT, JOB
from cradlepose.domain.transitions import TransitionTable

pytestmark = pytest.mark.unit

Move = tuple[Any, Any]
C, I, J, D = CollectionStatus, ImportStatus, JobStatus, DeploymentStatus  # noqa: E741

# docs/datasets.md: PENDING ──packed──▶ READY ──retention over──▶ EXPIRED;
# PENDING └─failed──▶ FAILED ──retention over──▶ EXPIRED.
COLLECTION_KEY: frozenset[Move] = frozenset(
    {(C.PENDING, C.READY), (C.PENDING, C.FAILED), (C.READY, C.EXPIRED), (C.FAILED, C.EXPIRED)}
)
COLLECTION_EXCEPTIONS: frozenset[Move] = frozenset()

# docs/datasets.md "Import": POST /dataset-imports issues an upload form (AWAITING_UPLOAD), /start
# hands the archive to the import worker (PENDING), which completes it or fails it.
IMPORT_KEY: frozenset[Move] = frozenset(
    {(I.AWAITING_UPLOAD, I.PENDING), (I.PENDING, I.COMPLETED), (I.PENDING, I.FAILED)}
)
IMPORT_EXCEPTIONS: frozenset[Move] = frozenset()

# Seed 001: Queued → Running → Completed / Failed; "Any → Cancelled" (any not final: a finished job
# cannot be cancelled, docs/datasets.md cancels a queued job at once or a running one).
JOB_KEY: frozenset[Move] = frozenset(
    {
        (J.QUEUED, J.RUNNING),
        (J.RUNNING, J.COMPLETED),
        (J.RUNNING, J.FAILED),
        (J.QUEUED, J.CANCELLED),
        (J.RUNNING, J.CANCELLED),
    }
)
# lifecycles.py: a queued job fails when what it needs (its dataset's export) could not be made.
JOB_EXCEPTIONS: frozenset[Move] = frozenset({(J.QUEUED, J.FAILED)})

# docs/datasets.md: DEVELOPMENT → TESTING → PRODUCTION; promoting another deprecates the current one.
DEPLOYMENT_KEY: frozenset[Move] = frozenset(
    {(D.DEVELOPMENT, D.TESTING), (D.TESTING, D.PRODUCTION), (D.PRODUCTION, D.DEPRECATED)}
)
DEPLOYMENT_EXCEPTIONS: frozenset[Move] = frozenset(
    {
        # DISAGREEMENT kept visible: lifecycles.py lets a model leave testing for development; no
        # document states it (services/promotions uses it to withdraw a candidate).
        (D.TESTING, D.DEVELOPMENT),
        # lifecycles.py: a deprecated model may be tested again (and promoted back through TESTING).
        (D.DEPRECATED, D.TESTING),
    }
)

KEYS: dict[type[StrEnum], tuple[TransitionTable[Any], str, frozenset[Move], frozenset[Move]]] = {
    CollectionStatus: (COLLECTION, "Collection", COLLECTION_KEY, COLLECTION_EXCEPTIONS),
    ImportStatus: (IMPORT, "DatasetImport", IMPORT_KEY, IMPORT_EXCEPTIONS),
    JobStatus: (JOB, "Job", JOB_KEY, JOB_EXCEPTIONS),
    DeploymentStatus: (DEPLOYMENT, "MLModelConfig", DEPLOYMENT_KEY, DEPLOYMENT_EXCEPTIONS),
}
FAMILIES = list(KEYS)
FINALS: dict[type[StrEnum], set[Any]] = {
    CollectionStatus: {C.EXPIRED},
    ImportStatus: {I.COMPLETED, I.FAILED},
    JobStatus: {J.COMPLETED, J.FAILED, J.CANCELLED},
    DeploymentStatus: set(),  # a model can always be taken up again
}


def legal(status_type: type[StrEnum]) -> frozenset[Move]:
    _, _, key, exceptions = KEYS[status_type]
    return key | exceptions


LEGAL = [pytest.param(f, t, id=f"{type(f).__name__}:{f}->{t}") for s in FAMILIES for f, t in sorted(legal(s))]
ILLEGAL = [
    pytest.param(f, t, id=f"{s.__name__}:{f}->{t}")
    for s in FAMILIES
    for f, t in itertools.product(list(s), repeat=2)
    if (f, t) not in legal(s)
]
EXCEPTIONS = [
    pytest.param(f, t, id=f"{type(f).__name__}:{f}->{t}") for s in FAMILIES for f, t in sorted(KEYS[s][3])
]


@pytest.mark.parametrize("status_type", FAMILIES, ids=lambda s: s.__name__)
def test_the_table_is_exactly_its_answer_key(status_type: type[StrEnum]) -> None:
    table, entity, _, _ = KEYS[status_type]
    actual = frozenset((f, t) for f, targets in table.allowed.items() for t in targets)
    assert actual - legal(status_type) == set(), "moves no document allows"
    assert legal(status_type) - actual == set(), "documented moves the table lost"
    assert table.entity == entity
    # every status of the family is a row (a final one with no exit), so none is unknown to it
    assert set(table.allowed) == set(status_type)


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_every_legal_move_is_applied(current: Any, target: Any) -> None:
    table = KEYS[type(current)][0]
    assert table.can(current, target)
    assert table.apply(current, target) is target


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_other_move_raises_illegal_transition(current: Any, target: Any) -> None:
    table, entity, _, _ = KEYS[type(current)]
    assert not table.can(current, target)
    with pytest.raises(IllegalTransition) as info:
        table.apply(current, target)
    assert info.value.current is current
    assert info.value.target is target
    assert entity in info.value.detail


@pytest.mark.parametrize(("current", "target"), EXCEPTIONS)
def test_each_exception_move_is_allowed_on_its_own(current: Any, target: Any) -> None:
    assert KEYS[type(current)][0].apply(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (C.EXPIRED, C.READY),  # an expired archive's object is deleted
        (C.PENDING, C.EXPIRED),
        (I.AWAITING_UPLOAD, I.COMPLETED),  # skipping the worker's checks
        (I.FAILED, I.PENDING),
        (J.COMPLETED, J.CANCELLED),  # a finished job is not cancelled
        (J.QUEUED, J.COMPLETED),
        (J.CANCELLED, J.RUNNING),
        (D.DEVELOPMENT, D.PRODUCTION),  # production only through TESTING
        (D.DEPRECATED, D.PRODUCTION),
    ],
    ids=str,
)
def test_moves_the_rules_forbid_by_name(current: Any, target: Any) -> None:
    with pytest.raises(IllegalTransition):
        KEYS[type(current)][0].apply(current, target)


@pytest.mark.parametrize("status_type", FAMILIES, ids=lambda s: s.__name__)
def test_final_statuses(status_type: type[StrEnum]) -> None:
    assert KEYS[status_type][0].terminal() == FINALS[status_type]
