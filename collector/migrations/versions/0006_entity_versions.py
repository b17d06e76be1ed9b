"""entity versions: every version of an entity, as it was written

Revision ID: 0006
Revises: 0005

Entities that exist already get one row: their current version (its creator and user agent
only where that version is the first, as the entity row does not say who updated it).
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('entity_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('source_instance_id', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['users.id'], name=op.f('fk_entity_versions_creator_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_versions_entity_id_entities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_versions')),
    sa.UniqueConstraint('entity_id', 'version', name='uq_entity_versions_entity_version')
    )
    op.execute(
        "INSERT INTO entity_versions (entity_id, version, base_version, sealed, key_version,"
        " creator_id, user_agent, created_at)"
        " SELECT id, version, CASE WHEN version > 1 THEN version - 1 END, sealed, key_version,"
        " CASE WHEN version = 1 THEN creator_id END, CASE WHEN version = 1 THEN user_agent END,"
        " COALESCE(updated_at, created_at) FROM entities"
    )


def downgrade() -> None:
    op.drop_table('entity_versions')
