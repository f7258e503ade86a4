"""CDS Hooks (issue 6): JWT ids already seen, to refuse replays.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_jwt_ids",
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti", name=op.f("pk_cds_jwt_ids")),
    )
    op.create_index(op.f("ix_cds_jwt_ids_expires_at"), "cds_jwt_ids", ["expires_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_cds_jwt_ids_expires_at"), table_name="cds_jwt_ids")
    op.drop_table("cds_jwt_ids")
