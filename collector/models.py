"""SQLAlchemy 2 models; invariants live in the database as constraints."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


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
