"""keyring

Revision ID: 0001
Revises: 
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length(name) > 0', name=op.f('ck_projects_name_not_empty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_table('system_settings',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_system_settings'))
    )
    op.create_table('key_generations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('bits', sa.Integer(), nullable=False),
    sa.Column('public_key_der', sa.LargeBinary(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('sealed_private_key', sa.LargeBinary(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('kek_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(state = 'destroyed') = (sealed_private_key IS NULL)", name=op.f('ck_key_generations_destroyed_has_no_key')),
    sa.CheckConstraint("source IN ('generated', 'pem', 'central', 'bundle')", name=op.f('ck_key_generations_source_known')),
    sa.CheckConstraint("state IN ('active', 'retired', 'destroyed')", name=op.f('ck_key_generations_state_known')),
    sa.CheckConstraint('generation > 0', name=op.f('ck_key_generations_generation_positive')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_key_generations_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_generations')),
    sa.UniqueConstraint('project_id', 'generation', name='uq_key_generations_project_generation')
    )
    with op.batch_alter_table('key_generations', schema=None) as batch_op:
        batch_op.create_index('uq_key_generations_one_active', ['project_id'], unique=True, sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))



def downgrade() -> None:
    with op.batch_alter_table('key_generations', schema=None) as batch_op:
        batch_op.drop_index('uq_key_generations_one_active', sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))

    op.drop_table('key_generations')
    op.drop_table('system_settings')
    op.drop_table('projects')
