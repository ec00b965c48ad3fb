"""The ten entities of seed 000 and Cradle's own additions; importing this package registers them all."""

from cradlepose.db.models.analysis import AnalysisJob, AnalysisResult, ReferencePassage
from cradlepose.db.models.annotation import Annotation
from cradlepose.db.models.anomaly import (
    AgeGroupModel,
    AnomalyAnalysis,
    AnomalyTrainingJob,
    AnomalyTrainingReport,
    InterpretabilityResult,
    PoseEmbedding,
)
from cradlepose.db.models.assignment import BatchAssignment
from cradlepose.db.models.audit import AuditLog
from cradlepose.db.models.batch import ImageBatch
from cradlepose.db.models.collection import Collection, CollectionItem
from cradlepose.db.models.dataset import Dataset, DatasetImage, DatasetTerm, VocabularyTerm
from cradlepose.db.models.dataset_import import DatasetImport
from cradlepose.db.models.image import Image
from cradlepose.db.models.keypoint_schema import KeypointSchema
from cradlepose.db.models.learning_loop import LearningLoopPolicy, LearningLoopRun
from cradlepose.db.models.ml_job import InferenceJob, TrainingJob
from cradlepose.db.models.model_config import MLModelConfig
from cradlepose.db.models.model_deployment import ModelDeployment
from cradlepose.db.models.model_metric import ModelMetric
from cradlepose.db.models.model_run_statistic import ModelRunStatistic
from cradlepose.db.models.pending_upload import PendingUpload
from cradlepose.db.models.performance import PerformanceMetrics
from cradlepose.db.models.pipeline_chunk import PipelineChunk
from cradlepose.db.models.pipeline_run import PipelineRun
from cradlepose.db.models.pipeline_wait import PipelineWait
from cradlepose.db.models.sigma_calibration import SigmaCalibration
from cradlepose.db.models.upload_manifest import UploadManifestEntry
from cradlepose.db.models.upload_rejection import UploadRejection
from cradlepose.db.models.user import User
from cradlepose.db.models.verification import Verification

__all__ = [
    "AgeGroupModel",
    "AnalysisJob",
    "AnalysisResult",
    "Annotation",
    "AnomalyAnalysis",
    "AnomalyTrainingJob",
    "AnomalyTrainingReport",
    "AuditLog",
    "BatchAssignment",
    "Collection",
    "CollectionItem",
    "Dataset",
    "DatasetImage",
    "DatasetImport",
    "DatasetTerm",
    "Image",
    "ImageBatch",
    "InferenceJob",
    "InterpretabilityResult",
    "KeypointSchema",
    "LearningLoopPolicy",
    "LearningLoopRun",
    "MLModelConfig",
    "ModelDeployment",
    "ModelMetric",
    "ModelRunStatistic",
    "PendingUpload",
    "PerformanceMetrics",
    "PipelineChunk",
    "PipelineRun",
    "PipelineWait",
    "PoseEmbedding",
    "ReferencePassage",
    "SigmaCalibration",
    "TrainingJob",
    "UploadManifestEntry",
    "UploadRejection",
    "User",
    "Verification",
    "VocabularyTerm",
]
