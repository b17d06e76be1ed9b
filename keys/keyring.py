"""Project keyrings: RSA key generations, their public forms, and sealing under the master key.

A private key only ever leaves this module sealed (keys.seal, AES-256-GCM under the KEK) with
associated data that names its purpose, project and generation, so a sealed key copied into
another project's or generation's row does not open. Import from PEM, from ODK Central and from
escrow bundles lives in keys.central and keys.escrow and is re-exported here.
"""

from __future__ import annotations

import base64
import hashlib

from keys._hazmat import (
    RSAPrivateKey,
    RSAPublicKey,
    UnsupportedAlgorithm,
    generate_rsa,
    load_der_private_key,
    private_key_pkcs8_der,
)
from keys._hazmat import public_key_der as _public_key_der
from keys._hazmat import public_key_pem as _public_key_pem
from keys._keyio import load_private_key_pem, load_public_key
from keys.central import decrypt_central_backup, import_central_managed_key, open_central_backup
from keys.errors import UnsealFailed
from keys.escrow import EscrowEntry, export_escrow_bundle, import_escrow_bundle
from keys.kek import KDFParams
from keys.seal import seal, unseal

__all__ = [
    "ALLOWED_RSA_BITS",
    "DEFAULT_RSA_BITS",
    "EscrowEntry",
    "KDFParams",
    "decrypt_central_backup",
    "export_escrow_bundle",
    "generate_private_key",
    "import_central_managed_key",
    "import_escrow_bundle",
    "load_private_key_pem",
    "load_public_key",
    "open_central_backup",
    "private_key_aad",
    "public_key_b64",
    "public_key_der",
    "public_key_fingerprint",
    "public_key_pem",
    "seal_private_key",
    "unseal_private_key",
]

DEFAULT_RSA_BITS = 3072
ALLOWED_RSA_BITS = (2048, 3072, 4096)
_PRIVATE_KEY_PURPOSE = "collector/keyring/rsa-private-key/v1"


def generate_private_key(bits: int = DEFAULT_RSA_BITS) -> RSAPrivateKey:
    """Generate a new RSA key (e = 65537) of an allowed size."""
    if isinstance(bits, bool) or bits not in ALLOWED_RSA_BITS:
        raise ValueError(f"RSA keys must be one of {ALLOWED_RSA_BITS} bits")
    return generate_rsa(bits)


def _public(key: RSAPrivateKey | RSAPublicKey) -> RSAPublicKey:
    if isinstance(key, RSAPrivateKey):
        return key.public_key()
    if isinstance(key, RSAPublicKey):
        return key
    raise TypeError("expected an RSA private or public key")


def public_key_der(key: RSAPrivateKey | RSAPublicKey) -> bytes:
    """Return the DER SubjectPublicKeyInfo of a key."""
    return _public_key_der(_public(key))


def public_key_b64(key: RSAPrivateKey | RSAPublicKey) -> str:
    """Return the one-line base64 DER SPKI that goes in a form's base64RsaPublicKey."""
    return base64.b64encode(public_key_der(key)).decode("ascii")


def public_key_fingerprint(key: RSAPrivateKey | RSAPublicKey) -> str:
    """Return the SHA-256 hex fingerprint of the DER SPKI."""
    return hashlib.sha256(public_key_der(key)).hexdigest()


def public_key_pem(key: RSAPrivateKey | RSAPublicKey) -> bytes:
    """Return the public key as a SubjectPublicKeyInfo PEM."""
    return _public_key_pem(_public(key))


def private_key_aad(*, project_id: int, generation: int) -> bytes:
    """Return the associated data binding a sealed private key to its project and generation."""
    for name, value in (("project_id", project_id), ("generation", generation)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    return f"{_PRIVATE_KEY_PURPOSE}\x00project={project_id}\x00generation={generation}".encode()


def seal_private_key(kek: bytes, key: RSAPrivateKey, *, project_id: int, generation: int) -> bytes:
    """Seal a private key (PKCS#8 DER) under the KEK for one project and generation."""
    if not isinstance(key, RSAPrivateKey):
        raise TypeError("expected an RSA private key")
    aad = private_key_aad(project_id=project_id, generation=generation)
    return seal(kek, private_key_pkcs8_der(key), aad)


def unseal_private_key(
    kek: bytes, sealed: bytes, *, project_id: int, generation: int
) -> RSAPrivateKey:
    """Open a sealed private key, or raise UnsealFailed."""
    der = unseal(kek, sealed, private_key_aad(project_id=project_id, generation=generation))
    try:
        # The blob is authenticated and was checked when it was sealed: skip the slow RSA
        # consistency check (about 0.1 s for a 3072-bit key).
        key = load_der_private_key(der, trusted=True)
    except (ValueError, UnsupportedAlgorithm):
        raise UnsealFailed() from None
    if not isinstance(key, RSAPrivateKey):
        raise UnsealFailed()
    return key
