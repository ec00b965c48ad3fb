"""Alembic migrations on the real embedded PostgreSQL: round trip, no drift, the seed's shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import cradlepose.db.models  # noqa: F401
from cradlepose.db import audit_partitions, migrate
from cradlepose.db.base import Base
from cradlepose.domain.keypoint_schema import DEFAULT_SCHEMA_NAME, infant_pose_17

pytestmark = pytest.mark.integration

# Cradle's additions beyond the seed (see docs/data-model.md).
EXTRA_TABLES = {
    "upload_rejections", "pipeline_runs", "pipeline_chunks", "pipeline_waits",
    # datasets, exports and models (seeds 001 and 002; migration 0005)
    "datasets", "dataset_images", "vocabulary_terms", "dataset_terms", "collections", "collection_items",
    "dataset_imports", "training_jobs", "inference_jobs", "model_metrics", "model_deployments",
    "sigma_calibrations",
    "analysis_jobs", "analysis_results", "reference_passages",
    "upload_manifest_entries",  # image metadata given with upload forms (migration 0011)
    "pending_uploads",  # single-use upload forms (issue 18; migration 0013)
    "model_run_statistics",  # a model's runs, its registry figures' sums (issue 19; migration 0016)
    "learning_loop_policies", "learning_loop_runs",  # the learning loop (issue 23; migration 0017)
}  # fmt: skip
# Pose anomaly screening (seed 004, docs/anomaly.md).
ANOMALY_TABLES = {
    "pose_embeddings", "anomaly_training_jobs", "anomaly_training_reports", "age_group_models",
    "anomaly_analyses", "interpretability_results",
}  # fmt: skip

SEED_TABLES = {
    "users", "keypoint_schemas", "image_batches", "images", "batch_assignments", "annotations",
    "verifications", "ml_model_configs", "audit_logs", "performance_metrics",
}  # fmt: skip

# Every index named in seed 000, by table.
SEED_INDEXES = {
    "users": {"idx_user_role_approved", "idx_user_email", "idx_user_active"},
    "keypoint_schemas": {"idx_keypoint_schema_active", "idx_keypoint_schema_name"},
    "image_batches": {"idx_batch_status", "idx_batch_uploaded_by", "idx_batch_schema", "idx_batch_priority"},
    "images": {
        "idx_image_batch_status", "idx_image_status", "idx_image_annotator", "idx_image_quality",
        "idx_image_created",
    },
    "batch_assignments": {
        "idx_assignment_annotator_status", "idx_assignment_batch", "idx_assignment_due_date",
        "idx_assignment_assigned_at",
    },
    "annotations": {
        "idx_annotation_image", "idx_annotation_assignment", "idx_annotation_status",
        "idx_annotation_submitted", "idx_annotation_quality",
    },
    "verifications": {
        "idx_verification_annotation", "idx_verification_verifier", "idx_verification_decision",
        "idx_verification_quality", "idx_verification_date",
    },
    "ml_model_configs": {"idx_ml_model_active", "idx_ml_model_type", "idx_ml_model_schema"},
    "audit_logs": {
        "idx_audit_user_action", "idx_audit_resource", "idx_audit_created", "idx_audit_action_category",
        "idx_audit_status",
    },
    "performance_metrics": {
        "idx_performance_user_date", "idx_performance_period", "idx_performance_accuracy",
        "idx_performance_unique",
    },
    # seed 003
    "analysis_jobs": {"idx_analysis_jobs_user_id", "idx_analysis_jobs_status", "idx_analysis_jobs_created_at"},
    "analysis_results": {"idx_analysis_results_job_id", "idx_analysis_results_created_at"},
}  # fmt: skip


@pytest.fixture
def empty_engine(empty_database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_database_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def _tables(engine: sa.Engine) -> set[str]:
    """The schema's tables; the audit log's monthly partitions are part of `audit_logs`."""
    names = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    return {name for name in names if not audit_partitions.is_partition(name)}


def _enum_types(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.text("SELECT typname FROM pg_type WHERE typtype = 'e'")))


def test_upgrade_downgrade_upgrade_round_trip(empty_engine: sa.Engine) -> None:
    # Given an empty database
    assert _tables(empty_engine) == set()

    # When it is upgraded to head, downgraded to base and upgraded again
    migrate.upgrade(empty_engine)
    assert _tables(empty_engine) == SEED_TABLES | EXTRA_TABLES | ANOMALY_TABLES
    migrate.downgrade(empty_engine, "base")
    after_downgrade_tables, after_downgrade_enums = _tables(empty_engine), _enum_types(empty_engine)
    migrate.upgrade(empty_engine)

    # Then the downgrade left nothing behind and the second upgrade is complete
    assert after_downgrade_tables == set()
    assert after_downgrade_enums == set()
    assert _tables(empty_engine) == SEED_TABLES | EXTRA_TABLES | ANOMALY_TABLES
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """The migrations' own filter (env.include_object): partitions belong to their parent."""
    return not (type_ == "table" and reflected and compare_to is None and audit_partitions.is_partition(name))


