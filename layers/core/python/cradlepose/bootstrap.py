"""The composition root: the unit-of-work factory, the message bus and its subscribers, built once.

Every entry point — the API, the pipeline's task steps, the local stack, the CLI — gets its unit
of work and its bus from `bootstrap`, so what must follow a commit follows it wherever the commit
happened. Today the bus has one subscriber: a batch whose status changed releases the batch
pipeline's parked WaitForPeople token (preannotation.pipeline_waits), so the execution moves on as
soon as the API (or a task step) commits the change, in the cloud as on one machine.

Adapters are passed in by tests; by default they are the real ones, whose AWS clients are made
on first use. Building is cheap (no connection, no client), so an entry point may call it per
request; the engine behind the default factory is the process's one engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from cradlepose.adapters.workflow import StepFunctionsWorkflow, Workflow
from cradlepose.common.bus import MessageBus
from cradlepose.db.engine import default_session_factory
from cradlepose.db.unit_of_work import UnitOfWorkFactory, unit_of_work_factory
from cradlepose.preannotation import pipeline_waits


@dataclass(frozen=True)
class Cradle:
    """What an entry point works with."""

    uow_factory: UnitOfWorkFactory
    workflow: Workflow
    bus: MessageBus


def default_uow_factory() -> UnitOfWorkFactory:
    """Units of work on the process's one engine (built from the settings on first use)."""
    return unit_of_work_factory(default_session_factory())


def bootstrap(uow_factory: UnitOfWorkFactory | None = None, workflow: Workflow | None = None) -> Cradle:
    factory = uow_factory or default_uow_factory()
    flow = workflow or StepFunctionsWorkflow()
    return Cradle(uow_factory=factory, workflow=flow, bus=message_bus(factory, flow))


def message_bus(uow_factory: UnitOfWorkFactory, workflow: Workflow) -> MessageBus:
    """The bus with every subscriber Cradle has."""
    bus = MessageBus()
    pipeline_waits.subscribe(bus, uow_factory, workflow)
    return bus
