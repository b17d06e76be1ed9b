"""The identity vault: project keys, subjects (pseudonym + sealed original), reveal and erase.

Keys, all sealed under the KEK (so ``keys rewrap`` covers them):
- per project, versioned pseudonym HMAC keys and one data key (sensitive values, media);
- per subject, a data key that seals the original; erasure deletes it (crypto-shredding).
Plaintext originals exist only in memory: when a submission is stored and when an admin
reveals a subject with a stated reason (audited).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from collector import audit, erasure
from collector.audit import Actor
from collector.db import among_param
from collector.errors import CollectorError, Forbidden, InvalidInput, NotFound
from collector.models import ProjectKey, Subject, utcnow
from collector.pseudonym import normalise
from keys import seal

PSEUDONYM = "pseudonym"
DATA = "data"
LINK_KINDS = {
    "phone": "phone",
    "document": "document",
    "passport": "document",
    "id": "document",
    "email": "email",
}


class SubjectErased(CollectorError):
    code = 410.1
    default_message = "this subject was erased; its originals no longer exist"


def link_kind(identifier_type: str | None) -> str:
    """Fold identifier types into the kinds that link: phone, document, email, name."""
    return LINK_KINDS.get(identifier_type or "", "name")


def _key_aad(project_id: int, purpose: str, version: int) -> bytes:
    return f"collector/project-key/{project_id}/{purpose}/{version}".encode()


def _subject_key_aad(project_id: int) -> bytes:
    return f"collector/subject-key/{project_id}".encode()


def _original_aad(project_id: int, kind: str) -> bytes:
    return f"collector/subject-original/{project_id}/{kind}".encode()


def value_aad(project_id: int, what: str) -> bytes:
    """Associated data for sensitive values (``what="sensitive"``), media (``"media"``) and
    form attachments (``"form-attachment/<name>"``)."""
    return f"collector/{what}/{project_id}".encode()


def create_project_keys(session: Session, project_id: int, kek: bytes) -> None:
    """Give a new project its first pseudonym key and data key."""
    for purpose in (PSEUDONYM, DATA):
        new_key(session, project_id, purpose, 1, "active", kek)


def new_key(
    session: Session, project_id: int, purpose: str, version: int, state: str, kek: bytes
) -> ProjectKey:
    row = ProjectKey(
        project_id=project_id,
        purpose=purpose,
        version=version,
        state=state,
        sealed_key=seal.seal(kek, seal.new_data_key(), _key_aad(project_id, purpose, version)),
        activated_at=utcnow() if state == "active" else None,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class KeyVersion:
    """One version of a project key, unsealed."""

    version: int
    state: str
    key: bytes = field(repr=False)


@dataclass
class Secrets:
    """Unsealed project keys for one worker or request; holds the KEK.

    The list of key versions is cached for ``ttl`` seconds. That is safe during a pseudonym-key
    rotation because lookups try every version: a subject vaulted under the older key by a
    worker that has not seen the new one yet still links, and a re-run of the rotation job
    moves it.
    """

    kek: bytes = field(repr=False)
    ttl: float = 5.0
    _versions: dict[tuple[int, str], tuple[float, list[KeyVersion]]] = field(
        default_factory=dict, repr=False
    )
    _opened: dict[tuple[int, str, int], bytes] = field(default_factory=dict, repr=False)
    _hashers: dict[bytes, seal.PseudonymKey] = field(default_factory=dict, repr=False)
    _sealers: dict[bytes, seal.Sealer] = field(default_factory=dict, repr=False)

    def versions(self, session: Session, project_id: int, purpose: str) -> list[KeyVersion]:
        """Return every version of a project key, oldest first (creating the first)."""
        cached = self._versions.get((project_id, purpose))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        stmt = (
            select(ProjectKey.version, ProjectKey.state, ProjectKey.sealed_key)
            .where(ProjectKey.project_id == project_id, ProjectKey.purpose == purpose)
            .order_by(ProjectKey.version)
        )
        rows = session.execute(stmt).all()
        if not rows:
            with session.begin_nested():
                new_key(session, project_id, purpose, 1, "active", self.kek)
            rows = session.execute(stmt).all()
        found = [
            KeyVersion(v, state, self._open(project_id, purpose, v, sealed))
            for v, state, sealed in rows
        ]
        self._versions[(project_id, purpose)] = (time.monotonic() + self.ttl, found)
        return found

    def _open(self, project_id: int, purpose: str, version: int, sealed: bytes) -> bytes:
        ident = (project_id, purpose, version)
        if ident not in self._opened:
            self._opened[ident] = seal.unseal(self.kek, sealed, _key_aad(*ident))
        return self._opened[ident]

    def hasher(self, key: bytes) -> seal.PseudonymKey:
        """Return the pseudonym deriver of an opened pseudonym key (set up once)."""
        found = self._hashers.get(key)
        if found is None:
            found = self._hashers[key] = seal.PseudonymKey(key)
        return found

    def sealer(self, key: bytes) -> seal.Sealer:
        """Return the sealer of an opened data key (set up once)."""
        found = self._sealers.get(key)
        if found is None:
            found = self._sealers[key] = seal.Sealer(key)
        return found

    def newest(self, session: Session, project_id: int, purpose: str) -> KeyVersion:
        """Return the version new material goes under: pending if a rotation runs, else active."""
        live = [k for k in self.versions(session, project_id, purpose) if k.state != "retired"]
        return live[-1]

    def data_key(self, session: Session, project_id: int) -> tuple[int, bytes]:
        """Return the project's active data key and its version."""
        newest = self.newest(session, project_id, DATA)
        return newest.version, newest.key

    def data_key_version(self, session: Session, project_id: int, version: int) -> bytes:
        """Return one version of the project's data key."""
        for _attempt in range(2):
            for key in self.versions(session, project_id, DATA):
                if key.version == version:
                    return key.key
            self._versions.pop((project_id, DATA), None)
        raise NotFound(f"project {project_id} has no data key version {version}")