def test_models_and_migrations_do_not_drift(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn,
                opts={"compare_type": True, "compare_server_default": True, "include_object": _ours},
            ),
            Base.metadata,
        )
    assert diff == []


def test_every_seed_index_exists(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    for table, expected in SEED_INDEXES.items():
        names = {ix["name"] for ix in inspector.get_indexes(table)}
        assert expected <= names, f"{table} lacks {expected - names}"


def test_unique_constraints_of_the_seed(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    unique_columns = {
        table: {tuple(c["column_names"]) for c in inspector.get_unique_constraints(table)}
        | {tuple(ix["column_names"]) for ix in inspector.get_indexes(table) if ix["unique"]}
        for table in SEED_TABLES
    }
    assert ("username",) in unique_columns["users"]
    assert ("email",) in unique_columns["users"]
    assert ("user_id", "metrics_date", "period_type") in unique_columns["performance_metrics"]
    assert ("name", "version") in unique_columns["keypoint_schemas"]
    assert ("storage_path",) in unique_columns["images"]


def test_foreign_keys_of_the_seed(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)

    def refs(table: str) -> set[tuple[str, str]]:
        return {
            (fk["constrained_columns"][0], fk["referred_table"]) for fk in inspector.get_foreign_keys(table)
        }

    assert refs("images") >= {
        ("batch_id", "image_batches"),
        ("current_annotator", "users"),
        ("current_verifier", "users"),
    }
    assert refs("annotations") >= {
        ("image_id", "images"),
        ("batch_assignment_id", "batch_assignments"),
        ("original_annotation_id", "annotations"),
    }
    assert refs("verifications") >= {("annotation_id", "annotations"), ("verifier_id", "users")}
    assert refs("batch_assignments") >= {
        ("batch_id", "image_batches"),
        ("annotator_id", "users"),
        ("assigned_by", "users"),
    }
    assert refs("image_batches") >= {("keypoint_schema_id", "keypoint_schemas"), ("uploaded_by", "users")}
    assert refs("ml_model_configs") >= {("keypoint_schema_id", "keypoint_schemas"), ("created_by", "users")}
    assert refs("audit_logs") == {("user_id", "users")}
    assert refs("performance_metrics") == {("user_id", "users")}


def test_postgres_types_are_used(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        types: dict[str, str] = dict(
            conn.execute(
                sa.text(
                    "SELECT table_name || '.' || column_name, udt_name FROM information_schema.columns "
                    "WHERE table_schema = 'public'"
                )
            ).all()
        )
    assert types["audit_logs.ip_address"] == "inet"
    assert types["images.yolo_keypoints"] == "jsonb"
    assert types["annotations.refined_keypoints"] == "jsonb"
    assert types["images.created_at"] == "timestamptz"
    assert types["image_batches.status"] == "batch_status"
    assert types["verifications.decision"] == "verification_decision"


def test_default_schema_is_seeded_and_matches_the_domain(engine: sa.Engine) -> None:
    expected = infant_pose_17().row_values()
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text("SELECT * FROM keypoint_schemas WHERE name = :n"), {"n": DEFAULT_SCHEMA_NAME}
            )
            .mappings()
            .one()
        )
        system = (
            conn.execute(sa.text("SELECT * FROM users WHERE id = :id"), {"id": row["created_by"]})
            .mappings()
            .one()
        )
    for column, value in expected.items():
        assert row[column] == value, column
    assert row["is_active"] is True
    assert system["username"] == "system"
    assert system["is_active"] is False
    assert system["identity_subject"] is None
