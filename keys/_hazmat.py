# WARNING: this is the only module of keys/ that imports cryptography.hazmat. Everything in
# "hazmat" can be used wrongly with no error at all (wrong padding, reused nonces, unauthenticated
# modes). Each primitive is wrapped here once, with the exact parameters the ODK protocol or our
# own formats require, and the rest of keys/ calls these wrappers. Review any change here twice.
"""Thin, parameter-pinned wrappers around the cryptography primitives keys/ needs."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

__all__ = [
    "AESGCM",
    "InvalidTag",
    "RSAPrivateKey",
    "RSAPublicKey",
    "UnsupportedAlgorithm",
    "aes_cbc_decrypt",
    "aes_cfb_decrypt",
    "aes_cfb_encrypt",
    "argon2id",
    "generate_rsa",
    "load_der_private_key",
    "load_der_public_key",
    "load_pem_private_key",
    "load_pem_public_key",
    "pkcs7_pad",
    "pkcs7_unpad",
    "private_key_pkcs8_der",
    "public_key_der",
    "public_key_pem",
    "rsa_oaep_decrypt",
    "rsa_oaep_encrypt",
    "rsa_oaep_sha1_decrypt",
]

# ODK's key wrap and signature: RSA-OAEP, SHA-256 digest, MGF1-SHA-256, empty label.
_OAEP_SHA256 = padding.OAEP(
    mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)
# ODK Central <= 0.5 (ursa) wrapped its backup key with OpenSSL's default OAEP: SHA-1 / MGF1-SHA-1.
_OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
_BLOCK_BITS = 128


def rsa_oaep_decrypt(key: RSAPrivateKey, data: bytes) -> bytes:
    """Decrypt with RSA-OAEP SHA-256/MGF1-SHA-256 (raises ValueError on any failure)."""
    return key.decrypt(data, _OAEP_SHA256)


def rsa_oaep_encrypt(key: RSAPublicKey, data: bytes) -> bytes:
    """Encrypt with RSA-OAEP SHA-256/MGF1-SHA-256."""
    return key.encrypt(data, _OAEP_SHA256)


def rsa_oaep_sha1_decrypt(key: RSAPrivateKey, data: bytes) -> bytes:
    """Decrypt with RSA-OAEP SHA-1/MGF1-SHA-1 (legacy ODK Central backups only)."""
    return key.decrypt(data, _OAEP_SHA1)


def aes_cfb_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Decrypt AES-CFB with a full 128-bit feedback segment; no unpadding."""
    decryptor = Cipher(algorithms.AES(key), CFB(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def aes_cfb_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Encrypt AES-CFB with a full 128-bit feedback segment; no padding."""
    encryptor = Cipher(algorithms.AES(key), CFB(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Decrypt AES-CBC; no unpadding (legacy ODK Central key records only)."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def pkcs7_pad(data: bytes) -> bytes:
    """Pad to 16 bytes with PKCS#7 (a full block when already aligned)."""
    padder = sym_padding.PKCS7(_BLOCK_BITS).padder()
    return padder.update(data) + padder.finalize()


def pkcs7_unpad(data: bytes) -> bytes:
    """Remove PKCS#7 padding (raises ValueError when it is invalid)."""
    unpadder = sym_padding.PKCS7(_BLOCK_BITS).unpadder()
    return unpadder.update(data) + unpadder.finalize()


def argon2id(
    secret: bytes, salt: bytes, *, memory_cost_kib: int, iterations: int, lanes: int
) -> bytes:
    """Derive 32 bytes with Argon2id (RFC 9106)."""
    kdf = Argon2id(
        salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory_cost_kib
    )
    return kdf.derive(secret)


def generate_rsa(bits: int) -> RSAPrivateKey:
    """Generate an RSA private key with e = 65537."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_key_der(key: RSAPublicKey) -> bytes:
    """Serialise a public key as DER SubjectPublicKeyInfo."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_pem(key: RSAPublicKey) -> bytes:
    """Serialise a public key as a SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_key_pkcs8_der(key: RSAPrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#8 DER (only ever sealed right after)."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_der_private_key(data: bytes, *, trusted: bool = False) -> object:
    """Load a DER private key; `trusted` skips the slow RSA check for authenticated blobs."""
    return serialization.load_der_private_key(
        data, password=None, unsafe_skip_rsa_key_validation=trusted
    )


def load_pem_private_key(data: bytes, passphrase: bytes | None) -> object:
    """Load a PEM private key, PKCS#1 or PKCS#8, optionally encrypted."""
    return serialization.load_pem_private_key(data, password=passphrase)


def load_der_public_key(data: bytes) -> object:
    """Load a DER public key (SubjectPublicKeyInfo)."""
    return serialization.load_der_public_key(data)


def load_pem_public_key(data: bytes) -> object:
    """Load a PEM public key (SubjectPublicKeyInfo or PKCS#1)."""
    return serialization.load_pem_public_key(data)
