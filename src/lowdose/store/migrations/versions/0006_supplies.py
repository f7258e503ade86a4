"""Supplies (issue 6): what the pharmacy dispensed, so refill dates come from the record.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supplies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("dispensed_on", sa.Date(), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("form IN ('capsule', 'liquid')", name=op.f("ck_supplies_form")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_supplies_created_by_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_supplies_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies")),
    )
    op.create_index(op.f("ix_supplies_patient_id"), "supplies", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_supplies_patient_id"), table_name="supplies")
    op.drop_table("supplies")
