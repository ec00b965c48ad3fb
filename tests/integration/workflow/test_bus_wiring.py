"""The API publishes what it committed on the composition root's bus, which releases pipeline waits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cradlepose.domain.enums import BatchStatus
from cradlepose.domain.events import BatchStatusChanged, Event
from tests.integration.workflow.conftest import Team
from tests.support import ApiClient

pytestmark = pytest.mark.integration


def test_archiving_a_batch_publishes_its_status_change(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], published: list[Event]
) -> None:
    # Given a batch ready for annotation
    batch_id = ready_batch(1)

    # When an admin archives it through the API
    assert api.post(f"/batches/{batch_id}/archive", team.admin).status == 200

    # Then the commit's status change reaches the bus, so the pipeline's wait is released
    assert published == [BatchStatusChanged(batch_id, BatchStatus.ARCHIVED)]


def test_a_refused_change_publishes_nothing(
    api: ApiClient, team: Team, ready_batch: Callable[..., int], published: list[Event]
) -> None:
    batch_id = ready_batch(1)
    assert api.post(f"/batches/{batch_id}/archive", team.admin).status == 200

    # Archiving again is refused: nothing committed, nothing published
    assert api.post(f"/batches/{batch_id}/archive", team.admin).status == 409
    assert published == [BatchStatusChanged(batch_id, BatchStatus.ARCHIVED)]
