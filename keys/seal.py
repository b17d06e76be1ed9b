"""AEAD sealing (AES-256-GCM) for private keys, data keys and the vault; pseudonym HMAC.

Sealed format, version 1::

    0x01 | nonce (12 random bytes) | AES-256-GCM ciphertext and 16-byte tag

The version byte is authenticated too (it is prepended to the caller's associated data), so a
blob cannot be replayed under another format. Random 96-bit nonces are safe for far more than
the number of blobs one key will ever seal here (NIST SP 800-38D's 2**32 bound).

Pseudonyms are HMAC-SHA256(key, "collector/pseudonym/v1" NUL normalised-utf8), truncated to 95
bits and written in Crockford's base32 alphabet (0-9 A-Z without I, L, O, U: nothing to confuse
when read aloud or copied by hand), as the prefix followed by 19 characters in groups:
``P7K2-9QXM-4D1A-XY3Z-ABCD``. The caller normalises the input (case, spaces, digits) first.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from keys._hazmat import AESGCM, InvalidTag
from keys.errors import UnsealFailed

__all__ = [
    "KEY_SIZE",
    "PSEUDONYM_BITS",
    "PseudonymKey",
    "Sealer",
    "new_data_key",
    "pseudonym",
    "seal",
    "unseal",
]

KEY_SIZE = 32
VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
PSEUDONYM_BITS = 95
PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PSEUDONYM_LABEL = b"collector/pseudonym/v1\x00"
_PSEUDONYM_CHARS = PSEUDONYM_BITS // 5
# Every pair of digits, by the 10 bits it writes: a pseudonym is written in ten lookups.
_DIGIT_PAIRS = tuple(a + b for a in PSEUDONYM_ALPHABET for b in PSEUDONYM_ALPHABET)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"a sealing key must be {KEY_SIZE} bytes")


def _aad(aad: bytes) -> bytes:
    return bytes([VERSION]) + aad


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate `plaintext`, binding it to the associated data `aad`."""
    return _seal_with_nonce(key, plaintext, aad, secrets.token_bytes(NONCE_SIZE))


class Sealer:
    """Seal many values under one key (the cipher is set up once); same format as seal()."""

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes):
        _check_key(key)
        self._cipher = AESGCM(key)

    def __repr__(self) -> str:
        return "Sealer(<key>)"

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt and authenticate `plaintext`, binding it to the associated data `aad`."""
        nonce = secrets.token_bytes(NONCE_SIZE)
        return bytes([VERSION]) + nonce + self._cipher.encrypt(nonce, plaintext, _aad(aad))


def _seal_with_nonce(key: bytes, plaintext: bytes, aad: bytes, nonce: bytes) -> bytes:
    # Split out so tests can pin the nonce; production code always calls seal().
    _check_key(key)
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"the nonce must be {NONCE_SIZE} bytes")
    return bytes([VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(aad))


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Open a blob made by seal() with the same key and associated data, or raise UnsealFailed."""
    _check_key(key)
    if len(sealed) < 1 + NONCE_SIZE + TAG_SIZE or sealed[0] != VERSION:
        raise UnsealFailed()
    nonce = sealed[1 : 1 + NONCE_SIZE]
    try:
        return AESGCM(key).decrypt(nonce, sealed[1 + NONCE_SIZE :], _aad(aad))
    except InvalidTag:
        raise UnsealFailed() from None


def new_data_key() -> bytes:
    """Return a fresh random 32-byte key."""
    return secrets.token_bytes(KEY_SIZE)


def pseudonym(key: bytes, normalised: str, *, prefix: str = "P") -> str:
    """Return the stable keyed pseudonym of an already normalised identifier."""
    return PseudonymKey(key).pseudonym(normalised, prefix=prefix)


class PseudonymKey:
    """Derive many pseudonyms under one key (the keyed hash state is set up once)."""

    __slots__ = ("_state",)

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("a pseudonym key must be at least 16 bytes")
        self._state = hmac.new(key, _PSEUDONYM_LABEL, hashlib.sha256)

    def __repr__(self) -> str:
        return "PseudonymKey(<key>)"

    def pseudonym(self, normalised: str, *, prefix: str = "P") -> str:
        """Return the stable keyed pseudonym of an already normalised identifier."""
        if prefix != "P" and (not prefix or not prefix.isascii() or not prefix.isalnum()):
            raise ValueError("a pseudonym prefix must be one or more ASCII letters or digits")
        state = self._state.copy()
        state.update(normalised.encode("utf-8"))
        n = int.from_bytes(state.digest()[:12], "big") >> (96 - PSEUDONYM_BITS)
        # The 95 bits as 19 digits of 5, most significant first: one, then nine pairs.
        pairs = _DIGIT_PAIRS
        body = (
            PSEUDONYM_ALPHABET[n >> 90]
            + pairs[(n >> 80) & 1023]
            + pairs[(n >> 70) & 1023]
            + pairs[(n >> 60) & 1023]
            + pairs[(n >> 50) & 1023]
            + pairs[(n >> 40) & 1023]
            + pairs[(n >> 30) & 1023]
            + pairs[(n >> 20) & 1023]
            + pairs[(n >> 10) & 1023]
            + pairs[n & 1023]
        )
        return f"{prefix}{body[:3]}-{body[3:7]}-{body[7:11]}-{body[11:15]}-{body[15:]}"