def _token(key: seal.PseudonymKey, kind: str, normalised: str) -> str:
    return key.pseudonym(f"{kind}\x00{normalised}")


@dataclass(frozen=True)
class Identifier:
    """An identifier value ready to link: its kind, its original and its pseudonym under every
    key version (the newest live key last)."""

    kind: str
    original: str = field(repr=False)
    tokens: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class PseudonymKeys:
    """A project's pseudonym keys, unsealed: every version, the one new subjects go under last.

    A value is looked up under every version (active, pending during a rotation, and retired
    ones, which only stragglers still use).
    """

    keys: tuple[tuple[int, seal.PseudonymKey], ...] = field(repr=False)

    def identifier(self, identifier_type: str | None, original: str) -> Identifier | None:
        """Normalise and pseudonymise a value (CPU only); None for a value that is empty."""
        normalised = normalise(original, identifier_type)
        if not normalised:
            return None
        kind = link_kind(identifier_type)
        tokens = tuple((version, _token(key, kind, normalised)) for version, key in self.keys)
        return Identifier(kind, original, tokens)


def pseudonym_keys(session: Session, secrets: Secrets, project_id: int) -> PseudonymKeys:
    """Return a project's pseudonym keys (from the secrets' cache)."""
    newest = secrets.newest(session, project_id, PSEUDONYM)
    others = [k for k in secrets.versions(session, project_id, PSEUDONYM) if k != newest]
    return PseudonymKeys(tuple((k.version, secrets.hasher(k.key)) for k in (*others, newest)))


def resolve(
    session: Session, secrets: Secrets, project_id: int, items: Sequence[tuple[str | None, str]]
) -> list[int | None]:
    """Return the subject id of each (identifier type, value), vaulting new ones."""
    keys = pseudonym_keys(session, secrets, project_id)
    identifiers = [keys.identifier(kind, original) for kind, original in items]
    return link(session, secrets.kek, project_id, identifiers)


# Built once and run as Core on the session's connection: every stored batch runs them, and
# building a statement (or the ORM's bulk machinery) costs more than running it. The lookup
# goes by pseudonym alone, through its own index: a condition on the project too would let a
# planner with stale statistics (a young table) scan the project's subjects and test each
# against every token; rows of other projects and erased subjects are dropped in ``link``.
_FIND_SUBJECTS = {
    dialect: select(
        Subject.id, Subject.key_version, Subject.pseudonym, Subject.project_id, Subject.erased_at
    ).where(among_param(Subject.pseudonym, "tokens", dialect))
    for dialect in ("sqlite", "postgresql")
}
# A value another worker vaults first (PostgreSQL; SQLite has one writer at a time) is not
# inserted twice: the insert skips it, without a savepoint to roll back to, and ``link``
# looks it up again.
_NEW_SUBJECTS = {
    dialect: module.insert(Subject)
    .on_conflict_do_nothing(
        index_elements=[Subject.project_id, Subject.key_version, Subject.pseudonym],
        index_where=Subject.erased_at.is_(None),
    )
    .returning(Subject.id, Subject.key_version, Subject.pseudonym)
    for dialect, module in (("sqlite", sqlite), ("postgresql", postgresql))
}


