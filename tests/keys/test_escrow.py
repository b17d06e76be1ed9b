"""Escrow bundles: passphrase-sealed exports of private keys."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from keys import keyring
from keys.errors import KeyImportError
from keys.kek import DEFAULT_KDF, KDFParams

PASSPHRASE = "a long escrow passphrase"


@pytest.fixture
def entries(enketo_key: RSAPrivateKey, briefcase_key: RSAPrivateKey) -> list[keyring.EscrowEntry]:
    return [
        keyring.EscrowEntry(project_id=1, generation=1, private_key=briefcase_key, state="retired"),
        keyring.EscrowEntry(project_id=1, generation=2, private_key=enketo_key),
    ]


def test_round_trip(entries: list[keyring.EscrowEntry], cheap_kdf: KDFParams) -> None:
    bundle = keyring.export_escrow_bundle(entries, PASSPHRASE, kdf_params=cheap_kdf)
    back = keyring.import_escrow_bundle(bundle, PASSPHRASE)
    assert [(e.project_id, e.generation, e.state) for e in back] == [
        (1, 1, "retired"),
        (1, 2, "active"),
    ]
    for before, after in zip(entries, back, strict=True):
        assert before.private_key.private_numbers() == after.private_key.private_numbers()


def test_bundle_is_versioned_json_with_its_kdf(
    entries: list[keyring.EscrowEntry], cheap_kdf: KDFParams
) -> None:
    bundle = json.loads(keyring.export_escrow_bundle(entries, PASSPHRASE, kdf_params=cheap_kdf))
    assert bundle["format"] == "collector-escrow-bundle"
    assert bundle["version"] == 1
    assert bundle["kdf"]["name"] == "argon2id"
    assert bundle["kdf"]["memory_cost_kib"] == cheap_kdf.memory_cost_kib
    assert len(base64.b64decode(bundle["kdf"]["salt"])) == 16
    assert set(bundle) == {"format", "version", "kdf", "sealed"}


def test_default_kdf_is_memory_hard(entries: list[keyring.EscrowEntry]) -> None:
    assert DEFAULT_KDF.memory_cost_kib >= 64 * 1024
    bundle = json.loads(keyring.export_escrow_bundle(entries[:1], PASSPHRASE))
    assert bundle["kdf"]["memory_cost_kib"] == DEFAULT_KDF.memory_cost_kib


def test_salt_is_fresh_each_time(entries: list[keyring.EscrowEntry], cheap_kdf: KDFParams) -> None:
    one = keyring.export_escrow_bundle(entries, PASSPHRASE, kdf_params=cheap_kdf)
    two = keyring.export_escrow_bundle(entries, PASSPHRASE, kdf_params=cheap_kdf)
    assert json.loads(one)["kdf"]["salt"] != json.loads(two)["kdf"]["salt"]


def test_wrong_passphrase(entries: list[keyring.EscrowEntry], cheap_kdf: KDFParams) -> None:
    bundle = keyring.export_escrow_bundle(entries, PASSPHRASE, kdf_params=cheap_kdf)
    for wrong in ("a long escrow passphrasE", "x"):
        with pytest.raises(KeyImportError, match="wrong passphrase") as info:
            keyring.import_escrow_bundle(bundle, wrong)
        assert PASSPHRASE not in str(info.value)
    with pytest.raises(KeyImportError, match="passphrase is needed"):
        keyring.import_escrow_bundle(bundle, "")


def tampered(bundle: bytes, path: tuple[str, ...], value: object) -> bytes:
    data = json.loads(bundle)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("case", "path", "value", "message"),
    [
        ("format", ("format",), "other", "not a collector escrow bundle"),
        ("version", ("version",), 2, "unsupported escrow bundle version"),
        ("kdf name", ("kdf", "name"), "scrypt", "unknown key derivation"),
        ("iterations", ("kdf", "iterations"), 2, "wrong passphrase"),
        ("huge memory", ("kdf", "memory_cost_kib"), 2**40, "out of range"),
        ("memory as text", ("kdf", "memory_cost_kib"), "8", "malformed"),
        ("salt", ("kdf", "salt"), "!!", "malformed"),
        ("salt too short", ("kdf", "salt"), "AAAA", "out of range"),
        ("sealed", ("sealed",), base64.b64encode(b"\x01" * 40).decode(), "wrong passphrase"),
    ],
)
def test_tampered_bundles_are_refused(
    entries: list[keyring.EscrowEntry],
    cheap_kdf: KDFParams,
    case: str,
    path: tuple[str, ...],
    value: object,
    message: str,
) -> None:
    bundle = keyring.export_escrow_bundle(entries, PASSPHRASE, kdf_params=cheap_kdf)
    with pytest.raises(KeyImportError, match=message):
        keyring.import_escrow_bundle(tampered(bundle, path, value), PASSPHRASE)


@pytest.mark.parametrize("data", [b"", b"garbage", b"[]", b"\xff\xfe", b'{"format": 1}'])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(KeyImportError):
        keyring.import_escrow_bundle(data, PASSPHRASE)


def test_entry_repr_and_str_hide_the_key(entries: list[keyring.EscrowEntry]) -> None:
    entry = entries[1]
    numbers = entry.private_key.private_numbers()
    for text in (repr(entry), str(entry), f"{entry}", repr(entries)):
        assert "private_key" not in text
        assert str(numbers.d)[:20] not in text
        assert format(numbers.d, "x")[:20] not in text
        assert "project_id=1" in text
