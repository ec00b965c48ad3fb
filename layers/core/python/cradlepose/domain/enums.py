"""Every enumeration of the data model (seed 000), as str enums so they serialize as their names.

The database stores them as native PostgreSQL enum types with the same names and values.
Where Cradle adds a value that the seed lacks, the docstring says why.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    ANNOTATOR = "ANNOTATOR"
    VERIFIER = "VERIFIER"


class BatchStatus(StrEnum):
    UPLOADED = "UPLOADED"
    YOLO_PROCESSING = "YOLO_PROCESSING"
    YOLO_COMPLETED = "YOLO_COMPLETED"
    READY_FOR_ANNOTATION = "READY_FOR_ANNOTATION"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"


class ImageStatus(StrEnum):
    UPLOADED = "UPLOADED"
    YOLO_PROCESSED = "YOLO_PROCESSED"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    ANNOTATED = "ANNOTATED"
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    REQUIRES_REVISION = "REQUIRES_REVISION"


class AssignmentType(StrEnum):
    INITIAL = "INITIAL"
    REVISION = "REVISION"
    QUALITY_CHECK = "QUALITY_CHECK"
    SECOND_OPINION = "SECOND_OPINION"


class AssignmentStatus(StrEnum):
    ASSIGNED = "ASSIGNED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    SUBMITTED = "SUBMITTED"
    OVERDUE = "OVERDUE"


class AnnotationStatus(StrEnum):
    """Seed 000's annotation statuses plus REJECTED.

    The seed has no terminal state for an annotation whose verification decision was
    REJECTED; without one it would have to pretend to be REVISION_REQUESTED.
    """

    DRAFT = "DRAFT"
    COMPLETED = "COMPLETED"
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    APPROVED = "APPROVED"
    REVISION_REQUESTED = "REVISION_REQUESTED"
    REJECTED = "REJECTED"


class DifficultyRating(StrEnum):
    EASY = "EASY"
    MEDIUM = "MEDIUM"
    HARD = "HARD"
    VERY_HARD = "VERY_HARD"


class VerificationDecision(StrEnum):
    APPROVED = "APPROVED"
    APPROVED_WITH_CORRECTIONS = "APPROVED_WITH_CORRECTIONS"
    MINOR_REVISION_NEEDED = "MINOR_REVISION_NEEDED"
    MAJOR_REVISION_NEEDED = "MAJOR_REVISION_NEEDED"
    REJECTED = "REJECTED"


class RejectionReason(StrEnum):
    POOR_IMAGE_QUALITY = "POOR_IMAGE_QUALITY"
    INCORRECT_KEYPOINTS = "INCORRECT_KEYPOINTS"
    ANATOMICAL_ERRORS = "ANATOMICAL_ERRORS"
    INCOMPLETE_ANNOTATION = "INCOMPLETE_ANNOTATION"
    TECHNICAL_ISSUES = "TECHNICAL_ISSUES"
    GUIDELINES_VIOLATION = "GUIDELINES_VIOLATION"
    OTHER = "OTHER"


class ClinicalRelevance(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class DiagnosticQuality(StrEnum):
    EXCELLENT = "EXCELLENT"
    GOOD = "GOOD"
    ADEQUATE = "ADEQUATE"
    POOR = "POOR"


class ModelType(StrEnum):
    YOLO = "YOLO"
    DETECTRON = "DETECTRON"
    CUSTOM = "CUSTOM"


class DeploymentStatus(StrEnum):
    DEVELOPMENT = "DEVELOPMENT"
    TESTING = "TESTING"
    PRODUCTION = "PRODUCTION"
    DEPRECATED = "DEPRECATED"


class AuditCategory(StrEnum):
    USER_MANAGEMENT = "USER_MANAGEMENT"
    IMAGE_PROCESSING = "IMAGE_PROCESSING"
    ANNOTATION = "ANNOTATION"
    VERIFICATION = "VERIFICATION"
    SYSTEM = "SYSTEM"


class AuditStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    PARTIAL = "PARTIAL"


class PeriodType(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"


class Visibility(IntEnum):
    """COCO's visibility flag `v`, kept unchanged through every export and import."""

    ABSENT = 0  # not labelled (outside the image or not determinable)
    OCCLUDED = 1  # labelled but not visible
    VISIBLE = 2  # labelled and visible


class PipelineRunStatus(StrEnum):
    REQUESTED = "REQUESTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# ---------------------------------------------------------------- datasets, exports, models (seeds 001, 002)


class DatasetSplit(StrEnum):
    """Seed 001's dataset_split. Lower case as in the seed: the values are also folder names in exports."""

    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


class DatasetOrigin(StrEnum):
    CURATED = "CURATED"  # verified images of Cradle, chosen by filters
    IMPORTED = "IMPORTED"  # a COCO keypoints file brought in for review


class DatasetVerification(StrEnum):
    """How far a dataset's images are verified now (an imported dataset's images are reviewed
    after its import, so this is read from the images' current status, not from the origin)."""

    VERIFIED = "VERIFIED"  # every image APPROVED
    PARTLY_VERIFIED = "PARTLY_VERIFIED"  # some images APPROVED, some not (yet)
    UNVERIFIED = "UNVERIFIED"  # no image APPROVED


class SplitGrouping(StrEnum):
    """What must never straddle two splits: one infant (subject), or one batch (session)."""

    SUBJECT = "subject"
    BATCH = "batch"


class ExportFormat(StrEnum):
    COCO_KEYPOINTS = "COCO_KEYPOINTS"
    YOLO_POSE = "YOLO_POSE"


class CollectionStatus(StrEnum):
    """Seed 002's collection statuses (upper case, as every status of Cradle)."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "AWAITING_UPLOAD"  # an upload form was issued
    PENDING = "PENDING"  # the uploader said the archive is in; the import worker takes it
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class VocabularyKind(StrEnum):
    """Seed 002's four vocabularies, kept in one table."""

    ANATOMICAL_AREA = "ANATOMICAL_AREA"
    MODALITY = "MODALITY"
    TASK_TYPE = "TASK_TYPE"
    TAG = "TAG"


class ModelFramework(StrEnum):
    """Seed 001's frameworks that predict keypoints (SAM2 segments, so it is not offered)."""

    YOLO11 = "YOLO11"
    YOLO12 = "YOLO12"
    RT_DETR = "RT-DETR"


class JobStatus(StrEnum):
    """Seed 001's training and inference job statuses, with its 'Any → Cancelled'."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class AnomalyTrainingStatus(StrEnum):
    """A training job of the age-group anomaly models (seed 004's training_jobs.status)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class AnalysisStatus(StrEnum):
    """Seed 003's job statuses, in its own lower-case spelling."""

    UPLOADED = "uploaded"
    SEGMENTING = "segmenting"
    CONVERTING = "converting"
    ENHANCING = "enhancing"
    COMPLETED = "completed"
    FAILED = "failed"


# ---------------------------------------------------------------- the learning loop (issue 23)


class LoopTrigger(StrEnum):
    """What started a learning-loop run (issue 23): the count of newly verified images, the
    schedule, or an admin's "run now"."""

    COUNT = "COUNT"
    SCHEDULE = "SCHEDULE"
    MANUAL = "MANUAL"


class LoopRunStatus(StrEnum):
    """A learning-loop run: RUNNING until the gate promoted the candidate, refused it, or a step failed."""

    RUNNING = "RUNNING"
    PROMOTED = "PROMOTED"
    REFUSED = "REFUSED"
    FAILED = "FAILED"
