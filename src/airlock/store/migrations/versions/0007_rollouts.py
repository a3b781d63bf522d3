"""progressive rollouts and the per-endpoint weights and lease

Revision ID: 0007_rollouts
Revises: 0006_experiments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_rollouts'
down_revision = '0006_experiments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rollouts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('endpoint', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('control_route', sa.String(length=128), nullable=False),
    sa.Column('candidate_route', sa.String(length=128), nullable=False),
    sa.Column('alias', sa.String(length=128), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('interval_s', sa.Float(precision=53), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('rules_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('step_started_at', sa.BigInteger(), nullable=False),
    sa.Column('windows', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.JSON(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollouts'))
    )
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.create_index('ix_rollouts_endpoint', ['endpoint', 'created_at'], unique=False)

    op.create_table('rollout_endpoints',
    sa.Column('endpoint', sa.String(length=128), nullable=False),
    sa.Column('routes', sa.JSON(), nullable=True),
    sa.Column('reload_interval_s', sa.Float(precision=53), nullable=True),
    sa.Column('weights', sa.JSON(), nullable=True),
    sa.Column('active', sa.String(length=40), nullable=True),
    sa.Column('holder', sa.String(length=128), nullable=True),
    sa.Column('lease_until', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('endpoint', name=op.f('pk_rollout_endpoints'))
    )


def downgrade() -> None:
    op.drop_table('rollout_endpoints')
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.drop_index('ix_rollouts_endpoint')

    op.drop_table('rollouts')
