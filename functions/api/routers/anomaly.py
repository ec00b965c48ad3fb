"""Pose anomaly screening: age-group models, their training, analyses and similar poses.

A research aid for cerebral palsy screening studies, not a diagnosis; every answer says so.
Researchers (administrators and verifiers) read and analyse; administrators train.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Researcher, storage
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.adapters.storage import Storage
from cradlepose.anomaly import analysis as anomaly_analysis
from cradlepose.anomaly import pose_embeddings
from cradlepose.anomaly import training as anomaly_training
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page

router = Router()
TAGS = ["anomaly"]
StorageDep = Annotated[Storage, Depends(storage)]


@router.post(
    "/anomaly/training-jobs",
    tags=TAGS,
    status_code=201,
    summary="Queue a training of the age-group models (admin); the training worker runs it",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def request_training(
    me: Admin, body: Annotated[anomaly_training.AnomalyTrainingJobIn, Body()]
) -> anomaly_training.AnomalyTrainingJobOut:
    with me.uow() as uow:
        return anomaly_training.request_training(uow, body)


@router.get(
    "/anomaly/training-jobs",
    tags=TAGS,
    summary="Training jobs, newest first, with progress and report",
    responses=documented(200, 401, 403, 422),
)
def list_training_jobs(
    me: Researcher, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[anomaly_training.AnomalyTrainingJobOut]:
    with me.uow() as uow:
        return anomaly_training.list_jobs(uow, cursor=cursor, limit=limit)


@router.get(
    "/anomaly/training-jobs/<job_id>",
    tags=TAGS,
    summary="One training job: status, progress, validation report",
    responses=documented(200, 401, 403, 404),
)
def get_training_job(me: Researcher, job_id: ResourceId) -> anomaly_training.AnomalyTrainingJobOut:
    with me.uow() as uow:
        return anomaly_training.get_job(uow, job_id)


@router.get(
    "/anomaly/models",
    tags=TAGS,
    summary="Age-group models (the ones in force unless active=false)",
    responses=documented(200, 401, 403, 422),
)
def list_models(
    me: Researcher,
    active: Annotated[bool, Query(description="only the models in force")] = True,
    schema_id: IdFilter = None,
) -> list[anomaly_analysis.AgeGroupModelOut]:
    with me.uow() as uow:
        return anomaly_analysis.list_models(uow, active_only=active, schema_id=schema_id)


@router.post(
    "/anomaly/analyses",
    tags=TAGS,
    summary="Analyse one verified annotation (idempotent); 409 says why it cannot be scored",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def analyse_annotation(
    me: Researcher, files: StorageDep, body: Annotated[anomaly_analysis.AnalysisRequest, Body()]
) -> anomaly_analysis.AnalysisOut:
    with me.uow() as uow:
        return anomaly_analysis.analyse_annotation(uow, files, body.annotation_id)


@router.post(
    "/anomaly/batch-analyses",
    tags=TAGS,
    summary="Analyse every verified pose of a batch (idempotent); refusals are listed",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def analyse_batch(
    me: Researcher, files: StorageDep, body: Annotated[anomaly_analysis.BatchAnalysisRequest, Body()]
) -> anomaly_analysis.BatchAnalysisOut:
    with me.uow() as uow:
        return anomaly_analysis.analyse_batch(uow, files, body.batch_id)


@router.get(
    "/anomaly/analyses",
    tags=TAGS,
    summary="Analyses, newest first: filter by batch, annotation, verdict, model, score",
    responses=documented(200, 401, 403, 422),
)
def list_analyses(
    me: Researcher,
    files: StorageDep,
    batch_id: IdFilter = None,
    annotation_id: IdFilter = None,
    anomalous: Annotated[bool | None, Query(description="only atypical (true) or typical (false)")] = None,
    model_id: IdFilter = None,
    current: Annotated[bool, Query(description="only analyses by the models in force")] = True,
    min_normalized_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[anomaly_analysis.AnalysisOut]:
    with me.uow() as uow:
        return anomaly_analysis.list_analyses(
            uow,
            files,
            batch_id=batch_id,
            annotation_id=annotation_id,
            anomalous=anomalous,
            model_id=model_id,
            current_only=current,
            min_normalized_score=min_normalized_score,
            cursor=cursor,
            limit=limit,
        )


@router.get(
    "/anomaly/analyses/<analysis_id>",
    tags=TAGS,
    summary="One analysis: score, joint shares, sentence, overlay link",
    responses=documented(200, 401, 403, 404),
)
def get_analysis(me: Researcher, files: StorageDep, analysis_id: ResourceId) -> anomaly_analysis.AnalysisOut:
    with me.uow() as uow:
        return anomaly_analysis.get_analysis(uow, files, analysis_id)


@router.get(
    "/anomaly/similar-poses/<annotation_id>",
    tags=TAGS,
    summary="The stored verified poses most like this annotation's (HNSW); the pose itself first",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def similar_poses(
    me: Researcher,
    annotation_id: ResourceId,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> pose_embeddings.SimilarPoses:
    with me.uow() as uow:
        return pose_embeddings.similar_poses(uow, annotation_id, limit)


@router.get(
    "/anomaly/poses/<annotation_id>",
    tags=TAGS,
    summary="One verified pose's labelled keypoints, to draw it beside its analysis and neighbours",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def verified_pose(me: Researcher, annotation_id: ResourceId) -> pose_embeddings.VerifiedPoseOut:
    with me.uow() as uow:
        return pose_embeddings.verified_pose(uow, annotation_id)
