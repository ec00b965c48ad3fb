"""the learning loop: each keypoint schema's retraining policy, and the loop's runs

`learning_loop_policies` (one per schema) holds what an admin sets: the trigger (every N newly
verified images, a schedule), the base weights, the training hyperparameters within their safe
bounds, the held-out fraction and the gate (δ, ε). `learning_loop_runs` holds each run of
infra/statemachines/learning_loop.asl.json: its step, the dataset, training job, candidate and
evaluations it made, both APs and the verdict; at most one RUNNING run per schema.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICIES = "learning_loop_policies"
RUNS = "learning_loop_runs"

POLICY_CHECKS = {
    "every_n_verified_range": "every_n_verified BETWEEN 1 AND 100000",
    "schedule_hours_range": "schedule_hours BETWEEN 1 AND 8760",
    "epochs_range": "epochs BETWEEN 1 AND 300",
    "imgsz_range": "imgsz BETWEEN 32 AND 1280 AND imgsz % 32 = 0",
    "batch_range": "batch BETWEEN 1 AND 64",
    "lr0_range": "lr0 BETWEEN 0.000001 AND 0.1",
    "holdout_fraction_range": "holdout_fraction BETWEEN 0.05 AND 0.5",
    "min_ap_gain_range": "min_ap_gain BETWEEN -1 AND 1",
    "max_keypoint_oks_drop_range": "max_keypoint_oks_drop BETWEEN 0 AND 1",
}


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        POLICIES,
        sa.Column("keypoint_schema_id", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("every_n_verified", sa.Integer(), nullable=True),
        sa.Column("schedule_hours", sa.Integer(), nullable=True),
        sa.Column("base_model_id", sa.BigInteger(), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("imgsz", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("lr0", sa.Float(), nullable=False),
        sa.Column("holdout_fraction", sa.Float(), nullable=False),
        sa.Column("min_ap_gain", sa.Float(), nullable=False),
        sa.Column("max_keypoint_oks_drop", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=False),
        *[sa.CheckConstraint(sql, name=op.f(f"ck_{POLICIES}_{name}")) for name, sql in POLICY_CHECKS.items()],
        _fk(POLICIES, "keypoint_schema_id", "keypoint_schemas"),
        _fk(POLICIES, "base_model_id", "ml_model_configs"),
        _fk(POLICIES, "updated_by", "users"),
        sa.PrimaryKeyConstraint("keypoint_schema_id", name=op.f(f"pk_{POLICIES}")),
    )
    op.create_table(
        RUNS,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("keypoint_schema_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "trigger", sa.Enum("COUNT", "SCHEDULE", "MANUAL", name="learning_loop_trigger"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum("RUNNING", "PROMOTED", "REFUSED", "FAILED", name="learning_loop_run_status"),
            server_default="RUNNING",
            nullable=False,
        ),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("verified_at_start", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.BigInteger(), nullable=True),
        sa.Column("training_job_id", sa.BigInteger(), nullable=True),
        sa.Column("base_model_id", sa.BigInteger(), nullable=True),
        sa.Column("candidate_model_id", sa.BigInteger(), nullable=True),
        sa.Column("incumbent_model_id", sa.BigInteger(), nullable=True),
        sa.Column("candidate_evaluation_id", sa.BigInteger(), nullable=True),
        sa.Column("incumbent_evaluation_id", sa.BigInteger(), nullable=True),
        sa.Column("candidate_ap", sa.Float(), nullable=True),
        sa.Column("incumbent_ap", sa.Float(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("execution_arn", sa.String(length=2048), nullable=True),
        sa.Column("started_by", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("verified_at_start >= 0", name=op.f(f"ck_{RUNS}_verified_at_start_non_negative")),
        _fk(RUNS, "keypoint_schema_id", "keypoint_schemas"),
        _fk(RUNS, "dataset_id", "datasets"),
        _fk(RUNS, "training_job_id", "training_jobs"),
        _fk(RUNS, "base_model_id", "ml_model_configs"),
        _fk(RUNS, "candidate_model_id", "ml_model_configs"),
        _fk(RUNS, "incumbent_model_id", "ml_model_configs"),
        _fk(RUNS, "candidate_evaluation_id", "inference_jobs"),
        _fk(RUNS, "incumbent_evaluation_id", "inference_jobs"),
        _fk(RUNS, "started_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{RUNS}")),
    )
    op.create_index("idx_learning_loop_run_schema", RUNS, ["keypoint_schema_id", "id"])
    op.create_index(
        "uq_learning_loop_run_one_running_per_schema",
        RUNS,
        ["keypoint_schema_id"],
        unique=True,
        postgresql_where=sa.text("status = 'RUNNING'"),
    )


def downgrade() -> None:
    op.drop_index("uq_learning_loop_run_one_running_per_schema", table_name=RUNS)
    op.drop_index("idx_learning_loop_run_schema", table_name=RUNS)
    op.drop_table(RUNS)
    op.drop_table(POLICIES)
    op.execute("DROP TYPE IF EXISTS learning_loop_run_status")
    op.execute("DROP TYPE IF EXISTS learning_loop_trigger")