def link(
    session: Session, kek: bytes, project_id: int, identifiers: Sequence[Identifier | None]
) -> list[int | None]:
    """Return the subject id of each identifier, vaulting new ones (one lookup, one insert).

    New subjects go under the newest live key. A value that a concurrent worker vaults first
    is skipped by the insert (its unique index) and looked up again once that worker commits.
    """
    wanted = {t for p in identifiers if p for t in p.tokens}
    connection = session.connection()
    dialect = connection.dialect.name
    found = _find(connection, dialect, project_id, wanted)
    new: dict[tuple[int, str], dict[str, Any]] = {}
    sealer = seal.Sealer(kek)
    for item in identifiers:
        if item is not None and not any(t in found for t in item.tokens):
            token = item.tokens[-1]
            if token not in new:
                new[token] = _new_subject(sealer, project_id, item, token)
    if new:
        inserted = connection.execute(_NEW_SUBJECTS[dialect], list(new.values()))
        found |= {(v, token): sid for sid, v, token in inserted}
        missing = {t for t in new if t not in found}
        if missing:  # Vaulted meanwhile by another worker, whose commit the insert awaited.
            found |= _find(connection, dialect, project_id, missing)
            if any(t not in found for t in missing):  # Erased meanwhile: vault it anew.
                return link(session, kek, project_id, identifiers)
    return [
        None if p is None else next(found[t] for t in p.tokens if t in found) for p in identifiers
    ]


