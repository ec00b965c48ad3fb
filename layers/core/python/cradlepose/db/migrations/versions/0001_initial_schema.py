"""initial schema: the ten entities of seed 000

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:49:01.333737
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of cradlepose.domain.keypoint_schema.infant_pose_17() as of this revision. A test
# checks the seeded row still equals the domain's definition; a change there needs a new migration.
DEFAULT_SCHEMA = json.loads(
    r"""
{
    "name": "infant-pose-17",
    "version": "v1.0",
    "description": "Infant whole-body pose: the 17 COCO keypoints and skeleton, with COCO's OKS sigmas until infant-calibrated ones are adopted.",
    "schema_definition": {
        "keypoints": [
            {
                "id": 0,
                "name": "nose",
                "color": "#FF0000",
                "required": true,
                "sigma": 0.026
            },
            {
                "id": 1,
                "name": "left_eye",
                "color": "#00C853",
                "required": false,
                "sigma": 0.025
            },
            {
                "id": 2,
                "name": "right_eye",
                "color": "#FF6D00",
                "required": false,
                "sigma": 0.025
            },
            {
                "id": 3,
                "name": "left_ear",
                "color": "#00BFA5",
                "required": false,
                "sigma": 0.035
            },
            {
                "id": 4,
                "name": "right_ear",
                "color": "#FFAB00",
                "required": false,
                "sigma": 0.035
            },
            {
                "id": 5,
                "name": "left_shoulder",
                "color": "#2962FF",
                "required": true,
                "sigma": 0.079
            },
            {
                "id": 6,
                "name": "right_shoulder",
                "color": "#D50000",
                "required": true,
                "sigma": 0.079
            },
            {
                "id": 7,
                "name": "left_elbow",
                "color": "#00B8D4",
                "required": false,
                "sigma": 0.072
            },
            {
                "id": 8,
                "name": "right_elbow",
                "color": "#C51162",
                "required": false,
                "sigma": 0.072
            },
            {
                "id": 9,
                "name": "left_wrist",
                "color": "#6200EA",
                "required": false,
                "sigma": 0.062
            },
            {
                "id": 10,
                "name": "right_wrist",
                "color": "#AA00FF",
                "required": false,
                "sigma": 0.062
            },
            {
                "id": 11,
                "name": "left_hip",
                "color": "#304FFE",
                "required": true,
                "sigma": 0.107
            },
            {
                "id": 12,
                "name": "right_hip",
                "color": "#DD2C00",
                "required": true,
                "sigma": 0.107
            },
            {
                "id": 13,
                "name": "left_knee",
                "color": "#0091EA",
                "required": false,
                "sigma": 0.087
            },
            {
                "id": 14,
                "name": "right_knee",
                "color": "#FF3D00",
                "required": false,
                "sigma": 0.087
            },
            {
                "id": 15,
                "name": "left_ankle",
                "color": "#00E5FF",
                "required": false,
                "sigma": 0.089
            },
            {
                "id": 16,
                "name": "right_ankle",
                "color": "#FFD600",
                "required": false,
                "sigma": 0.089
            }
        ],
        "connections": [
            [
                15,
                13
            ],
            [
                13,
                11
            ],
            [
                16,
                14
            ],
            [
                14,
                12
            ],
            [
                11,
                12
            ],
            [
                5,
                11
            ],
            [
                6,
                12
            ],
            [
                5,
                6
            ],
            [
                5,
                7
            ],
            [
                6,
                8
            ],
            [
                7,
                9
            ],
            [
                8,
                10
            ],
            [
                1,
                2
            ],
            [
                0,
                1
            ],
            [
                0,
                2
            ],
            [
                1,
                3
            ],
            [
                2,
                4
            ],
            [
                3,
                5
            ],
            [
                4,
                6
            ]
        ],
        "body_parts": {
            "head": [
                0,
                1,
                2,
                3,
                4
            ],
            "torso": [
                5,
                6,
                11,
                12
            ],
            "arms": [
                5,
                7,
                9,
                6,
                8,
                10
            ],
            "legs": [
                11,
                13,
                15,
                12,
                14,
                16
            ]
        }
    },
    "total_keypoints": 17,
    "required_keypoints": [
        0,
        5,
        6,
        11,
        12
    ],
    "min_visibility_threshold": "0.5",
    "max_missing_keypoints": 3
}
"""
)

ENUM_TYPES = (
    "user_role", "batch_status", "image_status", "assignment_type", "assignment_status",
    "annotation_status", "difficulty_rating", "verification_decision", "rejection_reason",
    "clinical_relevance", "diagnostic_quality", "model_type", "deployment_status",
    "audit_category", "audit_status", "period_type",
)  # fmt: skip

# Columns the database keeps current on every UPDATE (table, column).
TOUCHED_COLUMNS = (
    ("keypoint_schemas", "last_modified"),
    ("annotations", "updated_at"),
    ("ml_model_configs", "last_updated"),
)

TRIGGERS_SQL = """
CREATE FUNCTION cradle_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], now()));
    RETURN NEW;
