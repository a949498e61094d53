"""Channel accounts route only once proven; their secrets get a sealed column.

Existing accounts keep routing (``proven_by = 'migrated'``: they were the only
claim on their address, which the old unique key guaranteed) and show so in the
API, to be re-verified. Their access tokens are moved out of ``settings`` into
the Fernet-sealed ``secrets`` column by :func:`saveit.store.channel_accounts.seal_plaintext`,
which ``saveit db upgrade`` (and the embedded default's start) runs right after
this chain, because only the application holds the keys.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secrets", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("routed_address", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("proven_by", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("proven_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("proof_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("proof_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("proof_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_constraint("uq_channel_accounts_channel_address", type_="unique")
    accounts = sa.table(
        "channel_accounts",
        sa.column("address", sa.String()),
        sa.column("routed_address", sa.String()),
        sa.column("proven_by", sa.String()),
        sa.column("proven_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        accounts.update().values(
            routed_address=accounts.c.address,
            proven_by="migrated",
            proven_at=accounts.c.updated_at,
        )
    )
    with op.batch_alter_table("channel_accounts", schema=None) as batch_op:
        batch_op.alter_column("proof_attempts", server_default=None)
        batch_op.create_unique_constraint(
            batch_op.f("uq_channel_accounts_channel_routed_address"),
            ["channel", "routed_address"],
        )


def downgrade() -> None:
    # Sealed secrets cannot be opened here (no keys): downgrading drops them, and the
    # accounts need their tokens put again.
    op.execute(sa.text("DELETE FROM channel_accounts WHERE routed_address IS NULL"))
    with op.batch_alter_table("channel_accounts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_channel_accounts_channel_routed_address", type_="unique")
        batch_op.create_unique_constraint(
            "uq_channel_accounts_channel_address", ["channel", "address"]
        )
        for column in (
            "proof_attempts",
            "proof_expires_at",
            "proof_hash",
            "proven_at",
            "proven_by",
            "routed_address",
            "secrets",
        ):
            batch_op.drop_column(column)
