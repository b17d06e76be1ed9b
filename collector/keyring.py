"""Project keyrings: RSA key generations persisted sealed under the master key (KEK).

Every private key is stored only as ``keys.keyring.seal_private_key`` output, whose associated
data binds it to its project and generation, so a sealed key copied to another row will not open.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import audit, masterkey, vault
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, KeyringError, NotFound
from collector.models import KeyGeneration, KeyState, Project, utcnow
from keys import kek as kek_sources
from keys import keyring as kr
from keys.errors import KeyImportError, UnsealFailed


@dataclass(frozen=True)
class GenerationInfo:
    """What may be shown about a key generation: never the private key."""

    project_id: int
    generation: int
    state: str
    bits: int
    fingerprint: str
    source: str
    public_key_b64: str
    created_at: str
    retired_at: str | None


def describe(row: KeyGeneration) -> GenerationInfo:
    """Return the displayable facts of a generation."""
    return GenerationInfo(
        project_id=row.project_id,
        generation=row.generation,
        state=row.state,
        bits=row.bits,
        fingerprint=row.fingerprint,
        source=row.source,
        public_key_b64=kr.public_key_b64(kr.load_public_key(row.public_key_der)),
        created_at=row.created_at.isoformat(),
        retired_at=row.retired_at.isoformat() if row.retired_at else None,
    )


def get_project(session: Session, project_id: int) -> Project:
    """Return a project or raise NotFound."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist", project_id=project_id)
    return project


def generations(session: Session, project_id: int) -> list[KeyGeneration]:
    """Return a project's key generations, oldest first."""
    get_project(session, project_id)
    stmt = (
        select(KeyGeneration)
        .where(KeyGeneration.project_id == project_id)
        .order_by(KeyGeneration.generation)
    )
    return list(session.scalars(stmt))


def active_generation(session: Session, project_id: int) -> KeyGeneration:
    """Return the project's active generation (the one new forms carry)."""
    stmt = select(KeyGeneration).where(
        KeyGeneration.project_id == project_id, KeyGeneration.state == KeyState.ACTIVE.value
    )
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(f"project {project_id} has no active key", project_id=project_id)
    return row


def get_generation(session: Session, project_id: int, generation: int) -> KeyGeneration:
    """Return one generation of a project or raise NotFound."""
    stmt = select(KeyGeneration).where(
        KeyGeneration.project_id == project_id, KeyGeneration.generation == generation
    )
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(
            f"project {project_id} has no key generation {generation}",
            project_id=project_id,
            generation=generation,
        )
    return row


def add_private_key(
    session: Session,
    project_id: int,
    kek: bytes,
    key: RSAPrivateKey,
    *,
    source: str,
    activate: bool,
    actor: Actor = audit.SYSTEM,
) -> KeyGeneration:
    """Seal a private key into the project's keyring as its next generation."""
    masterkey.verify_or_adopt(session, kek)
    bits = key.key_size
    if bits not in kr.ALLOWED_RSA_BITS:
        raise InvalidInput(f"RSA keys of {bits} bits are not accepted", bits=bits)
    fingerprint = kr.public_key_fingerprint(key)
    for row in generations(session, project_id):
        if row.fingerprint == fingerprint:
            raise Conflict(
                f"this key is already generation {row.generation} of project {project_id}",
                code=409.3,
                generation=row.generation,
            )
    number = (
        session.scalar(
            select(func.max(KeyGeneration.generation)).where(KeyGeneration.project_id == project_id)
        )
        or 0
    ) + 1
    if activate:
        _retire_active(session, project_id)
    row = KeyGeneration(
        project_id=project_id,
        generation=number,
        state=(KeyState.ACTIVE if activate else KeyState.RETIRED).value,
        bits=bits,
        public_key_der=_public_der(key),
        fingerprint=fingerprint,
        sealed_private_key=kr.seal_private_key(kek, key, project_id=project_id, generation=number),
        source=source,
        kek_id=_kek_id(kek),
        retired_at=None if activate else utcnow(),
    )
    session.add(row)
    session.flush()
    if source != "generated":
        audit.record(
            session,
            actor,
            "key.import",
            project_id=project_id,
            subject=f"generation {number}",
            source=source,
            fingerprint=fingerprint,
            active=activate,
        )
    return row


def _kek_id(kek: bytes) -> str:
    return kek_sources.kek_id(kek)


def _public_der(key: RSAPrivateKey) -> bytes:
    return base64.b64decode(kr.public_key_b64(key))


def _retire_active(session: Session, project_id: int) -> None:
    stmt = select(KeyGeneration).where(
        KeyGeneration.project_id == project_id, KeyGeneration.state == KeyState.ACTIVE.value
    )
    for row in session.scalars(stmt):
        row.state = KeyState.RETIRED.value
        row.retired_at = utcnow()
    session.flush()


def create_project(
    session: Session,
    name: str,
    kek: bytes,
    *,
    bits: int = kr.DEFAULT_RSA_BITS,
    actor: Actor = audit.SYSTEM,
) -> Project:
    """Create a project with its keyring (generation 1 active)."""
    name = name.strip()
    if not name:
        raise InvalidInput("a project needs a name", field="name")
    masterkey.verify_or_adopt(session, kek)
    project = Project(name=name)
    session.add(project)
    session.flush()
    row = add_private_key(
        session, project.id, kek, kr.generate_private_key(bits), source="generated", activate=True
    )
    vault.create_project_keys(session, project.id, kek)
    audit.record(session, actor, "project.create", project_id=project.id, subject=name)
    audit.record(
        session,
        actor,
        "key.generate",
        project_id=project.id,
        subject=f"generation {row.generation}",
        bits=bits,
        fingerprint=row.fingerprint,
    )
    return project


