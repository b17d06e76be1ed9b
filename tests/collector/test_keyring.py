"""The persisted keyring: generations, rotation, rewrap, imports, escrow (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector import keyring, masterkey
from collector.errors import Conflict, InvalidInput, MasterKeyMismatch, NotFound
from collector.models import KeyGeneration
from keys import keyring as kr
from keys.kek import KDFParams
from tests.collector.rawdb import raw_database_bytes

CHEAP_KDF = KDFParams(memory_cost_kib=1024, iterations=1, lanes=1)


def secret_forms(key: RSAPrivateKey) -> list[bytes]:
    """Every at-rest shape a leaked private key could take."""
    shapes = [
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    ]
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    body = b"".join(pem.splitlines()[1:-1])
    d = key.private_numbers().d
    shapes += [body[:64], body[-64:], d.to_bytes((d.bit_length() + 7) // 8, "big")]
    shapes += [s.hex().encode() for s in shapes[:2]]
    return shapes


def test_new_project_has_one_active_sealed_generation(db_session: Session, kek: bytes) -> None:
    project = keyring.create_project(db_session, "Kapasite", kek, bits=2048)
    rows = keyring.generations(db_session, project.id)
    assert [(r.generation, r.state, r.bits, r.source) for r in rows] == [
        (1, "active", 2048, "generated")
    ]
    key = keyring.private_key(db_session, rows[0], kek)
    assert kr.public_key_fingerprint(key) == rows[0].fingerprint
    assert all(shape not in rows[0].sealed_private_key for shape in secret_forms(key))


def test_rotate_retires_the_old_generation_and_keeps_it_usable(
    db_session: Session, kek: bytes
) -> None:
    project = keyring.create_project(db_session, "Profiling", kek, bits=2048)
    keyring.rotate(db_session, project.id, kek, bits=2048)
    keyring.rotate(db_session, project.id, kek, bits=2048)
    rows = keyring.generations(db_session, project.id)
    assert [(r.generation, r.state) for r in rows] == [
        (1, "retired"),
        (2, "retired"),
        (3, "active"),
    ]
    assert rows[0].retired_at is not None
    assert keyring.active_generation(db_session, project.id).generation == 3
    fingerprints = {
        kr.public_key_fingerprint(k) for k in keyring.decryption_keys(db_session, project.id, kek)
    }
    assert fingerprints == {r.fingerprint for r in rows}


def test_database_refuses_a_second_active_generation(db_session: Session, kek: bytes) -> None:
    project = keyring.create_project(db_session, "P", kek, bits=2048)
    db_session.commit()
    row = keyring.generations(db_session, project.id)[0]
    db_session.add(
        KeyGeneration(
            project_id=project.id,
            generation=2,
            state="active",
            bits=2048,
            public_key_der=row.public_key_der,
            fingerprint="x",
            sealed_private_key=b"x",
            source="generated",
            kek_id="x",
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_wrong_master_key_is_named_clearly(db_session: Session, kek: bytes) -> None:
    project = keyring.create_project(db_session, "P", kek, bits=2048)
    with pytest.raises(MasterKeyMismatch, match="master key does not match"):
        keyring.rotate(db_session, project.id, secrets.token_bytes(32), bits=2048)
    row = keyring.generations(db_session, project.id)[0]
    with pytest.raises(MasterKeyMismatch):
        keyring.private_key(db_session, row, secrets.token_bytes(32))


def test_rewrap_reseals_every_key_and_retires_the_old_kek(db_session: Session, kek: bytes) -> None:
    first = keyring.create_project(db_session, "A", kek, bits=2048)
    second = keyring.create_project(db_session, "B", kek, bits=2048)
    keyring.rotate(db_session, first.id, kek, bits=2048)
    before = {
        r.fingerprint: bytes(r.sealed_private_key or b"")
        for r in db_session.scalars(select(KeyGeneration))
    }
    new = secrets.token_bytes(32)
    assert keyring.rewrap(db_session, kek, new) == 3 + 4  # RSA keys + two keys per project
    db_session.commit()
    for project in (first, second):
        for row in keyring.generations(db_session, project.id):
            assert row.sealed_private_key != before[row.fingerprint]
            key = keyring.private_key(db_session, row, new)
            assert kr.public_key_fingerprint(key) == row.fingerprint
    with pytest.raises(MasterKeyMismatch):
        masterkey.verify_or_adopt(db_session, kek)


def test_sealed_key_does_not_open_in_another_row(db_session: Session, kek: bytes) -> None:
    project = keyring.create_project(db_session, "P", kek, bits=2048)
    keyring.rotate(db_session, project.id, kek, bits=2048)
    one, two = keyring.generations(db_session, project.id)
    one.sealed_private_key = two.sealed_private_key
    with pytest.raises(Exception, match="does not open"):
        keyring.private_key(db_session, one, kek)


def test_import_pem_adds_a_decrypt_only_generation(
    db_session: Session, kek: bytes, vectors: Path
) -> None:
    project = keyring.create_project(db_session, "Briefcase", kek, bits=2048)
    pem = (vectors / "briefcase" / "encrypted-form-key.pem").read_bytes()
    row = keyring.import_pem(db_session, project.id, kek, pem)
    assert (row.generation, row.state, row.source) == (2, "retired", "pem")
    assert keyring.active_generation(db_session, project.id).generation == 1
    with pytest.raises(Conflict) as info:
        keyring.import_pem(db_session, project.id, kek, pem)
    assert info.value.code == 409.3
    assert len(keyring.generations(db_session, project.id)) == 2


@pytest.mark.parametrize(
    ("case", "pem", "code"),
    [
        ("garbage", b"not a key", 400.31),
        ("public key", b"PUBLIC", 400.31),
        ("empty", b"", 400.31),
    ],
)
def test_import_pem_refuses_bad_input_and_changes_nothing(
    db_session: Session, kek: bytes, vectors: Path, case: str, pem: bytes, code: float
) -> None:
    if pem == b"PUBLIC":
        pem = (vectors / "central-backend" / "pub.pem").read_bytes()
    project = keyring.create_project(db_session, "P", kek, bits=2048)
    with pytest.raises(InvalidInput) as info:
        keyring.import_pem(db_session, project.id, kek, pem)
    assert info.value.code == code
    assert len(keyring.generations(db_session, project.id)) == 1


def test_import_central_managed_keys(db_session: Session, kek: bytes, vectors: Path) -> None:
    data = json.loads(
        (vectors / "central-backend" / "central-crypto-test-vectors.json").read_text()
    )["managed_getPrivate"]
    project = keyring.create_project(db_session, "Central", kek, bits=2048)
    for wrong in data["wrong_passphrases"]:
        with pytest.raises(InvalidInput):
            keyring.import_central(db_session, project.id, kek, data["examples"][0], wrong)
    assert len(keyring.generations(db_session, project.id)) == 1
    for record in data["examples"]:
        row = keyring.import_central(db_session, project.id, kek, record, data["passphrase"])
        assert row.source == "central"
        pub = base64.b64decode(record["pubkey"])
        assert row.fingerprint == kr.public_key_fingerprint(kr.load_public_key(pub))


def test_escrow_bundle_round_trip(db_session: Session, kek: bytes) -> None:
    project = keyring.create_project(db_session, "P", kek, bits=2048)
    keyring.rotate(db_session, project.id, kek, bits=2048)
    bundle = keyring.export_bundle(
        db_session, project.id, kek, "escrow passphrase", kdf_params=CHEAP_KDF
    )
    entries = kr.import_escrow_bundle(bundle, "escrow passphrase")
    assert sorted((e.generation, kr.public_key_fingerprint(e.private_key)) for e in entries) == [
        (r.generation, r.fingerprint) for r in keyring.generations(db_session, project.id)
    ]


def test_unknown_project_is_not_found(db_session: Session, kek: bytes) -> None:
    with pytest.raises(NotFound):
        keyring.rotate(db_session, 999, kek, bits=2048)


def test_raw_database_never_holds_a_private_key(
    db_engine: Engine, database_url: str, kek: bytes, vectors: Path
) -> None:
    with Session(db_engine) as session, session.begin():
        project = keyring.create_project(session, "Leak check", kek, bits=2048)
        keyring.rotate(session, project.id, kek, bits=2048)
        pem = (vectors / "briefcase" / "encrypted-form-key.pem").read_bytes()
        keyring.import_pem(session, project.id, kek, pem)
        keys = keyring.decryption_keys(session, project.id, kek)
    raw = raw_database_bytes(db_engine, database_url)
    assert b"key_generations" in raw  # The dump really holds the tables.
    for key in keys:
        for shape in secret_forms(key):
            assert shape not in raw
    assert b"PRIVATE KEY" not in raw
    assert kek not in raw
    assert base64.b64encode(kek) not in raw
