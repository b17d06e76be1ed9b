"""entity conflicts: a submission's update from an older version applies and is flagged

Revision ID: 0007
Revises: 0006

An entity gains its conflict (``soft`` or ``hard``, until resolved) and the version it was
at when one was last resolved; a version gains the properties it set in conflict. Existing
entities have no conflict: until now a stale update was refused.
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('entities', sa.Column('conflict', sa.String(length=4), nullable=True))
    op.add_column('entities', sa.Column('resolved_version', sa.Integer(), nullable=True))
    op.add_column(
        'entity_versions', sa.Column('conflicting_properties', sa.Text(), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table('entity_versions') as batch:
        batch.drop_column('conflicting_properties')
    with op.batch_alter_table('entities') as batch:
        batch.drop_column('resolved_version')
        batch.drop_column('conflict')
