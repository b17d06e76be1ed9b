"""AEAD sealing and pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import seal
from keys.errors import UnsealFailed

KEY = bytes(range(32))
PSEUDONYM = re.compile(r"^P[0-9A-HJKMNP-TV-Z]{3}(-[0-9A-HJKMNP-TV-Z]{4}){4}$")


@settings(max_examples=30)
@given(plaintext=st.binary(max_size=300), aad=st.binary(max_size=40))
def test_round_trip(plaintext: bytes, aad: bytes) -> None:
    sealed = seal.seal(KEY, plaintext, aad)
    assert len(sealed) == 1 + 12 + len(plaintext) + 16
    assert seal.unseal(KEY, sealed, aad) == plaintext


def test_format_is_version_nonce_gcm() -> None:
    nonce = bytes(range(12))
    sealed = seal._seal_with_nonce(KEY, b"secret", b"aad", nonce)
    assert sealed[:13] == b"\x01" + nonce
    # Independent check with the primitive: the version byte is part of the associated data.
    assert AESGCM(KEY).decrypt(nonce, sealed[13:], b"\x01aad") == b"secret"


def test_nonces_are_fresh() -> None:
    assert seal.seal(KEY, b"x", b"") != seal.seal(KEY, b"x", b"")


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("version byte", lambda b: b"\x02" + b[1:]),
        ("nonce", lambda b: b[:5] + bytes([b[5] ^ 1]) + b[6:]),
        ("ciphertext", lambda b: b[:14] + bytes([b[14] ^ 1]) + b[15:]),
        ("tag", lambda b: b[:-1] + bytes([b[-1] ^ 1])),
        ("truncated", lambda b: b[:-1]),
        ("too short", lambda b: b[:28]),
        ("empty", lambda b: b""),
    ],
)
def test_tampering_is_refused(case: str, mutate: object) -> None:
    sealed = seal.seal(KEY, b"some secret data", b"aad")
    with pytest.raises(UnsealFailed):
        seal.unseal(KEY, mutate(sealed), b"aad")  # type: ignore[operator]


def test_wrong_key_or_aad_is_refused() -> None:
    sealed = seal.seal(KEY, b"x", b"aad")
    with pytest.raises(UnsealFailed):
        seal.unseal(bytes(32), sealed, b"aad")
    with pytest.raises(UnsealFailed):
        seal.unseal(KEY, sealed, b"aae")


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(31), bytes(33)])
def test_key_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal.seal(key, b"x", b"")
    with pytest.raises(ValueError, match="32 bytes"):
        seal.unseal(key, b"x" * 40, b"")


def test_new_data_key() -> None:
    assert len(seal.new_data_key()) == 32
    assert seal.new_data_key() != seal.new_data_key()


def test_pseudonym_shape_and_strength() -> None:
    token = seal.pseudonym(KEY, "ayşe yilmaz")
    assert PSEUDONYM.match(token), token
    assert seal.PSEUDONYM_BITS >= 80
    assert not set("ILOU") & set(token[1:])


def test_pseudonym_is_the_documented_hmac() -> None:
    digest = hmac.new(KEY, b"collector/pseudonym/v1\x00+905551234567", hashlib.sha256).digest()
    number = int.from_bytes(digest[:12], "big") >> 1
    body = "".join(
        "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(number >> (5 * i)) & 31] for i in reversed(range(19))
    )
    assert seal.pseudonym(KEY, "+905551234567").replace("-", "") == "P" + body


@settings(max_examples=50)
@given(a=st.text(max_size=30), b=st.text(max_size=30))
def test_pseudonym_is_stable_and_distinct(a: str, b: str) -> None:
    assert seal.pseudonym(KEY, a) == seal.pseudonym(KEY, a)
    assert (seal.pseudonym(KEY, a) == seal.pseudonym(KEY, b)) == (a == b)


def test_pseudonym_depends_on_key_and_prefix() -> None:
    assert seal.pseudonym(KEY, "x") != seal.pseudonym(bytes(32), "x")
    assert seal.pseudonym(KEY, "x", prefix="HH").startswith("HH")
    assert seal.pseudonym(KEY, "x", prefix="HH")[2:] == seal.pseudonym(KEY, "x")[1:]


@pytest.mark.parametrize("prefix", ["", "P-", "İ", "a b"])
def test_pseudonym_prefix_is_checked(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        seal.pseudonym(KEY, "x", prefix=prefix)


def test_pseudonym_key_length_is_checked() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        seal.pseudonym(b"short", "x")