def _find(
    connection: Connection, dialect: str, project_id: int, wanted: set[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """The live subjects of a project among (key version, pseudonym) pairs."""
    if not wanted:
        return {}
    rows = connection.execute(
        _FIND_SUBJECTS[dialect], {"tokens": sorted({token for _v, token in wanted})}
    )
    return {
        (v, token): sid
        for sid, v, token, project, erased in rows
        if project == project_id and erased is None and (v, token) in wanted
    }


def _new_subject(
    kek: seal.Sealer, project_id: int, item: Identifier, token: tuple[int, str]
) -> dict[str, Any]:
    data_key = seal.new_data_key()
    return {
        "project_id": project_id,
        "kind": item.kind,
        "key_version": token[0],
        "pseudonym": token[1],
        "sealed_data_key": kek.seal(data_key, _subject_key_aad(project_id)),
        "sealed_original": seal.seal(
            data_key, item.original.encode(), _original_aad(project_id, item.kind)
        ),
        "created_at": utcnow(),
    }


def original_of(kek: bytes, subject: Subject) -> str:
    """Unseal a live subject's original value (in memory only)."""
    if subject.sealed_data_key is None or subject.sealed_original is None:
        raise SubjectErased(pseudonym=subject.pseudonym)
    data_key = seal.unseal(kek, subject.sealed_data_key, _subject_key_aad(subject.project_id))
    aad = _original_aad(subject.project_id, subject.kind)
    return seal.unseal(data_key, subject.sealed_original, aad).decode()


def rederive(key_row: ProjectKey, key: seal.PseudonymKey, kek: bytes, subject: Subject) -> None:
    """Move a live subject to another pseudonym key version, from its vaulted original."""
    identifier_type = None if subject.kind == "name" else subject.kind
    normalised = normalise(original_of(kek, subject), identifier_type)
    subject.pseudonym = _token(key, subject.kind, normalised)
    subject.key_version = key_row.version


def find_subject(session: Session, project_id: int, ref: str) -> Subject:
    """Find a subject by its pseudonym (any key version) or its numeric id."""
    stmt = select(Subject).where(Subject.project_id == project_id)
    stmt = (
        stmt.where(Subject.id == int(ref))
        if ref.isdigit()
        else stmt.where(Subject.pseudonym == ref.strip().upper())
    )
    subject = session.scalars(stmt.order_by(Subject.id.desc())).first()
    if subject is None:
        raise NotFound(f"no subject {ref!r} in project {project_id}")
    return subject


@dataclass(frozen=True)
class Revealed:
    """What a re-identification returns."""

    subject_id: int
    pseudonym: str
    kind: str
    original: str = field(repr=False)


def _authorise(
    session: Session, actor: Actor, action: str, project_id: int, ref: str, reason: str
) -> None:
    if actor.type != "cli" and actor.role != "admin":
        audit.record(session, actor, f"{action}.refused", project_id=project_id, subject=ref)
        session.commit()
        raise Forbidden("only an admin may re-identify or erase a subject")
    if len(reason.strip()) < 5:
        raise InvalidInput("state the reason (at least 5 characters)", code=400.22, field="reason")


def reveal(
    session: Session, kek: bytes, project_id: int, ref: str, *, actor: Actor, reason: str
) -> Revealed:
    """Re-identify a subject: admin only, with a reason, audited."""
    _authorise(session, actor, "vault.reveal", project_id, ref, reason)
    subject = find_subject(session, project_id, ref)
    if subject.sealed_data_key is None or subject.sealed_original is None:
        audit.record(
            session,
            actor,
            "vault.reveal.erased",
            project_id=project_id,
            subject=subject.pseudonym,
            reason=reason,
        )
        session.commit()
        erased = subject.erased_at.date().isoformat() if subject.erased_at else "?"
        raise SubjectErased(
            f"subject {subject.pseudonym} was erased on {erased}; its originals no longer exist",
            pseudonym=subject.pseudonym,
        )
    original = original_of(kek, subject)
    audit.record(
        session,
        actor,
        "vault.reveal",
        project_id=project_id,
        subject=subject.pseudonym,
        reason=reason,
    )
    return Revealed(subject.id, subject.pseudonym, subject.kind, original)


def _shred(subject: Subject) -> None:
    subject.sealed_data_key = None
    subject.sealed_original = None
    subject.erased_at = utcnow()


def shred(session: Session, subject_id: int) -> None:
    """Crypto-shred a subject that no stored record names any more (its pseudonym went with
    the records): the data key and sealed original are deleted for good. The caller audits."""
    subject = session.get(Subject, subject_id)
    if subject is not None and subject.erased_at is None:
        _shred(subject)


def erase(session: Session, project_id: int, ref: str, *, actor: Actor, reason: str) -> Subject:
    """Crypto-shred a subject: its data key and sealed original are deleted for good, and so
    are the raw envelopes of the submissions that name it (``erasure``)."""
    _authorise(session, actor, "vault.erase", project_id, ref, reason)
    subject = find_subject(session, project_id, ref)
    if subject.erased_at is not None:
        return subject
    _shred(subject)
    envelopes = erasure.destroy_envelopes(session, project_id, subject.id)
    audit.record(
        session,
        actor,
        "vault.erase",
        project_id=project_id,
        subject=subject.pseudonym,
        reason=reason,
        envelopes=envelopes,
    )
    session.flush()
    return subject


def pseudonyms(session: Session, ids: set[int]) -> dict[int, str]:
    """Return the current pseudonym of each subject id."""
    if not ids:
        return {}
    rows = session.execute(select(Subject.id, Subject.pseudonym).where(Subject.id.in_(ids)))
    return {sid: token for sid, token in rows}


def seal_value(
    secrets: Secrets, session: Session, project_id: int, value: bytes, what: str
) -> tuple[int, bytes]:
    """Seal a sensitive value or a media file under the project's data key."""
    version, key = secrets.data_key(session, project_id)
    return version, seal.seal(key, value, value_aad(project_id, what))


def open_value(
    secrets: Secrets, session: Session, project_id: int, version: int, sealed: bytes, what: str
) -> bytes:
    """Open a value sealed by seal_value."""
    key = secrets.data_key_version(session, project_id, version)
    return seal.unseal(key, sealed, value_aad(project_id, what))


def encode_sealed(version: int, sealed: bytes) -> dict[str, object]:
    """The JSON form of a sealed sensitive value inside a record."""
    return {"sealed": base64.b64encode(sealed).decode(), "v": version}


def rewrap(session: Session, old_kek: bytes, new_kek: bytes) -> int:
    """Re-seal every project key and subject data key under a new KEK; return the count."""
    count = 0
    for row in session.scalars(select(ProjectKey).order_by(ProjectKey.id)):
        aad = _key_aad(row.project_id, row.purpose, row.version)
        row.sealed_key = seal.seal(new_kek, seal.unseal(old_kek, row.sealed_key, aad), aad)
        count += 1
    stmt = select(Subject).where(Subject.sealed_data_key.is_not(None)).order_by(Subject.id)
    for subject in session.scalars(stmt.execution_options(yield_per=1000)):
        assert subject.sealed_data_key is not None
        aad = _subject_key_aad(subject.project_id)
        subject.sealed_data_key = seal.seal(
            new_kek, seal.unseal(old_kek, subject.sealed_data_key, aad), aad
        )
        count += 1
    return count
