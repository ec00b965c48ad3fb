"""The message bus: what happens after a unit of work has committed.

Handlers are registered per event type by the entry point that owns the adapters they need
(the API wires the batch pipeline's task-token release, tests wire recorders). A failing
handler is logged and does not undo the committed change; every handler is idempotent and its
work is repeated by the next event or by the scheduled sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cradlepose.domain.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]


@dataclass
class MessageBus:
    handlers: dict[type[Event], list[Handler]] = field(default_factory=dict)

    def subscribe(self, event_type: type[Event], handler: Handler) -> None:
        self.handlers.setdefault(event_type, []).append(handler)

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            for handler in self.handlers.get(type(event), []):
                try:
                    handler(event)
                except Exception:
                    log.exception("a handler of %s failed", type(event).__name__)
