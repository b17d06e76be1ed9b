"""Loading RSA keys from outside: PEM private keys, public keys in every form ODK uses."""

from __future__ import annotations

import base64
import binascii

from keys._hazmat import (
    RSAPrivateKey,
    RSAPublicKey,
    UnsupportedAlgorithm,
    load_der_public_key,
    load_pem_private_key,
    load_pem_public_key,
)
from keys.errors import KeyImportError

__all__ = ["load_private_key_pem", "load_public_key", "require_rsa_private_key"]


def require_rsa_private_key(key: object) -> RSAPrivateKey:
    """Return `key` if it is an RSA private key, else raise KeyImportError."""
    if not isinstance(key, RSAPrivateKey):
        raise KeyImportError(
            f"only RSA private keys work with ODK encryption (this is a {type(key).__name__})"
        )
    return key


def load_private_key_pem(pem: bytes, passphrase: bytes | None = None) -> RSAPrivateKey:
    """Load an RSA private key from PEM (PKCS#1 or PKCS#8, optionally passphrase-encrypted)."""
    if not isinstance(pem, bytes):
        raise TypeError("the PEM must be bytes")
    if b"-----BEGIN" not in pem:
        raise KeyImportError("not a PEM private key (no -----BEGIN line)")
    try:
        key = load_pem_private_key(pem, passphrase)
    except TypeError:
        if passphrase is None:
            raise KeyImportError("the private key is encrypted: a passphrase is needed") from None
        raise KeyImportError("the private key is not encrypted: give no passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyImportError(
            "could not read the private key: not a valid PEM private key, or a wrong passphrase"
        ) from None
    return require_rsa_private_key(key)


def _public_key_candidates(data: bytes) -> list[tuple[str, bytes]]:
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        return [("pem", text)]
    candidates = [("der", data)] if data[:1] == b"\x30" else []
    try:
        candidates.append(("der", base64.b64decode(b"".join(text.split()), validate=True)))
    except (binascii.Error, ValueError):
        pass
    return candidates


def load_public_key(data: bytes) -> RSAPublicKey:
    """Load an RSA public key from PEM, base64 DER SubjectPublicKeyInfo, or raw DER."""
    for kind, blob in _public_key_candidates(data):
        try:
            key = load_pem_public_key(blob) if kind == "pem" else load_der_public_key(blob)
        except (ValueError, UnsupportedAlgorithm):
            continue
        if isinstance(key, RSAPublicKey):
            return key
        raise KeyImportError("only RSA public keys work with ODK encryption")
    raise KeyImportError("not an RSA public key (expected PEM, base64 DER or DER)")