def rotate(
    session: Session,
    project_id: int,
    kek: bytes,
    *,
    bits: int = kr.DEFAULT_RSA_BITS,
    actor: Actor = audit.SYSTEM,
) -> KeyGeneration:
    """Make a new generation active; the previous one is retired (decrypt-only)."""
    get_project(session, project_id)
    row = add_private_key(
        session, project_id, kek, kr.generate_private_key(bits), source="generated", activate=True
    )
    audit.record(
        session,
        actor,
        "key.rotate",
        project_id=project_id,
        subject=f"generation {row.generation}",
        bits=bits,
        fingerprint=row.fingerprint,
    )
    return row


def private_key(session: Session, row: KeyGeneration, kek: bytes) -> RSAPrivateKey:
    """Unseal a generation's private key (never persisted or returned in the clear)."""
    if row.sealed_private_key is None:
        raise Conflict(
            f"key generation {row.generation} was destroyed",
            code=409.4,
            generation=row.generation,
        )
    try:
        return kr.unseal_private_key(
            kek, row.sealed_private_key, project_id=row.project_id, generation=row.generation
        )
    except UnsealFailed:
        masterkey.verify_or_adopt(session, kek)
        raise KeyringError(
            f"key generation {row.generation} of project {row.project_id} does not open",
            generation=row.generation,
        ) from None


def decryption_keys(session: Session, project_id: int, kek: bytes) -> list[RSAPrivateKey]:
    """Return every usable private key of a project, newest generation first."""
    rows = [r for r in generations(session, project_id) if r.sealed_private_key is not None]
    return [private_key(session, r, kek) for r in reversed(rows)]


def import_pem(
    session: Session,
    project_id: int,
    kek: bytes,
    pem: bytes,
    *,
    passphrase: bytes | None = None,
    activate: bool = False,
    actor: Actor = audit.SYSTEM,
) -> KeyGeneration:
    """Add a self-supplied PEM private key as a generation (retired unless activated)."""
    return _import(
        session,
        project_id,
        kek,
        lambda: kr.load_private_key_pem(pem, passphrase),
        source="pem",
        code=400.31,
        activate=activate,
        actor=actor,
    )


def import_central(
    session: Session,
    project_id: int,
    kek: bytes,
    record: Mapping[str, str],
    passphrase: str,
    *,
    activate: bool = False,
    actor: Actor = audit.SYSTEM,
) -> KeyGeneration:
    """Add an ODK Central managed key ``{pubkey, privkey, salt, iv}`` as a generation."""
    return _import(
        session,
        project_id,
        kek,
        lambda: kr.import_central_managed_key(record, passphrase),
        source="central",
        code=400.32,
        activate=activate,
        actor=actor,
    )


def _import(
    session: Session,
    project_id: int,
    kek: bytes,
    load: Callable[[], RSAPrivateKey],
    *,
    source: str,
    code: float,
    activate: bool,
    actor: Actor,
) -> KeyGeneration:
    get_project(session, project_id)
    try:
        key = load()
    except KeyImportError as exc:
        raise InvalidInput(str(exc), code=code) from None
    return add_private_key(
        session, project_id, kek, key, source=source, activate=activate, actor=actor
    )


def export_bundle(
    session: Session,
    project_id: int,
    kek: bytes,
    passphrase: str,
    *,
    kdf_params: kek_sources.KDFParams | None = None,
    actor: Actor = audit.SYSTEM,
) -> bytes:
    """Export every usable generation of a project as a passphrase-sealed escrow bundle."""
    entries = [
        kr.EscrowEntry(
            project_id=row.project_id,
            generation=row.generation,
            private_key=private_key(session, row, kek),
            state=row.state,
        )
        for row in generations(session, project_id)
        if row.sealed_private_key is not None
    ]
    audit.record(
        session,
        actor,
        "key.export",
        project_id=project_id,
        generations=[e.generation for e in entries],
    )
    return kr.export_escrow_bundle(entries, passphrase, kdf_params=kdf_params)


def rewrap(session: Session, old_kek: bytes, new_kek: bytes, *, actor: Actor = audit.SYSTEM) -> int:
    """Re-seal every private key under a new KEK in the caller's transaction; return the count."""
    masterkey.verify_or_adopt(session, old_kek)
    count = 0
    for row in session.scalars(select(KeyGeneration).order_by(KeyGeneration.id)):
        if row.sealed_private_key is None:
            continue
        key = private_key(session, row, old_kek)
        row.sealed_private_key = kr.seal_private_key(
            new_kek, key, project_id=row.project_id, generation=row.generation
        )
        row.kek_id = _kek_id(new_kek)
        count += 1
    count += vault.rewrap(session, old_kek, new_kek)
    masterkey.replace_check(session, new_kek)
    audit.record(session, actor, "key.rewrap", keys=count, kek_id=kek_sources.kek_id(new_kek))
    session.flush()
    return count
