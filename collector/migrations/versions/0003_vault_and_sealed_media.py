"""vault and sealed media

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('project_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('pseudonym', 'data')", name=op.f('ck_project_keys_purpose_known')),
    sa.CheckConstraint("state IN ('pending', 'active', 'retired')", name=op.f('ck_project_keys_state_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_keys_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_keys')),
    sa.UniqueConstraint('project_id', 'purpose', 'version', name='uq_project_keys_version')
    )
    with op.batch_alter_table('project_keys', schema=None) as batch_op:
        batch_op.create_index('uq_project_keys_one_active', ['project_id', 'purpose'], unique=True, sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))

    op.create_table('vault_subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('pseudonym', sa.String(length=40), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=False),
    sa.Column('sealed_data_key', sa.LargeBinary(), nullable=True),
    sa.Column('sealed_original', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(erased_at IS NULL) = (sealed_data_key IS NOT NULL)', name=op.f('ck_vault_subjects_erased_has_no_key')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_vault_subjects_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_subjects'))
    )
    with op.batch_alter_table('vault_subjects', schema=None) as batch_op:
        batch_op.create_index('ix_vault_subjects_pseudonym', ['pseudonym'], unique=False)
        batch_op.create_index('uq_vault_subjects_live_pseudonym', ['project_id', 'key_version', 'pseudonym'], unique=True, sqlite_where=sa.text('erased_at IS NULL'), postgresql_where=sa.text('erased_at IS NULL'))

    op.create_table('submission_media',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_submission_media_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_media')),
    sa.UniqueConstraint('submission_id', 'name', name='uq_submission_media_submission_name')
    )


def downgrade() -> None:
    op.drop_table('submission_media')
    with op.batch_alter_table('vault_subjects', schema=None) as batch_op:
        batch_op.drop_index('uq_vault_subjects_live_pseudonym', sqlite_where=sa.text('erased_at IS NULL'), postgresql_where=sa.text('erased_at IS NULL'))
        batch_op.drop_index('ix_vault_subjects_pseudonym')

    op.drop_table('vault_subjects')
    with op.batch_alter_table('project_keys', schema=None) as batch_op:
        batch_op.drop_index('uq_project_keys_one_active', sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))

    op.drop_table('project_keys')
