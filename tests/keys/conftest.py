"""Fixtures for keys/ tests: vector keys (free) and generated keys (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from keys import keyring
from keys.kek import KDFParams
from tests.keys import vectorlib

# Argon2id at its minimum cost: the tests exercise the format, not the hardness.
CHEAP_KDF = KDFParams(memory_cost_kib=8, iterations=1, lanes=1)


@pytest.fixture(scope="session")
def cheap_kdf() -> KDFParams:
    """Argon2id parameters cheap enough for tests."""
    return CHEAP_KDF


@pytest.fixture(scope="session")
def enketo_key(vectors: Path) -> RSAPrivateKey:
    """The RSA-2048 PKCS#8 key of the Enketo vectors."""
    return vectorlib.pem_key(vectors, "enketo/private_key.pem")


@pytest.fixture(scope="session")
def briefcase_key(vectors: Path) -> RSAPrivateKey:
    """The RSA-2048 PKCS#1 key of the Briefcase vectors."""
    return vectorlib.pem_key(vectors, "briefcase/encrypted-form-key.pem")


@pytest.fixture(scope="session")
def rsa_2048() -> RSAPrivateKey:
    """A freshly generated 2048-bit key, made once per session."""
    return keyring.generate_private_key(2048)


@pytest.fixture(scope="session")
def rsa_3072() -> RSAPrivateKey:
    """A freshly generated 3072-bit key (the default size), made once per session."""
    return keyring.generate_private_key(3072)
