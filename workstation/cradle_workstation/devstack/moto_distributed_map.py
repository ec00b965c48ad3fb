"""moto's Distributed Map, adapted where it differs from AWS (written for moto 5.2.5).

The batch pipeline's PreAnnotate is a Distributed Map (ItemReader, ResultWriter,
MaxConcurrencyPath, a waitForTaskToken task in each child). moto's ASL interpreter runs all of it
but two things, which this module fixes while installed (a context manager, undone on exit):

1. ResultWriter's `Parameters` are evaluated against the Map's item outputs instead of the Map's
   input, so `"Prefix.$": "$.plan.map_results.prefix"` fails with States.Runtime. AWS evaluates
   them against the state's input: the patched `ResultWriter._eval_body` does so.
2. `ToleratedFailureCount` / `ToleratedFailurePercentage` have no effect (moto says so in a
   warning): a child execution that fails leaves a null output and the Map succeeds. In AWS the
   Map Run fails with States.ExceedToleratedFailureThreshold once more items failed than
   tolerated; the patched `DistributedIterationComponent._map_run` raises that error after the
   run. (AWS stops the other children at once; here they finish first. Nothing in Cradle
   depends on the difference: every chunk step may run twice.)

Everything else (ItemReader from S3 as a JSON array, MaxConcurrencyPath, HeartbeatSecondsPath,
task tokens answered from inside a child) works in moto 5.2.5 as in AWS;
tests/integration/devstack/test_moto_adaptations.py runs each through the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import result_writer_decl
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from cradle_workstation.devstack.moto_patches import MotoPatch

# What AWS's Map state reports when the failures pass the threshold.
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def _result_writer_eval_body(self: Any, env: Any) -> None:
    """ResultWriter's Parameters from the Map's input; the item outputs stay below for the writer."""
    outputs = env.stack[-1]
    env.stack.append(env.states.get_input())
    self.parargs.eval(env=env)
    parameters = env.stack.pop()
    env.stack.pop()  # the Map's input
    assert env.stack[-1] is outputs
    env.stack.append(parameters)
    self.resource_eval.eval_resource(env=env)


def _threshold_exceeded(failed: int, total: int, count: int, percentage: float) -> bool:
    if failed == 0:
        return False
    over_count = failed > count
    over_percentage = total > 0 and failed * 100.0 / total > percentage
    # AWS: a Map with neither field set tolerates nothing; with one or both, either threshold fails it.
    return over_count or over_percentage


def _enforcing_map_run(original: Callable[..., None]) -> Callable[..., None]:
    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        counter = eval_input.map_run_record.item_counter
        failed, total = counter.failed.get() + counter.timed_out.get(), counter.total.get()
        if _threshold_exceeded(
            failed, total, eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
        ):
            error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=error,
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                        mapRunFailedEventDetails=MapRunFailedEventDetails(
                            error=error.error_name, cause=THRESHOLD_CAUSE
                        )
                    ),
                )
            )

    return map_run


class DistributedMapFixes(MotoPatch):
    """Make moto's Distributed Map behave as AWS's where Cradle's pipeline relies on it."""

    written_for = "5.2.5"
    refusal = "moto's Distributed Map is already adapted in this process"

    def _install(self) -> None:
        component = distributed.DistributedIterationComponent
        self.replace(result_writer_decl.ResultWriter, "_eval_body", _result_writer_eval_body)
        self.replace(component, "_map_run", _enforcing_map_run(component._map_run))
