"""What the batch pipeline's steps hand each other through the state machine.

`infra/statemachines/batch_pipeline.asl.json` passes these between its tasks: PlanChunks returns
`ChunkItem`s, the Map gives each to RunInference (the dispatcher) and, with the inference result
added under `inference`, to IngestChunk; WaitForPeople is answered with a `StageReport`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from cradlepose.domain.enums import BatchStatus

# Statuses after which a batch has nothing left for its pipeline run to wait for.
FINAL_BATCH_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.ARCHIVED})
MODEL_LABEL_LENGTH = 20  # images.yolo_model_version and image_batches.yolo_model_version


class ChunkItem(BaseModel):
    """One chunk of a run: what the Map's iteration needs, and nothing that names a patient."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: int
    run_id: int
    chunk_index: int = Field(ge=0)
    image_count: int = Field(ge=1)
    manifest_bucket: str
    manifest_key: str
    results_bucket: str
    results_key: str

    @property
    def manifest_uri(self) -> str:
        return f"s3://{self.manifest_bucket}/{self.manifest_key}"


class StageReport(BaseModel):
    """The answer to a parked WaitForPeople token: where the batch is now, and whether it is done."""

    model_config = ConfigDict(frozen=True)

    status: BatchStatus
    completed: bool

    @classmethod
    def of(cls, status: BatchStatus) -> StageReport:
        return cls(status=status, completed=status in FINAL_BATCH_STATUSES)


def manifest_key(batch_id: int, attempt: int, chunk_index: int) -> str:
    return f"manifests/{batch_id}/run-{attempt}/chunk-{chunk_index:05d}.json"


def results_key(batch_id: int, attempt: int, chunk_index: int) -> str:
    return f"results/{batch_id}/run-{attempt}/chunk-{chunk_index:05d}.jsonl"


def chunked(image_ids: Sequence[int], size: int) -> list[list[int]]:
    """`image_ids` in order, `size` at a time (the last chunk may be smaller)."""
    if size < 1:
        raise ValueError("a chunk holds at least one image")
    return [list(image_ids[start : start + size]) for start in range(0, len(image_ids), size)]


def model_label(name: str, version: str) -> str:
    """What `yolo_model_version` records: `name@version`, or the version alone when that is too long.

    The column is the seed's varchar(20); the version alone still tells two runs of one model apart.
    """
    label = f"{name}@{version}"
    return label if len(label) <= MODEL_LABEL_LENGTH else version[:MODEL_LABEL_LENGTH]


def execution_name(execution_id: str) -> str:
    """The name of an execution from its ARN (`$$.Execution.Id`): the part after the last colon."""
    return execution_id.rsplit(":", 1)[-1]
