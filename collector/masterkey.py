"""The master key (KEK) as the database knows it: the check value and the passphrase KDF salt.

The KEK itself never reaches the database. A sealed check value lets every process tell at
start-up, with a clear message, that it was given the wrong master key, instead of failing
later on the first sealed key it tries to open.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from collector.errors import MasterKeyMismatch
from collector.models import SystemSetting, utcnow
from keys import kek as kek_sources
from keys import seal
from keys.errors import UnsealFailed

CHECK_NAME = "kek-check"
KDF_NAME = "kek-kdf"
_CHECK_AAD = b"collector/kek-check/v1"
_CHECK_PLAINTEXT = b"collector master key check"


def _get(session: Session, name: str) -> SystemSetting | None:
    return session.get(SystemSetting, name)


def _put(session: Session, name: str, value: bytes) -> None:
    row = _get(session, name)
    if row is None:
        session.add(SystemSetting(name=name, value=value))
    else:
        row.value = value
        row.updated_at = utcnow()


def verify_or_adopt(session: Session, kek: bytes) -> bool:
    """Check the KEK against the stored check value; store one if there is none.

    Returns True when the database adopted this KEK (first run), False when it matched.
    """
    row = _get(session, CHECK_NAME)
    if row is None:
        _put(session, CHECK_NAME, seal.seal(kek, _CHECK_PLAINTEXT, _CHECK_AAD))
        session.flush()
        return True
    try:
        seal.unseal(kek, row.value, _CHECK_AAD)
    except UnsealFailed:
        raise MasterKeyMismatch() from None
    return False


def replace_check(session: Session, new_kek: bytes) -> None:
    """Record a new KEK's check value (part of a rewrap transaction)."""
    _put(session, CHECK_NAME, seal.seal(new_kek, _CHECK_PLAINTEXT, _CHECK_AAD))


def passphrase_kdf(session: Session, *, create: bool) -> tuple[bytes, kek_sources.KDFParams] | None:
    """Return the stored passphrase salt and KDF parameters, creating them when asked."""
    row = _get(session, KDF_NAME)
    if row is not None:
        data = json.loads(row.value)
        params = kek_sources.KDFParams(**data["params"])
        return bytes.fromhex(data["salt"]), params
    if not create:
        return None
    salt = kek_sources.new_salt()
    params = kek_sources.DEFAULT_KDF
    payload = {
        "salt": salt.hex(),
        "params": {
            "memory_cost_kib": params.memory_cost_kib,
            "iterations": params.iterations,
            "lanes": params.lanes,
        },
    }
    _put(session, KDF_NAME, json.dumps(payload).encode())
    session.flush()
    return salt, params


def replace_passphrase_kdf(session: Session) -> tuple[bytes, kek_sources.KDFParams]:
    """Store a fresh salt for a new passphrase (part of a rewrap transaction)."""
    row = _get(session, KDF_NAME)
    if row is not None:
        session.delete(row)
        session.flush()
    found = passphrase_kdf(session, create=True)
    assert found is not None
    return found


def forget_passphrase_kdf(session: Session) -> None:
    """Drop the passphrase salt when the instance moves to a key file or env key."""
    row = _get(session, KDF_NAME)
    if row is not None:
        session.delete(row)
