"""What the batch pipeline's steps hand each other through the state machine.

`infra/statemachines/batch_pipeline.asl.json` passes these between its tasks: PlanChunks writes
the run's `ChunkItem`s as one JSON array to S3 and returns a `PlanOutput` (where that list is, and a
few numbers); the Distributed Map reads the list (ItemReader) and gives each item to RunInference
(the dispatcher) and, with the inference result added under `inference`, to IngestChunk;
WaitForPeople is answered with a `StageReport`.
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
    # RunInference's HeartbeatSecondsPath: how long the chunk's task may stay silent.
    heartbeat_seconds: int = Field(ge=1)
    # The batch's execution (a chunk runs in a child execution of the Map): a chunk that fails
    # records the run's failure with its own error, which the Map's error would not carry.
    execution_id: str

    @property
    def manifest_uri(self) -> str:
        return f"s3://{self.manifest_bucket}/{self.manifest_key}"


class ObjectLocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str


class PrefixLocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    prefix: str


class PlanOutput(BaseModel):
    """What PlanChunks returns to the state machine: its size does not grow with the batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chunk_list: ObjectLocation  # the Map's ItemReader: one JSON array of ChunkItem
    chunk_count: int = Field(ge=0)
    image_count: int = Field(ge=0)
    max_concurrency: int = Field(ge=1)  # the Map's MaxConcurrencyPath: one chunk per GPU instance
    map_results: PrefixLocation  # the Map's ResultWriter


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


CHUNK_LIST_NAME = "chunks.json"  # the state machine's role may read only keys ending so under manifests/
MAP_RESULTS_PREFIX = "map-results/"  # the state machine's role may write only under it


def chunk_list_key(batch_id: int, attempt: int) -> str:
    """The run's chunk list, next to its manifests (`chunk-NNNNN.json`), under a name none of them has."""
    return f"manifests/{batch_id}/run-{attempt}/{CHUNK_LIST_NAME}"


def map_results_prefix(batch_id: int, attempt: int) -> str:
    """Where the Distributed Map's ResultWriter writes the run's map-run manifest and child results."""
    return f"{MAP_RESULTS_PREFIX}{batch_id}/run-{attempt}"


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
