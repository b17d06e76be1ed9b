"""SQLAlchemy 2 models; invariants live in the database as constraints."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Return a stored time as aware UTC (SQLite hands back naive values; all are UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class KeyState(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    DESTROYED = "destroyed"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]

    key_generations: Mapped[list[KeyGeneration]] = relationship(
        back_populates="project", order_by="KeyGeneration.generation"
    )

    __table_args__ = (CheckConstraint("length(name) > 0", name="name_not_empty"),)


class KeyGeneration(Base):
    """One RSA key pair of a project's keyring; the private half is sealed under the KEK."""

    __tablename__ = "key_generations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    generation: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default=KeyState.ACTIVE.value)
    bits: Mapped[int]
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64))
    sealed_private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(16))
    kek_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship(back_populates="key_generations")

    __table_args__ = (
        UniqueConstraint("project_id", "generation", name="uq_key_generations_project_generation"),
        CheckConstraint("state IN ('active', 'retired', 'destroyed')", name="state_known"),
        CheckConstraint(
            "(state = 'destroyed') = (sealed_private_key IS NULL)", name="destroyed_has_no_key"
        ),
        CheckConstraint("source IN ('generated', 'pem', 'central', 'bundle')", name="source_known"),
        CheckConstraint("generation > 0", name="generation_positive"),
        # At most one active generation per project, enforced by the database itself.
        Index(
            "uq_key_generations_one_active",
            "project_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )


class SystemSetting(Base):
    """Non-secret instance settings (KDF salt and parameters) and the sealed master-key check."""

    __tablename__ = "system_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormState(enum.StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class SubmissionState(enum.StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"


class Form(Base):
    """A form of a project; its definitions are FormVersions (drafts and published ones)."""

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    xml_form_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default=FormState.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("project_id", "xml_form_id", name="uq_forms_project_xml_form_id"),
        CheckConstraint("state IN ('open', 'closing', 'closed')", name="state_known"),
    )


class FormVersion(Base):
    """One definition of a form: the XForm served to Collect, its PII policy and its key."""

    __tablename__ = "form_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="RESTRICT"))
    version: Mapped[str] = mapped_column(String(200))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    md5: Mapped[str] = mapped_column(String(32))
    policy: Mapped[str] = mapped_column(Text, default="{}")
    key_generation_id: Mapped[int | None] = mapped_column(
        ForeignKey("key_generations.id", ondelete="RESTRICT")
    )
    source: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]

    form: Mapped[Form] = relationship()
    key_generation: Mapped[KeyGeneration | None] = relationship()

    __table_args__ = (
        Index(
            "uq_form_versions_published_version",
            "form_id",
            "version",
            unique=True,
            sqlite_where=text("published_at IS NOT NULL"),
            postgresql_where=text("published_at IS NOT NULL"),
        ),
    )


class AppUser(Base):
    """Field staff: a project-scoped token that ODK Collect carries in its server URL."""

    __tablename__ = "app_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    display_name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sealed_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "(revoked_at IS NULL) = (token_hash IS NOT NULL)", name="revoked_has_no_token"
        ),
    )


