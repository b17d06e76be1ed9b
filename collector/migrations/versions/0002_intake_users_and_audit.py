"""intake, users and audit

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=320), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("actor_type IN ('user', 'app-user', 'system', 'cli')", name=op.f('ck_audit_log_actor_type_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_log_hash'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_action_at', ['action', 'at'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'data-manager')", name=op.f('ck_users_role_known')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_users_email_lowercase')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('app_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('sealed_token', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(revoked_at IS NULL) = (token_hash IS NOT NULL)', name=op.f('ck_app_users_revoked_has_no_token')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_app_users_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_users')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_app_users_token_hash'))
    )
    op.create_table('forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('xml_form_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('open', 'closing', 'closed')", name=op.f('ck_forms_state_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_forms_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forms')),
    sa.UniqueConstraint('project_id', 'xml_form_id', name='uq_forms_project_xml_form_id')
    )
    op.create_table('form_assignments',
    sa.Column('app_user_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_user_id'], ['app_users.id'], name=op.f('fk_form_assignments_app_user_id_app_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_assignments_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_user_id', 'form_id', name=op.f('pk_form_assignments'))
    )
    op.create_table('form_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=200), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.Column('key_generation_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.LargeBinary(), nullable=True),
    sa.Column('source_type', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_versions_form_id_forms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['key_generation_id'], ['key_generations.id'], name=op.f('fk_form_versions_key_generation_id_key_generations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_versions'))
    )
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.create_index('uq_form_versions_published_version', ['form_id', 'version'], unique=True, sqlite_where=sa.text('published_at IS NOT NULL'), postgresql_where=sa.text('published_at IS NOT NULL'))

    op.create_table('form_downloads',
    sa.Column('app_user_id', sa.Integer(), nullable=False),
    sa.Column('form_version_id', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('device_id', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['app_user_id'], ['app_users.id'], name=op.f('fk_form_downloads_app_user_id_app_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_version_id'], ['form_versions.id'], name=op.f('fk_form_downloads_form_version_id_form_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_user_id', 'form_version_id', name=op.f('pk_form_downloads'))
    )
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('form_version_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('reason_detail', sa.Text(), nullable=True),
    sa.Column('manifest', sa.LargeBinary(), nullable=False),
    sa.Column('manifest_md5', sa.String(length=32), nullable=False),
    sa.Column('expected_parts', sa.Integer(), nullable=False),
    sa.Column('received_parts', sa.Integer(), nullable=False),
    sa.Column('signature', sa.String(length=16), nullable=True),
    sa.Column('submitter_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.String(length=200), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(state = 'failed') = (reason IS NOT NULL)", name=op.f('ck_submissions_failed_has_reason')),
    sa.CheckConstraint("state IN ('received', 'processed', 'failed')", name=op.f('ck_submissions_state_known')),
    sa.CheckConstraint('received_parts <= expected_parts', name=op.f('ck_submissions_parts_bounded')),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_submissions_form_id_forms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['form_version_id'], ['form_versions.id'], name=op.f('fk_submissions_form_version_id_form_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_submissions_project_id_projects'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submitter_id'], ['app_users.id'], name=op.f('fk_submissions_submitter_id_app_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('form_id', 'instance_id', name='uq_submissions_form_instance')
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_state_id', ['state', 'id'], unique=False)

    op.create_table('submission_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_submission_parts_submission_id_submissions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_parts')),
    sa.UniqueConstraint('submission_id', 'name', name='uq_submission_parts_submission_name')
    )
    op.create_table('submission_records',
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_submission_records_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_submission_records'))
    )


def downgrade() -> None:
    op.drop_table('submission_records')
    op.drop_table('submission_parts')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_state_id')

    op.drop_table('submissions')
    op.drop_table('form_downloads')
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_form_versions_published_version', sqlite_where=sa.text('published_at IS NOT NULL'), postgresql_where=sa.text('published_at IS NOT NULL'))

    op.drop_table('form_versions')
    op.drop_table('form_assignments')
    op.drop_table('forms')
    op.drop_table('app_users')
    op.drop_table('users')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_action_at')

    op.drop_table('audit_log')
