"""Import ODK Central's managed-encryption keys (reference §6).

A Central key record is ``{pubkey, privkey, salt, iv}`` (all base64): the private key's PEM text
encrypted with AES-256-CBC under PBKDF2-HMAC-SHA256(passphrase, salt, 128000 iterations). A wrong
passphrase usually fails the CBC padding, but 1 time in ~256 it passes and yields garbage, so the
PEM must also parse and its public key must equal ``pubkey``.

Central 0.5 and older (the "ursa" era) also wrote backup records ``{privkey, salt, iv, local:
{key}}`` without ``pubkey``: ``local.key`` is a 32-byte AES key wrapped with RSA-OAEP SHA-1, and
the backup data is AES-256-CBC under it. Such a record is checked by unwrapping ``local.key``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from keys._hazmat import (
    RSAPrivateKey,
    aes_cbc_decrypt,
    pkcs7_unpad,
    rsa_oaep_sha1_decrypt,
)
from keys._keyio import load_private_key_pem, load_public_key
from keys.errors import KeyImportError

__all__ = [
    "CENTRAL_PBKDF2_ITERATIONS",
    "decrypt_central_backup",
    "import_central_managed_key",
    "open_central_backup",
]

CENTRAL_PBKDF2_ITERATIONS = 128_000
_WRONG = "wrong passphrase, or the Central key record is damaged"


def _field(record: Mapping[str, object], name: str, *, size: int | None = None) -> bytes:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise KeyImportError(f"the Central key record has no {name}")
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyImportError(f"the Central key record's {name} is not base64") from None
    if not raw or (size is not None and len(raw) != size):
        raise KeyImportError(f"the Central key record's {name} has the wrong length")
    return raw


def _aes_cbc_open(key: bytes, iv: bytes, data: bytes) -> bytes:
    if not data or len(data) % 16:
        raise ValueError("not whole AES blocks")
    return pkcs7_unpad(aes_cbc_decrypt(key, iv, data))


def _decrypt_private_key(record: Mapping[str, object], passphrase: str) -> RSAPrivateKey:
    if not isinstance(record, Mapping):
        raise KeyImportError("a Central key record must be a JSON object")
    salt = _field(record, "salt")
    iv = _field(record, "iv", size=16)
    ciphertext = _field(record, "privkey")
    if not passphrase:
        raise KeyImportError("a passphrase is needed to import a Central managed key")
    secret = hashlib.pbkdf2_hmac(
        "sha256", passphrase.encode("utf-8"), salt, CENTRAL_PBKDF2_ITERATIONS, dklen=32
    )
    try:
        pem = _aes_cbc_open(secret, iv, ciphertext)
    except ValueError:
        raise KeyImportError(_WRONG) from None
    try:
        return load_private_key_pem(pem)
    except KeyImportError:
        raise KeyImportError(_WRONG) from None


def _unwrap_local_key(key: RSAPrivateKey, record: Mapping[str, object]) -> bytes:
    local = record.get("local")
    if not isinstance(local, Mapping):
        raise KeyImportError("the Central key record has neither pubkey nor local.key")
    try:
        local_key = rsa_oaep_sha1_decrypt(key, _field(local, "key"))
    except ValueError:
        raise KeyImportError(_WRONG) from None
    if len(local_key) != 32:
        raise KeyImportError(_WRONG)
    return local_key


def import_central_managed_key(record: Mapping[str, object], passphrase: str) -> RSAPrivateKey:
    """Decrypt a Central managed-key record with its passphrase and return the private key."""
    key = _decrypt_private_key(record, passphrase)
    if record.get("pubkey") is None:
        _unwrap_local_key(key, record)
        return key
    try:
        expected = load_public_key(_field(record, "pubkey"))
    except KeyImportError:
        raise KeyImportError("the Central key record's pubkey is not a public key") from None
    if expected.public_numbers() != key.public_key().public_numbers():
        raise KeyImportError(_WRONG)
    return key


def open_central_backup(
    record: Mapping[str, object], passphrase: str
) -> tuple[RSAPrivateKey, bytes]:
    """Return the private key and the 32-byte local AES key of a Central <= 0.5 backup record."""
    key = _decrypt_private_key(record, passphrase)
    return key, _unwrap_local_key(key, record)


def decrypt_central_backup(local_key: bytes, iv_b64: str, ciphertext: bytes) -> bytes:
    """Decrypt data from a Central <= 0.5 backup (AES-256-CBC under the local key)."""
    iv = _field({"iv": iv_b64}, "iv", size=16)
    try:
        return _aes_cbc_open(local_key, iv, ciphertext)
    except ValueError:
        raise KeyImportError("the backup data does not decrypt under this key") from None