class FormAssignment(Base):
    """Which forms an app user may see and submit to."""

    __tablename__ = "form_assignments"

    app_user_id: Mapped[int] = mapped_column(
        ForeignKey("app_users.id", ondelete="CASCADE"), primary_key=True
    )
    form_id: Mapped[int] = mapped_column(
        ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormDownload(Base):
    """A record that an app user fetched a form version: how the server knows who updated."""

    __tablename__ = "form_downloads"

    app_user_id: Mapped[int] = mapped_column(
        ForeignKey("app_users.id", ondelete="CASCADE"), primary_key=True
    )
    form_version_id: Mapped[int] = mapped_column(
        ForeignKey("form_versions.id", ondelete="CASCADE"), primary_key=True
    )
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    device_id: Mapped[str | None] = mapped_column(String(200))


class Submission(Base):
    """An encrypted submission as received; it is never deleted by processing or failure."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="RESTRICT"))
    form_version_id: Mapped[int] = mapped_column(
        ForeignKey("form_versions.id", ondelete="RESTRICT")
    )
    instance_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=SubmissionState.RECEIVED.value)
    reason: Mapped[str | None] = mapped_column(String(64))
    reason_detail: Mapped[str | None] = mapped_column(Text)
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    manifest_md5: Mapped[str] = mapped_column(String(32))
    expected_parts: Mapped[int]
    received_parts: Mapped[int] = mapped_column(default=0)
    signature: Mapped[str | None] = mapped_column(String(16))
    submitter_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_users.id", ondelete="SET NULL")
    )
    device_id: Mapped[str | None] = mapped_column(String(200))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    # "odk": an ODK-encrypted envelope (Collect); "sealed": plaintext XML that arrived over the
    # REST API, sealed under the project's data key on arrival (see collector.submissions).
    envelope: Mapped[str] = mapped_column(String(8), default="odk", server_default="odk")
    # Central's review state; NULL is "received".
    review_state: Mapped[str | None] = mapped_column(String(16))
    # Edits: every version points at the first one (the logical submission, whose instanceID
    # names it in the API); only the newest version is current.
    root_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"))
    current: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # The web user who created it through the API (Collect submissions have an app user).
    creator_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set on every version when a data manager deletes the logical submission: hidden from
    # every view until restored, and removed for good by ``collector submissions purge``.
    deleted_at: Mapped[datetime | None]

    form_version: Mapped[FormVersion] = relationship()

    __table_args__ = (
        UniqueConstraint("form_id", "instance_id", name="uq_submissions_form_instance"),
        CheckConstraint("state IN ('received', 'processed', 'failed')", name="state_known"),
        CheckConstraint("(state = 'failed') = (reason IS NOT NULL)", name="failed_has_reason"),
        CheckConstraint("received_parts <= expected_parts", name="parts_bounded"),
        Index("ix_submissions_state_id", "state", "id"),
        CheckConstraint("envelope IN ('odk', 'sealed')", name="envelope_known"),
        CheckConstraint(
            "review_state IS NULL OR "
            "review_state IN ('hasIssues', 'edited', 'approved', 'rejected')",
            name="review_state_known",
        ),
        Index("ix_submissions_root_id", "root_id"),
    )


def on_view() -> ColumnElement[bool]:
    """Submissions of published versions, not deleted: what every view of a form's data shows.

    A submission to a form's draft (sent to test it, over ``/v1/test/<token>/…``) belongs to a
    version not published; it is listed only as the draft's, and is deleted with the draft or
    when the draft is published (``drafts.purge_test_submissions``). A deleted submission is
    listed only as deleted (``?deleted=true``) until it is restored or purged.
    """
    return and_(published(), Submission.deleted_at.is_(None))


def published() -> ColumnElement[bool]:
    """Submissions of published versions, deleted ones included (``on_view`` leaves them out)."""
    drafts = select(FormVersion.id).where(FormVersion.published_at.is_(None))
    return Submission.form_version_id.not_in(drafts.scalar_subquery())


def in_scope(draft: int | None = None, *, deleted: bool = False) -> ColumnElement[bool]:
    """``on_view()``, or with ``deleted`` the deleted submissions too (an export's summary
    counts them apart); or, given a draft version's id, the test submissions of that draft
    only (what its own OData feed and exports show)."""
    if draft is not None:
        return Submission.form_version_id == draft
    return published() if deleted else on_view()


class SubmissionPart(Base):
    """One ``.enc`` file of a submission, stored as received (ciphertext)."""

    __tablename__ = "submission_parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("submission_id", "name", name="uq_submission_parts_submission_name"),
    )


class SubmissionRecord(Base):
    """The decrypted submission as stored after the PII policy: one JSON document."""

    __tablename__ = "submission_records"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(enum.StrEnum):
    ADMIN = "admin"
    DATA_MANAGER = "data-manager"


class User(Base):
    """A web user (admin or data manager); the password is stored only as an argon2id hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'data-manager')", name="role_known"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )


