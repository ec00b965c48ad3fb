"""Things that happened, collected by the unit of work and published after it commits.

Services raise them; entry points hand the committed ones to the message bus
(cradlepose.common.bus), whose handlers do what must follow a commit — answering the batch
pipeline's task token when a batch reached a new stage, for instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from cradlepose.domain.enums import BatchStatus


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class BatchStatusChanged(Event):
    batch_id: int
    status: BatchStatus
