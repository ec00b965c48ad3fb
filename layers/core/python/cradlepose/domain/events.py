"""Things that happened, collected by the unit of work and published after it commits.

Services raise them; entry points hand the committed ones to the message bus
(cradlepose.common.bus), whose handlers do what must follow a commit — answering the batch
pipeline's task token when a batch reached a new stage, for instance.

Every status change is a `StatusChanged`, recorded by the one function that changes a status
(domain.status_changes.change_status); a batch's is a `BatchStatusChanged`, the event the
pipeline's waits subscribe to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cradlepose.domain.enums import BatchStatus


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class StatusChanged(Event):
    """`entity` (the aggregate's name) number `entity_id` reached `status`, from `previous`.

    Two events are equal when they name the same entity and the status it reached: handlers act on
    where an aggregate is now and are idempotent on it, whatever it moved from and why.
    """

    entity: str
    entity_id: int | None  # None only for a row not yet flushed
    status: StrEnum
    previous: StrEnum | None = field(default=None, compare=False)
    reason: str | None = field(default=None, compare=False)


class BatchStatusChanged(StatusChanged):
    """A batch's status changed; the batch pipeline's parked waits are answered on it."""

    def __init__(
        self,
        batch_id: int,
        status: BatchStatus,
        previous: BatchStatus | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__("ImageBatch", batch_id, status, previous, reason)

    @property
    def batch_id(self) -> int:
        assert self.entity_id is not None  # a batch's status changes only once it is stored
        return self.entity_id
