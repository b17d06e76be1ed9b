"""submission deletion: a deleted submission is hidden until restored or purged

Revision ID: 0008
Revises: 0007

Every version of a logical submission gains the time it was deleted (as Central's soft
deletion): views leave it out, ``?deleted=true`` lists it, a restore clears it, and
``collector submissions purge`` removes it for good. Existing submissions are not deleted.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('submissions', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions') as batch:
        batch.drop_column('deleted_at')