class AuditEntry(Base):
    """One append-only audit entry; ``hash`` commits to the entry and to the previous hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int | None]
    subject: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        CheckConstraint(
            "actor_type IN ('user', 'app-user', 'system', 'cli')", name="actor_type_known"
        ),
        Index("ix_audit_log_action_at", "action", "at"),
    )


class ProjectKey(Base):
    """A project's symmetric keys, sealed under the KEK: pseudonym HMAC keys and data keys.

    Pseudonym keys have versions; a rotation job moves every subject from the ``active`` version
    to a ``pending`` one, then promotes it. The data key seals sensitive values and media.
    """

    __tablename__ = "project_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    purpose: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("project_id", "purpose", "version", name="uq_project_keys_version"),
        CheckConstraint("purpose IN ('pseudonym', 'data')", name="purpose_known"),
        CheckConstraint("state IN ('pending', 'active', 'retired')", name="state_known"),
        Index(
            "uq_project_keys_one_active",
            "project_id",
            "purpose",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )


class Subject(Base):
    """One distinct identifier value of a project: its pseudonym and its sealed original.

    The original is sealed under the subject's own data key, itself sealed under the KEK;
    erasure deletes both, so the pseudonym stays in analysis data but can never be reversed.
    """

    __tablename__ = "vault_subjects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    pseudonym: Mapped[str] = mapped_column(String(40))
    key_version: Mapped[int]
    sealed_data_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_original: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "(erased_at IS NULL) = (sealed_data_key IS NOT NULL)", name="erased_has_no_key"
        ),
        Index(
            "uq_vault_subjects_live_pseudonym",
            "project_id",
            "key_version",
            "pseudonym",
            unique=True,
            sqlite_where=text("erased_at IS NULL"),
            postgresql_where=text("erased_at IS NULL"),
        ),
        Index("ix_vault_subjects_pseudonym", "pseudonym"),
    )


class SubmissionMedia(Base):
    """A decrypted media file, sealed at rest under the project's data key."""

    __tablename__ = "submission_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("submission_id", "name", name="uq_submission_media_submission_name"),
    )


class UserSession(Base):
    """A web user's bearer session; only the SHA-256 of its token is stored."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_sessions_expires_at", "expires_at"),)


class LoginFailure(Base):
    """Failed logins per (email, remote address), kept in the database so processes share it."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectMembership(Base):
    """A data manager's right to one project (admins need none)."""

    __tablename__ = "project_memberships"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), default=Role.DATA_MANAGER.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("role IN ('data-manager')", name="role_known"),)


class SubmissionComment(Base):
    """A reviewer's comment on a (logical) submission, sealed under the project's data key."""

    __tablename__ = "submission_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_submission_comments_submission_id", "submission_id"),)


class FormAttachment(Base):
    """A media or data file a form definition references (``jr://file/…``); NULL data = missing.

    The file is sealed under the project's data key (``key_version``): a data file for
    ``pulldata`` or ``select_one_from_file`` often lists the very people a project follows up.
    ``md5`` is of the file itself, as Collect's manifest needs it.
    """

    __tablename__ = "form_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    md5: Mapped[str | None] = mapped_column(String(32))
    #: The data key version ``data`` is sealed under; NULL for a file stored before sealing.
    key_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("form_version_id", "name", name="uq_form_attachments_version_name"),
        CheckConstraint("(data IS NULL) = (md5 IS NULL)", name="md5_with_data"),
    )


class Dataset(Base):
    """An entity list (Central's dataset) of a project."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    approval_required: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_datasets_project_name"),)


class DatasetProperty(Base):
    """A property (column) of an entity list."""

    __tablename__ = "dataset_properties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_dataset_properties_dataset_name"),
    )


class Entity(Base):
    """One entity; its label and data are sealed under the project's data key."""

    __tablename__ = "entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"))
    uuid: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(default=1)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    #: ``soft`` or ``hard`` once a submission updated it from an older version than the
    #: current one (``hard``: it changed a property that had changed since), until resolved.
    conflict: Mapped[str | None] = mapped_column(String(4))
    #: The version it was at when a conflict was last resolved: versions up to it are resolved.
    resolved_version: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("dataset_id", "uuid", name="uq_entities_dataset_uuid"),
        CheckConstraint("version > 0", name="version_positive"),
    )
    # Every UPDATE names the version it read: a concurrent change makes it fail, not vanish.
    # (SQLAlchemy's own attribute: typed by its base class, so not a ClassVar here.)
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class EntityVersion(Base):
    """One version of an entity as it was written: its label and data sealed, who and what
    made it. The entity row holds the newest; these keep the history Central shows."""

    __tablename__ = "entity_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"))
    version: Mapped[int]
    #: The version this one was applied on (a forced update: the one it replaced).
    base_version: Mapped[int | None]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    #: The instanceID of the submission that made this version, if one did.
    source_instance_id: Mapped[str | None] = mapped_column(String(200))
    #: For a version applied on an older base: the names (``label`` included) it set to a value
    #: other than the one they had been changed to since that base, as a JSON array.
    conflicting_properties: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("entity_id", "version", name="uq_entity_versions_entity_version"),
    )
