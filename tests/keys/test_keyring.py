"""Keyring: key generation, public forms, sealing under the KEK, PEM import."""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from keys import keyring
from keys.errors import KeyImportError, KeysError, UnsealFailed
from tests.keys import vectorlib

KEK = bytes(range(32))


def same_key(a: RSAPrivateKey, b: RSAPrivateKey) -> bool:
    return a.private_numbers() == b.private_numbers()


@pytest.mark.slow
@pytest.mark.parametrize("bits", [2048, 3072])
def test_generate_private_key_sizes(
    bits: int, rsa_2048: RSAPrivateKey, rsa_3072: RSAPrivateKey
) -> None:
    key = {2048: rsa_2048, 3072: rsa_3072}[bits]
    assert key.key_size == bits
    assert key.public_key().public_numbers().e == 65537


def test_default_size_and_allowed_sizes() -> None:
    assert keyring.DEFAULT_RSA_BITS == 3072
    assert keyring.ALLOWED_RSA_BITS == (2048, 3072, 4096)


@pytest.mark.parametrize("bits", [1024, 1536, 8192, True, 3071])
def test_generate_private_key_refuses_other_sizes(bits: int) -> None:
    with pytest.raises(ValueError, match="bits"):
        keyring.generate_private_key(bits)


def test_public_forms_agree(vectors: Path, enketo_key: RSAPrivateKey) -> None:
    form = vectorlib.read_bytes(vectors, "enketo/form.xml").decode()
    b64 = keyring.public_key_b64(enketo_key)
    assert "\n" not in b64
    assert f'base64RsaPublicKey="{b64}"' in form
    assert keyring.public_key_b64(enketo_key.public_key()) == b64
    pem = keyring.public_key_pem(enketo_key)
    assert pem == vectorlib.read_bytes(vectors, "enketo/public_key.pem")
    der = base64.b64decode(b64)
    assert keyring.public_key_fingerprint(enketo_key) == hashlib.sha256(der).hexdigest()
    for encoded in (pem, b64.encode(), der, b"  " + b64.encode() + b"\n"):
        loaded = keyring.load_public_key(encoded)
        assert loaded.public_numbers() == enketo_key.public_key().public_numbers()


def test_central_public_key_pem_loads(vectors: Path) -> None:
    key = keyring.load_public_key(vectorlib.read_bytes(vectors, "central-backend/pub.pem"))
    private = vectorlib.pem_key(vectors, "central-backend/priv.pem")
    assert key.public_numbers() == private.public_key().public_numbers()


@pytest.mark.parametrize("data", [b"", b"garbage", b"MIIB", b"-----BEGIN PUBLIC KEY-----\nAAAA\n"])
def test_load_public_key_refuses_garbage(data: bytes) -> None:
    with pytest.raises(KeyImportError, match="public key"):
        keyring.load_public_key(data)


def test_load_public_key_refuses_ec() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyImportError, match="only RSA"):
        keyring.load_public_key(pem)


def test_seal_round_trip(enketo_key: RSAPrivateKey) -> None:
    sealed = keyring.seal_private_key(KEK, enketo_key, project_id=7, generation=2)
    assert sealed[0] == 1
    opened = keyring.unseal_private_key(KEK, sealed, project_id=7, generation=2)
    assert same_key(opened, enketo_key)
    # Nothing of the key is visible in the sealed form.
    der = enketo_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert der[-64:] not in sealed


@pytest.mark.parametrize(
    ("kek", "project_id", "generation"),
    [(bytes(32), 7, 2), (KEK, 8, 2), (KEK, 7, 3), (KEK, 72, 0)],
    ids=["wrong kek", "other project", "other generation", "shifted digits"],
)
def test_unseal_refuses_other_bindings(
    enketo_key: RSAPrivateKey, kek: bytes, project_id: int, generation: int
) -> None:
    sealed = keyring.seal_private_key(KEK, enketo_key, project_id=7, generation=2)
    with pytest.raises(UnsealFailed) as info:
        keyring.unseal_private_key(kek, sealed, project_id=project_id, generation=generation)
    assert str(info.value) == UnsealFailed.MESSAGE


def test_unseal_refuses_every_flipped_byte(enketo_key: RSAPrivateKey) -> None:
    sealed = keyring.seal_private_key(KEK, enketo_key, project_id=1, generation=1)
    for position in [0, 1, 12, 13, len(sealed) // 2, len(sealed) - 17, len(sealed) - 1]:
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        with pytest.raises(UnsealFailed):
            keyring.unseal_private_key(KEK, bytes(damaged), project_id=1, generation=1)
    for cut in (sealed[:-1], sealed[:29], b""):
        with pytest.raises(UnsealFailed):
            keyring.unseal_private_key(KEK, cut, project_id=1, generation=1)


def test_private_key_aad_is_explicit() -> None:
    assert keyring.private_key_aad(project_id=7, generation=2) == (
        b"collector/keyring/rsa-private-key/v1\x00project=7\x00generation=2"
    )
    for bad in ({"project_id": -1, "generation": 1}, {"project_id": True, "generation": 1}):
        with pytest.raises(ValueError, match="non-negative"):
            keyring.private_key_aad(**bad)


def test_seal_refuses_a_short_kek(enketo_key: RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        keyring.seal_private_key(b"short", enketo_key, project_id=1, generation=1)


# PEM import ---------------------------------------------------------------------------------


def test_pkcs1_pem(vectors: Path, briefcase_key: RSAPrivateKey) -> None:
    pem = vectorlib.read_bytes(vectors, "briefcase/encrypted-form-key.pem")
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert same_key(keyring.load_private_key_pem(pem), briefcase_key)


def test_pkcs8_pem(vectors: Path, enketo_key: RSAPrivateKey) -> None:
    pem = vectorlib.read_bytes(vectors, "enketo/private_key.pem")
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert same_key(keyring.load_private_key_pem(pem), enketo_key)


def encrypted_pem(key: RSAPrivateKey, passphrase: bytes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def test_encrypted_pem(enketo_key: RSAPrivateKey) -> None:
    pem = encrypted_pem(enketo_key, b"correct horse")
    assert same_key(keyring.load_private_key_pem(pem, b"correct horse"), enketo_key)


@pytest.mark.parametrize(
    ("case", "passphrase", "message"),
    [
        ("wrong passphrase", b"wrong horse", "wrong passphrase"),
        ("no passphrase", None, "passphrase is needed"),
    ],
)
def test_encrypted_pem_refusals(
    enketo_key: RSAPrivateKey, case: str, passphrase: bytes | None, message: str
) -> None:
    pem = encrypted_pem(enketo_key, b"correct horse")
    with pytest.raises(KeyImportError, match=message) as info:
        keyring.load_private_key_pem(pem, passphrase)
    assert "correct horse" not in str(info.value), case


def test_passphrase_for_a_plain_pem_is_refused(vectors: Path) -> None:
    pem = vectorlib.read_bytes(vectors, "enketo/private_key.pem")
    with pytest.raises(KeyImportError, match="not encrypted"):
        keyring.load_private_key_pem(pem, b"unneeded")


def test_ec_key_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyImportError, match="only RSA"):
        keyring.load_private_key_pem(pem)


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        secrets.token_bytes(300),
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
    ],
)
def test_garbage_pem_is_refused(pem: bytes) -> None:
    with pytest.raises(KeyImportError) as info:
        keyring.load_private_key_pem(pem)
    assert isinstance(info.value, KeysError)


def test_pem_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        keyring.load_private_key_pem("-----BEGIN PRIVATE KEY-----")  # type: ignore[arg-type]
