"""Fixtures of the forms tests: RSA keys in every shape a user might hand over, built surveys."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from forms.build import BuiltForm, build_xform
from forms.surveys import SURVEYS, path
from tests.forms.helpers import md_to_xlsx

PUBLIC = serialization.PublicFormat.SubjectPublicKeyInfo


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit RSA key for the whole run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def public_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    """The public key as 'BEGIN PUBLIC KEY' PEM."""
    return rsa_key.public_key().public_bytes(serialization.Encoding.PEM, PUBLIC)


@pytest.fixture(scope="session")
def public_b64(rsa_key: rsa.RSAPrivateKey) -> str:
    """The public key as one line of base64 DER SubjectPublicKeyInfo."""
    der = rsa_key.public_key().public_bytes(serialization.Encoding.DER, PUBLIC)
    return base64.b64encode(der).decode("ascii")


@pytest.fixture(scope="session")
def key_shapes(rsa_key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    """Wrong key shapes: PKCS#1 public, private keys, a small RSA key, an EC key."""
    public = rsa_key.public_key()
    # A deliberately weak key, to check that the build refuses it.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
    curve = ec.generate_private_key(ec.SECP256R1()).public_key()
    none = serialization.NoEncryption()
    return {
        "pkcs1": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "pkcs8_private": rsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none
        ),
        "pkcs1_private": rsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, none
        ),
        "small": small.public_bytes(serialization.Encoding.PEM, PUBLIC),
        "ec": curve.public_bytes(serialization.Encoding.PEM, PUBLIC),
    }


@pytest.fixture
def xlsform(tmp_path: Path) -> Callable[[str], Path]:
    """Write a markdown-table XLSForm to an .xlsx file in the test's folder."""
    counter = iter(range(1000))

    def write(md: str) -> Path:
        return md_to_xlsx(md, tmp_path / f"form{next(counter)}.xlsx")

    return write


@pytest.fixture(scope="session")
def built_surveys(public_pem: bytes) -> dict[str, BuiltForm]:
    """Both shipped surveys built once with a key and a submission URL."""
    url = "https://collector.example.org/v1/key/TOKEN/projects/1/submission"
    return {
        name: build_xform(path(name), public_key=public_pem, submission_url=url) for name in SURVEYS
    }
