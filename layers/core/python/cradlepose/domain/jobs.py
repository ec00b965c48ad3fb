"""The contract between Cradle and the jobs that train and run models (the inference container).

Cradle writes a spec (JSON) to S3 and starts the job with the spec's location; the job writes
`JobReport`s to `status_uri` as it goes (overwriting the object), and the jobs worker copies the
latest report into the job's row. To cancel, Cradle writes an object at `cancel_uri`; the job
looks for it between batches and stops. Neither side imports the other: this module is the whole
agreement, as domain.inference is for the batch pipeline.

URIs are `s3://bucket/key`, or local paths where a job runs on the same machine without S3.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cradlepose.domain.bounds import INTEGER_MAX
from cradlepose.domain.enums import DatasetSplit, JobStatus
from cradlepose.domain.inference import ChunkImage, ModelSpec
from cradlepose.domain.keypoint_errors import PCK_ALPHA
from cradlepose.domain.keypoints import KeypointSet
from cradlepose.domain.model_statistics import RunTally

LOG_TAIL_LINES = 200


class TrainingHyperparameters(BaseModel):
    """What an Ultralytics pose fine-tune is given; anything not listed keeps Ultralytics' default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=50, ge=1, le=1000)
    imgsz: int = Field(default=640, ge=32, le=2048, description="training image size (pixels, square)")
    batch: int = Field(default=16, ge=1, le=512)
    patience: int = Field(default=50, ge=0, le=1000, description="epochs without improvement before stopping")
    lr0: float | None = Field(default=None, gt=0, le=1, description="initial learning rate")
    freeze: int | None = Field(default=None, ge=0, le=50, description="layers to freeze, from the input")
    seed: int = Field(default=0, ge=0, le=INTEGER_MAX)
    workers: int = Field(default=2, ge=0, le=32, description="data-loading processes")
    device: str | None = Field(
        default=None, pattern=r"^(cpu|cuda|cuda:\d+|\d+)$", description="default: the GPU when there is one"
    )
    mosaic: float | None = Field(default=None, ge=0, le=1, description="mosaic augmentation probability")


class TrainingSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["training"] = "training"
    job_id: int
    base_weights: str  # package:<pkg>/<file>, s3://…, or a path
    dataset_archive: str  # the YOLO pose ZIP Cradle exported
    hyperparameters: TrainingHyperparameters
    output_weights: str  # where the trained weights go
    status_uri: str
    cancel_uri: str


class TruthImage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: int
    width: int
    height: int
    keypoints: KeypointSet


class EvaluationSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset_id: int
    split: DatasetSplit
    keypoint_ids: list[int]  # schema order
    keypoint_names: list[str]
    sigmas: list[float]  # OKS sigma per keypoint, schema order
    pck_alpha: float = PCK_ALPHA
    truth: list[TruthImage]


class InferenceJobSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["inference"] = "inference"
    job_id: int
    model: ModelSpec
    bucket: str | None  # where the images are (None: local paths)
    images: list[ChunkImage] = Field(min_length=1)
    predictions_uri: str  # JSON lines, one ImageResult per image
    status_uri: str
    cancel_uri: str
    evaluation: EvaluationSpec | None = None


JobSpec = Annotated[TrainingSpec | InferenceJobSpec, Field(discriminator="kind")]
JOB_SPEC: TypeAdapter[TrainingSpec | InferenceJobSpec] = TypeAdapter(JobSpec)  # reads either kind


class KeypointScore(BaseModel):
    keypoint_id: int
    name: str
    mean_error_px: float | None
    pck: float | None
    labelled: int
    detected: int
    # Mean OKS term of this keypoint (None in reports written before it existed): the loop's gate.
    oks: float | None = None


KEYPOINT_BOX = "keypoint box"  # OKS area: the tight box around the labelled keypoints (Cradle's scale)
PERSON_BOX = "person box"  # OKS area: the padded person box, the scale COCO's own areas are closest to


class CocoComparableAp(BaseModel):
    """The same AP figures with OKS's area taken from the person box (the exported `bbox`).

    COCO's `area` is the person's segmented area, which the keypoints' tight box underestimates
    (the head and feet lie beyond the keypoints); the padded person box is the closer stand-in, so
    these are the figures to set beside published COCO keypoint APs. They do not gate promotions.
    """

    oks_area: str = PERSON_BOX
    ap: float
    ap50: float
    ap75: float
    ap_medium: float
    ap_large: float
    ar: float


class EvaluationMetrics(BaseModel):
    """COCO keypoint metrics (pycocotools, the schema's sigmas) and per-keypoint errors.

    `ap`…`ar75` use the keypoint box as OKS's area (`oks_area`): the figures the promotion gate
    compares. `coco_comparable` holds the same AP with the person box's area. A figure whose size
    range holds no ground truth is -1, as pycocotools reports it.
    """

    images: int
    oks_area: str = KEYPOINT_BOX
    ap: float
    ap50: float
    ap75: float
    ap_medium: float  # -1 where there is no ground truth of that size, as pycocotools reports it
    ap_large: float
    ar: float
    ar50: float
    ar75: float
    coco_comparable: CocoComparableAp | None = None  # None in reports written before it existed
    mean_error_px: float | None
    pck: float | None
    pck_alpha: float
    sigmas: list[float]
    per_keypoint: list[KeypointScore]


class TrainingOutcome(BaseModel):
    weights_uri: str
    epochs_completed: int
    metrics: dict[str, float]  # Ultralytics' final validation figures, e.g. metrics/mAP50-95(P)
    keypoint_count: int


class InferenceOutcome(BaseModel):
    images: int
    ok: int
    failed: int
    persons: int
    predictions_uri: str
    evaluation: EvaluationMetrics | None = None
    # The sums the model's registry figures are rolled up from (None from a runner that predates them).
    tally: RunTally | None = None


class JobReport(BaseModel):
    """What a job says about itself; the latest one wins."""

    model_config = ConfigDict(extra="forbid")

    job_id: int
    kind: Literal["training", "inference"]
    state: JobStatus
    progress: float = Field(ge=0, le=100)
    message: str | None = None
    log_tail: str = ""
    error: str | None = None
    training: TrainingOutcome | None = None
    inference: InferenceOutcome | None = None
    # The runner's own measure of the work, from reading the spec to the final report (the last
    # report carries it; queueing and the container's start are not in it).
    processing_time_ms: int | None = Field(default=None, ge=0)
    updated_at: dt.datetime
