"""experiment results (A/B analyses of an endpoint's traffic)

Revision ID: 0006_experiments
Revises: 0005_prompts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_experiments'
down_revision = '0005_prompts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('experiment_results',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('endpoint', sa.String(length=256), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=True),
    sa.Column('since', sa.BigInteger(), nullable=True),
    sa.Column('until', sa.BigInteger(), nullable=True),
    sa.Column('control', sa.String(length=256), nullable=False),
    sa.Column('versions', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment_results'))
    )
    with op.batch_alter_table('experiment_results', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_results_endpoint_created_at',
                              ['endpoint', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('experiment_results', schema=None) as batch_op:
        batch_op.drop_index('ix_experiment_results_endpoint_created_at')
    op.drop_table('experiment_results')
