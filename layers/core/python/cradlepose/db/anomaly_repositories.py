"""Repositories of pose anomaly screening (db/models/anomaly.py), behind the unit of work."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import insert

from cradlepose.db.models import (
    AgeGroupModel,
    AnomalyAnalysis,
    AnomalyTrainingJob,
    AnomalyTrainingReport,
    InterpretabilityResult,
    PoseEmbedding,
)
from cradlepose.db.repositories import Repository
from cradlepose.domain.enums import AnomalyTrainingStatus

_RECIPE_PART = r"^[a-z0-9][a-z0-9.-]*$"


class PoseEmbeddingRepository(Repository[PoseEmbedding]):
    model, label = PoseEmbedding, "PoseEmbedding"

    def of_annotation(self, annotation_id: int, recipe: str, version: str) -> PoseEmbedding | None:
        return self.session.scalar(
            sa.select(PoseEmbedding).where(
                PoseEmbedding.annotation_id == annotation_id,
                PoseEmbedding.embedding_model == recipe,
                PoseEmbedding.embedding_version == version,
            )
        )

    def add_missing(self, rows: Sequence[dict[str, Any]], recipe: str, version: str) -> dict[int, int]:
        """Insert the embeddings not stored yet (one statement per 1,000); {annotation id: embedding id}.

        `rows` carry annotation_id, image_id, dimension and vector; an annotation already embedded
        under this recipe keeps its row (ON CONFLICT DO NOTHING), so running twice changes nothing.
        """
        for start in range(0, len(rows), 1000):
            chunk = [
                {**row, "embedding_model": recipe, "embedding_version": version}
                for row in rows[start : start + 1000]
            ]
            self.session.execute(
                insert(PoseEmbedding)
                .values(chunk)
                .on_conflict_do_nothing(constraint="uq_pose_embedding_recipe")
            )
        annotation_ids = [row["annotation_id"] for row in rows]
        found: dict[int, int] = {}
        for start in range(0, len(annotation_ids), 5000):
            rows_found = self.session.execute(
                sa.select(PoseEmbedding.annotation_id, PoseEmbedding.id).where(
                    PoseEmbedding.annotation_id.in_(annotation_ids[start : start + 5000]),
                    PoseEmbedding.embedding_model == recipe,
                    PoseEmbedding.embedding_version == version,
                )
            )
            found.update((annotation_id, embedding_id) for annotation_id, embedding_id in rows_found)
        return found

    @staticmethod
    def nearest_statement(
        vector: Sequence[float], recipe: str, version: str, dimension: int, limit: int
    ) -> sa.Select[Any]:
        """The `limit` embeddings nearest to `vector` (L2), in the shape the recipe's HNSW index serves.

        The recipe's predicate is written as literals, as the partial index's WHERE is, so the
        planner can match the index whatever the driver does with parameters; the ordering is the
        index's expression (the vector cast to the recipe's dimension) against the query vector.
        """
        if not (re.match(_RECIPE_PART, recipe) and re.match(_RECIPE_PART, version)):
            raise ValueError(f"not a recipe name/version: {recipe!r} {version!r}")
        query_vector = sa.cast(
            sa.bindparam("query_vector", list(vector), type_=Vector(dimension)), Vector(dimension)
        )
        distance = sa.cast(PoseEmbedding.vector, Vector(dimension)).l2_distance(query_vector)
        return (
            sa.select(PoseEmbedding, distance.label("distance"))
            .where(sa.text(f"embedding_model = '{recipe}' AND embedding_version = '{version}'"))
            .order_by(distance)
            .limit(limit)
        )

    def nearest(
        self, vector: Sequence[float], recipe: str, version: str, dimension: int, limit: int, ef_search: int
    ) -> list[tuple[PoseEmbedding, float]]:
        """Nearest embeddings; `ef_search` is HNSW's candidate list (recall against speed)."""
        self.session.execute(sa.text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
        statement = self.nearest_statement(vector, recipe, version, dimension, limit)
        return [(row, float(d)) for row, d in self.session.execute(statement)]


class AgeGroupModelRepository(Repository[AgeGroupModel]):
    model, label = AgeGroupModel, "AgeGroupModel"

    def active(self, schema_id: int | None, recipe: str, version: str) -> list[AgeGroupModel]:
        query = sa.select(AgeGroupModel).where(
            AgeGroupModel.is_active,
            AgeGroupModel.embedding_model == recipe,
            AgeGroupModel.embedding_version == version,
        )
        if schema_id is not None:
            query = query.where(AgeGroupModel.keypoint_schema_id == schema_id)
        return list(self.session.scalars(query.order_by(AgeGroupModel.age_min_months)))

    def deactivate(self, schema_id: int, recipe: str, version: str) -> list[int]:
        """Retire the active models of a schema and recipe; the ids retired."""
        rows = self.session.scalars(
            sa.update(AgeGroupModel)
            .where(
                AgeGroupModel.is_active,
                AgeGroupModel.keypoint_schema_id == schema_id,
                AgeGroupModel.embedding_model == recipe,
                AgeGroupModel.embedding_version == version,
            )
            .values(is_active=False)
            .returning(AgeGroupModel.id)
        )
        return list(rows)

    def of_job(self, job_id: int) -> list[AgeGroupModel]:
        return list(
            self.session.scalars(
                sa.select(AgeGroupModel)
                .where(AgeGroupModel.training_job_id == job_id)
                .order_by(AgeGroupModel.age_min_months)
            )
        )


class AnomalyAnalysisRepository(Repository[AnomalyAnalysis]):
    model, label = AnomalyAnalysis, "AnomalyAnalysis"

    def of(self, annotation_id: int, model_id: int) -> AnomalyAnalysis | None:
        return self.session.scalar(
            sa.select(AnomalyAnalysis).where(
                AnomalyAnalysis.annotation_id == annotation_id, AnomalyAnalysis.age_group_model_id == model_id
            )
        )


class InterpretabilityRepository(Repository[InterpretabilityResult]):
    model, label = InterpretabilityResult, "InterpretabilityResult"

    def of_analysis(self, analysis_id: int) -> InterpretabilityResult | None:
        return self.session.scalar(
            sa.select(InterpretabilityResult).where(InterpretabilityResult.analysis_id == analysis_id)
        )


class AnomalyTrainingJobRepository(Repository[AnomalyTrainingJob]):
    model, label = AnomalyTrainingJob, "AnomalyTrainingJob"

    def next_queued(self) -> AnomalyTrainingJob | None:
        """The oldest QUEUED job, locked; another worker skips it."""
        return self.session.scalar(
            sa.select(AnomalyTrainingJob)
            .where(AnomalyTrainingJob.status == AnomalyTrainingStatus.QUEUED)
            .order_by(AnomalyTrainingJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )

    def stale_running(self, before: dt.datetime) -> list[AnomalyTrainingJob]:
        """RUNNING jobs that have not reported progress since `before`, locked."""
        return list(
            self.session.scalars(
                sa.select(AnomalyTrainingJob)
                .where(
                    AnomalyTrainingJob.status == AnomalyTrainingStatus.RUNNING,
                    AnomalyTrainingJob.updated_at < before,
                )
                .with_for_update(skip_locked=True)
            )
        )


class AnomalyTrainingReportRepository(Repository[AnomalyTrainingReport]):
    model, label = AnomalyTrainingReport, "AnomalyTrainingReport"

    def of_job(self, job_id: int) -> AnomalyTrainingReport | None:
        return self.session.scalar(
            sa.select(AnomalyTrainingReport).where(AnomalyTrainingReport.training_job_id == job_id)
        )
