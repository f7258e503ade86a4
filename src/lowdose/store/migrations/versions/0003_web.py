"""Web app state (issue 5): clinicians' notes on a patient's record (append-only).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinician_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_clinician_notes_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_clinician_notes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinician_notes")),
    )
    op.create_index(
        op.f("ix_clinician_notes_patient_id"), "clinician_notes", ["patient_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_clinician_notes_patient_id"), table_name="clinician_notes")
    op.drop_table("clinician_notes")