END $$;

CREATE FUNCTION cradle_image_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.last_status_change := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER images_last_status_change BEFORE UPDATE ON images
    FOR EACH ROW EXECUTE FUNCTION cradle_image_status_changed();

-- The audit log is append-only for everyone, table owner included.
CREATE FUNCTION cradle_audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION cradle_audit_log_is_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION cradle_audit_log_is_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password", sa.String(length=128), server_default=sa.text("'!'"), nullable=False),
        sa.Column("identity_subject", sa.String(length=255), nullable=True),
        sa.Column("role", sa.Enum("ADMIN", "ANNOTATOR", "VERIFIER", name="user_role"), nullable=False),
        sa.Column("is_approved", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_staff", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("max_concurrent_batches", sa.Integer(), server_default=sa.text("2"), nullable=False),
        sa.Column("annotation_specialty", sa.String(length=100), nullable=True),
        sa.Column("verification_expertise", sa.String(length=100), nullable=True),
        sa.Column("total_annotations_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_verifications_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "avg_annotation_time_minutes",
            sa.Numeric(precision=5, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column(
            "accuracy_score", sa.Numeric(precision=3, scale=2), server_default=sa.text("0.00"), nullable=False
        ),
        sa.Column("date_joined", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("password = '!'", name=op.f("ck_users_password_unusable")),
        sa.CheckConstraint("accuracy_score BETWEEN 0 AND 1", name=op.f("ck_users_accuracy_score_range")),
        sa.CheckConstraint(
            "avg_annotation_time_minutes >= 0", name=op.f("ck_users_avg_annotation_time_minutes_non_negative")
        ),
        sa.CheckConstraint(
            "max_concurrent_batches BETWEEN 0 AND 100", name=op.f("ck_users_max_concurrent_batches_range")
        ),
        sa.CheckConstraint(
            "total_annotations_completed >= 0", name=op.f("ck_users_total_annotations_completed_non_negative")
        ),
        sa.CheckConstraint(
            "total_verifications_completed >= 0",
            name=op.f("ck_users_total_verifications_completed_non_negative"),
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_users_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("identity_subject", name=op.f("uq_users_identity_subject")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index("idx_user_active", "users", ["is_active"], unique=False)
    op.create_index("idx_user_email", "users", ["email"], unique=False)
    op.create_index("idx_user_role_approved", "users", ["role", "is_approved"], unique=False)
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column(
            "action_category",
            sa.Enum(
                "USER_MANAGEMENT",
                "IMAGE_PROCESSING",
                "ANNOTATION",
                "VERIFICATION",
                "SYSTEM",
                name="audit_category",
            ),
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=50), nullable=False),
        sa.Column("resource_id", sa.BigInteger(), nullable=False),
        sa.Column("resource_name", sa.String(length=255), nullable=True),
        sa.Column("old_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("change_summary", sa.Text(), nullable=True),
        sa.Column("session_id", sa.String(length=100), nullable=True),
        sa.Column("ip_address", postgresql.INET(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("api_endpoint", sa.String(length=200), nullable=True),
        sa.Column("request_method", sa.String(length=10), nullable=True),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("http_status", sa.SmallInteger(), nullable=True),
        sa.Column("action_duration_ms", sa.Integer(), nullable=True),
        sa.Column("processing_time_ms", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("SUCCESS", "FAILED", "PARTIAL", name="audit_status"),
            server_default="SUCCESS",
            nullable=False,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("warning_messages", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("batch_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("annotation_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("system_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "action_duration_ms >= 0", name=op.f("ck_audit_logs_action_duration_ms_non_negative")
        ),
        sa.CheckConstraint("http_status BETWEEN 100 AND 599", name=op.f("ck_audit_logs_http_status_range")),
        sa.CheckConstraint(
            "processing_time_ms >= 0", name=op.f("ck_audit_logs_processing_time_ms_non_negative")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_logs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
    )
    op.create_index("idx_audit_action_category", "audit_logs", ["action_category"], unique=False)
    op.create_index("idx_audit_created", "audit_logs", ["created_at"], unique=False)
    op.create_index("idx_audit_resource", "audit_logs", ["resource_type", "resource_id"], unique=False)
    op.create_index("idx_audit_status", "audit_logs", ["status"], unique=False)
    op.create_index("idx_audit_user_action", "audit_logs", ["user_id", "action"], unique=False)
    op.create_table(
        "keypoint_schemas",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=10), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("schema_definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_keypoints", sa.Integer(), nullable=False),
        sa.Column("required_keypoints", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "min_visibility_threshold",
            sa.Numeric(precision=2, scale=1),
            server_default=sa.text("0.5"),
            nullable=False,
        ),
        sa.Column("max_missing_keypoints", sa.Integer(), server_default=sa.text("3"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "last_modified", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "jsonb_typeof(schema_definition) = 'object'",
            name=op.f("ck_keypoint_schemas_schema_definition_object"),
        ),
        sa.CheckConstraint(
            "required_keypoints IS NULL OR jsonb_typeof(required_keypoints) = 'array'",
            name=op.f("ck_keypoint_schemas_required_keypoints_array"),
        ),
        sa.CheckConstraint(
            "max_missing_keypoints BETWEEN 0 AND total_keypoints",
            name=op.f("ck_keypoint_schemas_max_missing_keypoints_range"),
        ),
        sa.CheckConstraint(
            "min_visibility_threshold BETWEEN 0 AND 1",
            name=op.f("ck_keypoint_schemas_min_visibility_threshold_range"),
        ),
        sa.CheckConstraint("total_keypoints > 0", name=op.f("ck_keypoint_schemas_total_keypoints_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_keypoint_schemas_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keypoint_schemas")),
        sa.UniqueConstraint("name", "version", name="uq_keypoint_schema_name_version"),
    )
    op.create_index("idx_keypoint_schema_active", "keypoint_schemas", ["is_active"], unique=False)
    op.create_index("idx_keypoint_schema_name", "keypoint_schemas", ["name"], unique=False)
    op.create_index(
        "uq_keypoint_schema_one_active_version",
        "keypoint_schemas",
        ["name"],
        unique=True,
        postgresql_where=sa.text("is_active"),
    )
    op.create_table(
        "performance_metrics",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("metrics_date", sa.Date(), nullable=False),
        sa.Column(
            "period_type",
            sa.Enum("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", name="period_type"),
            nullable=False,
        ),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("images_annotated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("annotations_created", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("annotations_revised", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "avg_time_per_annotation_minutes",
            sa.Numeric(precision=5, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column("total_annotation_time_minutes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("annotations_verified", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("annotations_approved", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("annotations_rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "avg_verification_time_minutes",
            sa.Numeric(precision=5, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column(
            "accuracy_score", sa.Numeric(precision=3, scale=2), server_default=sa.text("0.00"), nullable=False
        ),
        sa.Column(
            "avg_quality_rating",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column(
            "improvement_trend",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column(
            "productivity_score",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column(
            "consistency_score",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column(
            "learning_curve_indicator",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column("keypoint_accuracy_breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("difficulty_distribution", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("time_distribution", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error_patterns", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("peer_comparison_percentile", sa.Integer(), nullable=True),
        sa.Column(
            "improvement_rate",
            sa.Numeric(precision=5, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column("system_uptime_percentage", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("avg_processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("error_rate_percentage", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column(
            "calculated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "calculation_version", sa.String(length=10), server_default=sa.text("'1.0'"), nullable=False
        ),
        sa.Column(
            "data_completeness",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("1.00"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "accuracy_score BETWEEN 0 AND 1", name=op.f("ck_performance_metrics_accuracy_score_range")
        ),
        sa.CheckConstraint(
            "avg_quality_rating BETWEEN 0 AND 1", name=op.f("ck_performance_metrics_avg_quality_rating_range")
        ),
        sa.CheckConstraint(
            "consistency_score BETWEEN 0 AND 1", name=op.f("ck_performance_metrics_consistency_score_range")
        ),
        sa.CheckConstraint(
            "data_completeness BETWEEN 0 AND 1", name=op.f("ck_performance_metrics_data_completeness_range")
        ),
        sa.CheckConstraint(
            "error_rate_percentage BETWEEN 0 AND 100",
            name=op.f("ck_performance_metrics_error_rate_percentage_range"),
        ),
        sa.CheckConstraint(
            "images_annotated >= 0 AND annotations_created >= 0 AND annotations_revised >= 0 AND total_annotation_time_minutes >= 0 AND annotations_verified >= 0 AND annotations_approved >= 0 AND annotations_rejected >= 0 AND avg_time_per_annotation_minutes >= 0 AND avg_verification_time_minutes >= 0",
            name=op.f("ck_performance_metrics_counts_non_negative"),
        ),
        sa.CheckConstraint(
            "peer_comparison_percentile BETWEEN 1 AND 100",
            name=op.f("ck_performance_metrics_peer_comparison_percentile_range"),
        ),
        sa.CheckConstraint("period_end > period_start", name=op.f("ck_performance_metrics_period_ordered")),
        sa.CheckConstraint(
            "productivity_score BETWEEN 0 AND 1", name=op.f("ck_performance_metrics_productivity_score_range")
        ),
        sa.CheckConstraint(
            "system_uptime_percentage BETWEEN 0 AND 100",
            name=op.f("ck_performance_metrics_system_uptime_percentage_range"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_performance_metrics_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_metrics")),
    )
    op.create_index("idx_performance_accuracy", "performance_metrics", ["accuracy_score"], unique=False)
    op.create_index(
        "idx_performance_period", "performance_metrics", ["period_type", "period_start"], unique=False
    )
    op.create_index(
        "idx_performance_unique",
        "performance_metrics",
        ["user_id", "metrics_date", "period_type"],
        unique=True,
    )
    op.create_index(
        "idx_performance_user_date", "performance_metrics", ["user_id", "metrics_date"], unique=False
    )
    op.create_table(
        "image_batches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("keypoint_schema_id", sa.BigInteger(), nullable=False),
        sa.Column("total_images", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "UPLOADED",
                "YOLO_PROCESSING",
                "YOLO_COMPLETED",
                "READY_FOR_ANNOTATION",
                "ASSIGNED",
                "IN_PROGRESS",
                "COMPLETED",
                "ARCHIVED",
                name="batch_status",
            ),
            server_default="UPLOADED",
            nullable=False,
        ),
        sa.Column("yolo_processing_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yolo_processing_completed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yolo_model_version", sa.String(length=20), nullable=True),
        sa.Column("avg_yolo_confidence", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("failed_yolo_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("quality_check_passed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "min_image_quality_score",
            sa.Numeric(precision=3, scale=1),
            server_default=sa.text("7.0"),
            nullable=False,
        ),
        sa.Column("upload_metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("processing_priority", sa.Integer(), server_default=sa.text("5"), nullable=False),
        sa.Column("uploaded_by", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("assigned_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("completed_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("approved_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rejected_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("approved_count >= 0", name=op.f("ck_image_batches_approved_count_non_negative")),
        sa.CheckConstraint("assigned_count >= 0", name=op.f("ck_image_batches_assigned_count_non_negative")),
        sa.CheckConstraint(
            "avg_yolo_confidence BETWEEN 0 AND 1", name=op.f("ck_image_batches_avg_yolo_confidence_range")
        ),
        sa.CheckConstraint(
            "completed_count >= 0", name=op.f("ck_image_batches_completed_count_non_negative")
        ),
        sa.CheckConstraint(
            "failed_yolo_count >= 0", name=op.f("ck_image_batches_failed_yolo_count_non_negative")
        ),
        sa.CheckConstraint(
            "min_image_quality_score BETWEEN 1 AND 10",
            name=op.f("ck_image_batches_min_image_quality_score_range"),
        ),
        sa.CheckConstraint(
            "processing_priority BETWEEN 1 AND 10", name=op.f("ck_image_batches_processing_priority_range")
        ),
        sa.CheckConstraint("rejected_count >= 0", name=op.f("ck_image_batches_rejected_count_non_negative")),
        sa.CheckConstraint("total_images >= 0", name=op.f("ck_image_batches_total_images_non_negative")),
        sa.ForeignKeyConstraint(
            ["keypoint_schema_id"],
            ["keypoint_schemas.id"],
            name=op.f("fk_image_batches_keypoint_schema_id_keypoint_schemas"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_image_batches_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_batches")),
    )
    op.create_index(
        "idx_batch_priority", "image_batches", ["processing_priority", "uploaded_at"], unique=False
    )
    op.create_index("idx_batch_schema", "image_batches", ["keypoint_schema_id"], unique=False)
    op.create_index("idx_batch_status", "image_batches", ["status"], unique=False)
    op.create_index("idx_batch_uploaded_by", "image_batches", ["uploaded_by"], unique=False)
    op.create_table(
        "ml_model_configs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("model_type", sa.Enum("YOLO", "DETECTRON", "CUSTOM", name="model_type"), nullable=False),
        sa.Column("keypoint_schema_id", sa.BigInteger(), nullable=False),
        sa.Column("supports_confidence_scores", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("supports_visibility_flags", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("model_parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("input_resolution", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("preprocessing_config", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("avg_processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("avg_confidence_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("success_rate", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("model_path", sa.String(length=500), nullable=True),
        sa.Column("api_endpoint", sa.String(length=500), nullable=True),
        sa.Column(
            "deployment_status",
            sa.Enum("DEVELOPMENT", "TESTING", "PRODUCTION", "DEPRECATED", name="deployment_status"),
            server_default="DEVELOPMENT",
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("training_dataset_info", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "last_updated", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "avg_confidence_score BETWEEN 0 AND 1",
            name=op.f("ck_ml_model_configs_avg_confidence_score_range"),
        ),
        sa.CheckConstraint(
            "avg_processing_time_ms >= 0",
            name=op.f("ck_ml_model_configs_avg_processing_time_ms_non_negative"),
        ),
        sa.CheckConstraint(
            "success_rate BETWEEN 0 AND 1", name=op.f("ck_ml_model_configs_success_rate_range")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_ml_model_configs_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["keypoint_schema_id"],
            ["keypoint_schemas.id"],
            name=op.f("fk_ml_model_configs_keypoint_schema_id_keypoint_schemas"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ml_model_configs")),
        sa.UniqueConstraint("model_name", "version", name="uq_ml_model_name_version"),
    )
    op.create_index("idx_ml_model_active", "ml_model_configs", ["is_active"], unique=False)
    op.create_index("idx_ml_model_schema", "ml_model_configs", ["keypoint_schema_id"], unique=False)
    op.create_index("idx_ml_model_type", "ml_model_configs", ["model_type"], unique=False)
    op.create_index(
        "uq_ml_model_one_production_per_schema",
        "ml_model_configs",
        ["keypoint_schema_id"],
        unique=True,
        postgresql_where=sa.text("deployment_status = 'PRODUCTION' AND is_active"),
    )
    op.create_table(
        "batch_assignments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("annotator_id", sa.BigInteger(), nullable=False),
        sa.Column("assigned_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "assignment_type",
            sa.Enum("INITIAL", "REVISION", "QUALITY_CHECK", "SECOND_OPINION", name="assignment_type"),
            server_default="INITIAL",
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), server_default=sa.text("5"), nullable=False),
        sa.Column("special_instructions", sa.Text(), nullable=True),
        sa.Column("estimated_completion_hours", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "ASSIGNED",
                "ACKNOWLEDGED",
                "IN_PROGRESS",
                "COMPLETED",
                "SUBMITTED",
                "OVERDUE",
                name="assignment_status",
            ),
            server_default="ASSIGNED",
            nullable=False,
        ),
        sa.Column(
            "progress_percentage",
            sa.Numeric(precision=5, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column("images_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("images_total", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_time_spent_minutes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "avg_time_per_image_minutes",
            sa.Numeric(precision=5, scale=2),
            server_default=sa.text("0.00"),
            nullable=False,
        ),
        sa.Column("pause_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("self_reported_difficulty", sa.Integer(), nullable=True),
        sa.Column("completion_confidence", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.CheckConstraint(
            "avg_time_per_image_minutes >= 0",
            name=op.f("ck_batch_assignments_avg_time_per_image_minutes_non_negative"),
        ),
        sa.CheckConstraint(
            "completion_confidence BETWEEN 0 AND 1",
            name=op.f("ck_batch_assignments_completion_confidence_range"),
        ),
        sa.CheckConstraint(
            "estimated_completion_hours > 0",
            name=op.f("ck_batch_assignments_estimated_completion_hours_positive"),
        ),
        sa.CheckConstraint(
            "images_completed <= images_total",
            name=op.f("ck_batch_assignments_images_completed_within_total"),
        ),
        sa.CheckConstraint(
            "images_completed >= 0", name=op.f("ck_batch_assignments_images_completed_non_negative")
        ),
        sa.CheckConstraint("images_total >= 0", name=op.f("ck_batch_assignments_images_total_non_negative")),
        sa.CheckConstraint("pause_count >= 0", name=op.f("ck_batch_assignments_pause_count_non_negative")),
        sa.CheckConstraint("priority BETWEEN 1 AND 10", name=op.f("ck_batch_assignments_priority_range")),
        sa.CheckConstraint(
            "progress_percentage BETWEEN 0 AND 100",
            name=op.f("ck_batch_assignments_progress_percentage_range"),
        ),
        sa.CheckConstraint(
            "self_reported_difficulty BETWEEN 1 AND 5",
            name=op.f("ck_batch_assignments_self_reported_difficulty_range"),
        ),
        sa.CheckConstraint(
            "total_time_spent_minutes >= 0",
            name=op.f("ck_batch_assignments_total_time_spent_minutes_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["annotator_id"], ["users.id"], name=op.f("fk_batch_assignments_annotator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"], ["users.id"], name=op.f("fk_batch_assignments_assigned_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_batch_assignments_batch_id_image_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_assignments")),
    )
    op.create_index(
        "idx_assignment_annotator_status", "batch_assignments", ["annotator_id", "status"], unique=False
    )
    op.create_index("idx_assignment_assigned_at", "batch_assignments", ["assigned_at"], unique=False)
    op.create_index("idx_assignment_batch", "batch_assignments", ["batch_id"], unique=False)
    op.create_index("idx_assignment_due_date", "batch_assignments", ["due_date"], unique=False)
    op.create_table(
        "images",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("storage_path", sa.String(length=500), nullable=False),
        sa.Column("thumbnail_path", sa.String(length=500), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("mime_type", sa.String(length=50), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("infant_metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("acquisition_date", sa.Date(), nullable=True),
        sa.Column("source_institution", sa.String(length=100), nullable=True),
        sa.Column("anonymization_status", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("yolo_keypoints", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("yolo_confidence", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("yolo_processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("yolo_model_version", sa.String(length=20), nullable=True),
        sa.Column("image_quality_score", sa.Numeric(precision=3, scale=1), nullable=True),
        sa.Column("has_quality_issues", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("quality_issues", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "UPLOADED",
                "YOLO_PROCESSED",
                "ASSIGNED",
                "IN_PROGRESS",
                "ANNOTATED",
                "SUBMITTED",
                "UNDER_REVIEW",
                "APPROVED",
                "REJECTED",
                "REQUIRES_REVISION",
                name="image_status",
            ),
            server_default="UPLOADED",
            nullable=False,
        ),
        sa.Column("current_annotator", sa.BigInteger(), nullable=True),
        sa.Column("current_verifier", sa.BigInteger(), nullable=True),
        sa.Column("is_difficult_case", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "requires_specialist_review", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("has_annotation_issues", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "last_status_change", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("format IN ('JPEG', 'PNG')", name=op.f("ck_images_format_supported")),
        sa.CheckConstraint("file_size > 0", name=op.f("ck_images_file_size_positive")),
        sa.CheckConstraint(
            "image_quality_score BETWEEN 1 AND 10", name=op.f("ck_images_image_quality_score_range")
        ),
        sa.CheckConstraint("width > 0 AND height > 0", name=op.f("ck_images_dimensions_positive")),
        sa.CheckConstraint("yolo_confidence BETWEEN 0 AND 1", name=op.f("ck_images_yolo_confidence_range")),
        sa.CheckConstraint(
            "yolo_processing_time_ms >= 0", name=op.f("ck_images_yolo_processing_time_ms_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_images_batch_id_image_batches")
        ),
        sa.ForeignKeyConstraint(
            ["current_annotator"], ["users.id"], name=op.f("fk_images_current_annotator_users")
        ),
        sa.ForeignKeyConstraint(
            ["current_verifier"], ["users.id"], name=op.f("fk_images_current_verifier_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("storage_path", name=op.f("uq_images_storage_path")),
    )
    op.create_index("idx_image_annotator", "images", ["current_annotator"], unique=False)
    op.create_index("idx_image_batch_status", "images", ["batch_id", "status"], unique=False)
    op.create_index("idx_image_created", "images", ["created_at"], unique=False)
    op.create_index("idx_image_quality", "images", ["image_quality_score"], unique=False)
    op.create_index("idx_image_status", "images", ["status"], unique=False)
    op.create_table(
        "annotations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_assignment_id", sa.BigInteger(), nullable=False),
        sa.Column("refined_keypoints", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("keypoint_confidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("keypoint_visibility", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("keypoint_notes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("annotation_quality_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column(
            "difficulty_rating",
            sa.Enum("EASY", "MEDIUM", "HARD", "VERY_HARD", name="difficulty_rating"),
            nullable=True,
        ),
        sa.Column("difficulty_reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("annotation_tool_version", sa.String(length=20), nullable=True),
        sa.Column("total_keypoints_modified", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("major_corrections_made", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("used_ai_suggestions", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("general_notes", sa.Text(), nullable=True),
        sa.Column("image_quality_feedback", sa.Text(), nullable=True),
        sa.Column("suggested_improvements", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("is_revision", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("original_annotation_id", sa.BigInteger(), nullable=True),
        sa.Column("revision_reason", sa.Text(), nullable=True),
        sa.Column("time_spent_seconds", sa.Integer(), nullable=False),
        sa.Column("pause_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("zoom_level_used", sa.Numeric(precision=3, scale=1), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "COMPLETED",
                "SUBMITTED",
                "UNDER_REVIEW",
                "APPROVED",
                "REVISION_REQUESTED",
                "REJECTED",
                name="annotation_status",
            ),
            server_default="DRAFT",
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "NOT is_revision OR original_annotation_id IS NOT NULL",
            name=op.f("ck_annotations_revision_has_original"),
        ),
        sa.CheckConstraint(
            "annotation_quality_score BETWEEN 0 AND 1",
            name=op.f("ck_annotations_annotation_quality_score_range"),
        ),
        sa.CheckConstraint("pause_count >= 0", name=op.f("ck_annotations_pause_count_non_negative")),
        sa.CheckConstraint("row_version >= 1", name=op.f("ck_annotations_row_version_positive")),
        sa.CheckConstraint(
            "time_spent_seconds >= 0", name=op.f("ck_annotations_time_spent_seconds_non_negative")
        ),
        sa.CheckConstraint(
            "total_keypoints_modified >= 0", name=op.f("ck_annotations_total_keypoints_modified_non_negative")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_annotations_version_positive")),
        sa.CheckConstraint("zoom_level_used > 0", name=op.f("ck_annotations_zoom_level_used_positive")),
        sa.ForeignKeyConstraint(
            ["batch_assignment_id"],
            ["batch_assignments.id"],
            name=op.f("fk_annotations_batch_assignment_id_batch_assignments"),
        ),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_annotations_image_id_images")),
        sa.ForeignKeyConstraint(
            ["original_annotation_id"],
            ["annotations.id"],
            name=op.f("fk_annotations_original_annotation_id_annotations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
    )
    op.create_index("idx_annotation_assignment", "annotations", ["batch_assignment_id"], unique=False)
    op.create_index("idx_annotation_image", "annotations", ["image_id"], unique=False)
    op.create_index("idx_annotation_quality", "annotations", ["annotation_quality_score"], unique=False)
    op.create_index("idx_annotation_status", "annotations", ["status"], unique=False)
    op.create_index("idx_annotation_submitted", "annotations", ["submitted_at"], unique=False)
    op.create_table(
        "verifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("annotation_id", sa.BigInteger(), nullable=False),
        sa.Column("verifier_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "APPROVED",
                "APPROVED_WITH_CORRECTIONS",
                "MINOR_REVISION_NEEDED",
                "MAJOR_REVISION_NEEDED",
                "REJECTED",
                name="verification_decision",
            ),
            nullable=False,
        ),
        sa.Column("corrected_keypoints", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("correction_summary", sa.Text(), nullable=True),
        sa.Column("detailed_feedback", sa.Text(), nullable=True),
        sa.Column("feedback_to_annotator", sa.Text(), nullable=True),
        sa.Column("internal_notes", sa.Text(), nullable=True),
        sa.Column("overall_quality_score", sa.Integer(), nullable=False),
        sa.Column("anatomical_accuracy", sa.Integer(), nullable=True),
        sa.Column("technical_precision", sa.Integer(), nullable=True),
        sa.Column("completeness_score", sa.Integer(), nullable=True),
        sa.Column("keypoint_accuracy_scores", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("problematic_keypoints", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "rejection_reason",
            sa.Enum(
                "POOR_IMAGE_QUALITY",
                "INCORRECT_KEYPOINTS",
                "ANATOMICAL_ERRORS",
                "INCOMPLETE_ANNOTATION",
                "TECHNICAL_ISSUES",
                "GUIDELINES_VIOLATION",
                "OTHER",
                name="rejection_reason",
            ),
            nullable=True,
        ),
        sa.Column("rejection_details", sa.Text(), nullable=True),
        sa.Column("can_be_reannotated", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("requires_specialist_input", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "clinical_relevance", sa.Enum("HIGH", "MEDIUM", "LOW", name="clinical_relevance"), nullable=True
        ),
        sa.Column(
            "diagnostic_quality",
            sa.Enum("EXCELLENT", "GOOD", "ADEQUATE", "POOR", name="diagnostic_quality"),
            nullable=True,
        ),
        sa.Column("research_usability", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("verification_time_seconds", sa.Integer(), nullable=False),
        sa.Column("complexity_rating", sa.Integer(), nullable=True),
        sa.Column("certainty_level", sa.Integer(), nullable=False),
        sa.Column("is_final_decision", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("requires_second_opinion", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("escalated_to_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "decision <> 'APPROVED_WITH_CORRECTIONS' OR corrected_keypoints IS NOT NULL",
            name=op.f("ck_verifications_corrections_have_keypoints"),
        ),
        sa.CheckConstraint(
            "decision <> 'REJECTED' OR rejection_reason IS NOT NULL",
            name=op.f("ck_verifications_rejection_has_reason"),
        ),
        sa.CheckConstraint(
            "anatomical_accuracy BETWEEN 1 AND 10", name=op.f("ck_verifications_anatomical_accuracy_range")
        ),
        sa.CheckConstraint(
            "certainty_level BETWEEN 1 AND 10", name=op.f("ck_verifications_certainty_level_range")
        ),
        sa.CheckConstraint(
            "completeness_score BETWEEN 1 AND 10", name=op.f("ck_verifications_completeness_score_range")
        ),
        sa.CheckConstraint(
            "complexity_rating BETWEEN 1 AND 5", name=op.f("ck_verifications_complexity_rating_range")
        ),
        sa.CheckConstraint(
            "overall_quality_score BETWEEN 1 AND 10",
            name=op.f("ck_verifications_overall_quality_score_range"),
        ),
        sa.CheckConstraint(
            "technical_precision BETWEEN 1 AND 10", name=op.f("ck_verifications_technical_precision_range")
        ),
        sa.CheckConstraint(
            "verification_time_seconds >= 0",
            name=op.f("ck_verifications_verification_time_seconds_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["annotation_id"], ["annotations.id"], name=op.f("fk_verifications_annotation_id_annotations")
        ),
        sa.ForeignKeyConstraint(
            ["verifier_id"], ["users.id"], name=op.f("fk_verifications_verifier_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index("idx_verification_annotation", "verifications", ["annotation_id"], unique=False)
    op.create_index("idx_verification_date", "verifications", ["verified_at"], unique=False)
    op.create_index("idx_verification_decision", "verifications", ["decision"], unique=False)
    op.create_index("idx_verification_quality", "verifications", ["overall_quality_score"], unique=False)
    op.create_index("idx_verification_verifier", "verifications", ["verifier_id"], unique=False)
    _install_triggers()
    _seed_system_user_and_default_schema()


def downgrade() -> None:
    _drop_triggers()
    op.drop_index("idx_verification_verifier", table_name="verifications")
    op.drop_index("idx_verification_quality", table_name="verifications")
    op.drop_index("idx_verification_decision", table_name="verifications")
    op.drop_index("idx_verification_date", table_name="verifications")
    op.drop_index("idx_verification_annotation", table_name="verifications")
    op.drop_table("verifications")
    op.drop_index("idx_annotation_submitted", table_name="annotations")
    op.drop_index("idx_annotation_status", table_name="annotations")
    op.drop_index("idx_annotation_quality", table_name="annotations")
    op.drop_index("idx_annotation_image", table_name="annotations")
    op.drop_index("idx_annotation_assignment", table_name="annotations")
    op.drop_table("annotations")
    op.drop_index("idx_image_status", table_name="images")
    op.drop_index("idx_image_quality", table_name="images")
    op.drop_index("idx_image_created", table_name="images")
    op.drop_index("idx_image_batch_status", table_name="images")
    op.drop_index("idx_image_annotator", table_name="images")
    op.drop_table("images")
    op.drop_index("idx_assignment_due_date", table_name="batch_assignments")
    op.drop_index("idx_assignment_batch", table_name="batch_assignments")
    op.drop_index("idx_assignment_assigned_at", table_name="batch_assignments")
    op.drop_index("idx_assignment_annotator_status", table_name="batch_assignments")
    op.drop_table("batch_assignments")
    op.drop_index(
        "uq_ml_model_one_production_per_schema",
        table_name="ml_model_configs",
        postgresql_where=sa.text("deployment_status = 'PRODUCTION' AND is_active"),
    )
    op.drop_index("idx_ml_model_type", table_name="ml_model_configs")
    op.drop_index("idx_ml_model_schema", table_name="ml_model_configs")
    op.drop_index("idx_ml_model_active", table_name="ml_model_configs")
    op.drop_table("ml_model_configs")
    op.drop_index("idx_batch_uploaded_by", table_name="image_batches")
    op.drop_index("idx_batch_status", table_name="image_batches")
    op.drop_index("idx_batch_schema", table_name="image_batches")
    op.drop_index("idx_batch_priority", table_name="image_batches")
    op.drop_table("image_batches")
    op.drop_index("idx_performance_user_date", table_name="performance_metrics")
    op.drop_index("idx_performance_unique", table_name="performance_metrics")
    op.drop_index("idx_performance_period", table_name="performance_metrics")
    op.drop_index("idx_performance_accuracy", table_name="performance_metrics")
    op.drop_table("performance_metrics")
    op.drop_index(
        "uq_keypoint_schema_one_active_version",
        table_name="keypoint_schemas",
        postgresql_where=sa.text("is_active"),
    )
    op.drop_index("idx_keypoint_schema_name", table_name="keypoint_schemas")
    op.drop_index("idx_keypoint_schema_active", table_name="keypoint_schemas")
    op.drop_table("keypoint_schemas")
    op.drop_index("idx_audit_user_action", table_name="audit_logs")
    op.drop_index("idx_audit_status", table_name="audit_logs")
    op.drop_index("idx_audit_resource", table_name="audit_logs")
    op.drop_index("idx_audit_created", table_name="audit_logs")
    op.drop_index("idx_audit_action_category", table_name="audit_logs")
    op.drop_table("audit_logs")
    op.drop_index("idx_user_role_approved", table_name="users")
    op.drop_index("idx_user_email", table_name="users")
    op.drop_index("idx_user_active", table_name="users")
    op.drop_table("users")
    for name in ENUM_TYPES:
        op.execute(f"DROP TYPE IF EXISTS {name}")


def _install_triggers() -> None:
    op.execute(TRIGGERS_SQL)
    for table, column in TOUCHED_COLUMNS:
        op.execute(
            f"CREATE TRIGGER {table}_touch_{column} BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION cradle_touch('{column}')"
        )


def _drop_triggers() -> None:
    for table, column in TOUCHED_COLUMNS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_touch_{column} ON {table}")
    op.execute("DROP TRIGGER IF EXISTS audit_logs_no_update ON audit_logs")
    op.execute("DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs")
    op.execute("DROP TRIGGER IF EXISTS images_last_status_change ON images")
    op.execute("DROP FUNCTION IF EXISTS cradle_audit_log_is_append_only()")
    op.execute("DROP FUNCTION IF EXISTS cradle_image_status_changed()")
    op.execute("DROP FUNCTION IF EXISTS cradle_touch()")


def _seed_system_user_and_default_schema() -> None:
    """The `system` account (owner of seeded rows and actor of pipeline steps) and infant-pose-17.

    `system` has no identity-provider subject and is inactive, so nobody can sign in as it.
    """
    bind = op.get_bind()
    system_id = bind.execute(
        sa.text(
            "INSERT INTO users (username, email, role, is_approved, is_active, is_staff) "
            "VALUES ('system', 'system@cradle.invalid', 'ADMIN', false, false, true) RETURNING id"
        )
    ).scalar_one()
    schema = DEFAULT_SCHEMA
    bind.execute(
        sa.text(
            "INSERT INTO keypoint_schemas (name, version, description, schema_definition, total_keypoints, "
            "required_keypoints, min_visibility_threshold, max_missing_keypoints, created_by) VALUES "
            "(:name, :version, :description, CAST(:definition AS jsonb), :total, CAST(:required AS jsonb), "
            ":threshold, :max_missing, :created_by)"
        ),
        {
            "name": schema["name"],
            "version": schema["version"],
            "description": schema["description"],
            "definition": json.dumps(schema["schema_definition"]),
            "total": schema["total_keypoints"],
            "required": json.dumps(schema["required_keypoints"]),
            "threshold": schema["min_visibility_threshold"],
            "max_missing": schema["max_missing_keypoints"],
            "created_by": system_id,
        },
    )
