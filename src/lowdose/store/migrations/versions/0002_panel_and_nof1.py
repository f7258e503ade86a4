"""Panel status per patient (issue 4): flags kept current at each write, so the panel's
cost does not grow with diary length; planned n-of-1 comparisons.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "panel_status",
        sa.Column("patient_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("last_checkin", sa.Date(), nullable=True),
        sa.Column("dose_mg", sa.Float(), nullable=True),
        sa.Column("next_step_on", sa.Date(), nullable=True),
        sa.Column("next_step_mg", sa.Float(), nullable=True),
        sa.Column("steps_held", sa.Boolean(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("category IN (0, 1, 2, 9)", name=op.f("ck_panel_status_category")),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"],
                                name=op.f("fk_panel_status_clinic_id_clinics")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_panel_status_patient_id_patients")),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_panel_status")),
    )
    op.create_index("ix_panel_status_clinic_id_category", "panel_status",
                    ["clinic_id", "category"], unique=False)
    op.create_table(
        "nof1_comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("a_dose_mg", sa.Float(), nullable=False),
        sa.Column("a_time", sa.Time(), nullable=False),
        sa.Column("b_dose_mg", sa.Float(), nullable=False),
        sa.Column("b_time", sa.Time(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("blocks", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("run_in_days", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_nof1_comparisons_created_by_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_nof1_comparisons_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nof1_comparisons")),
    )
    op.create_index(op.f("ix_nof1_comparisons_patient_id"), "nof1_comparisons",
                    ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_nof1_comparisons_patient_id"), table_name="nof1_comparisons")
    op.drop_table("nof1_comparisons")
    op.drop_index("ix_panel_status_clinic_id_category", table_name="panel_status")
    op.drop_table("panel_status")
