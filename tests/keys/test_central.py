"""ODK Central managed-key import, against central-backend's own test vectors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from keys import central, keyring
from keys.errors import KeyImportError
from tests.keys import vectorlib


def managed(vectors: Path) -> dict[str, Any]:
    data: dict[str, Any] = vectorlib.central_crypto(vectors)["managed_getPrivate"]
    return data


def ursa(vectors: Path) -> dict[str, Any]:
    data: dict[str, Any] = vectorlib.central_crypto(vectors)["managed_backup_local_key_ursa"]
    return data


@pytest.mark.parametrize("index", [0, 1])
def test_managed_keys_import_and_match_their_pubkey(vectors: Path, index: int) -> None:
    data = managed(vectors)
    record = data["examples"][index]
    key = keyring.import_central_managed_key(record, data["passphrase"])
    assert key.key_size == 2048
    expected = keyring.load_public_key(base64.b64decode(record["pubkey"]))
    assert key.public_key().public_numbers() == expected.public_numbers()


@pytest.mark.parametrize("index", [0, 1])
def test_managed_keys_refuse_wrong_passphrases(vectors: Path, index: int) -> None:
    data = managed(vectors)
    for wrong in [*data["wrong_passphrases"], "", data["passphrase"].upper()]:
        with pytest.raises(KeyImportError) as info:
            keyring.import_central_managed_key(data["examples"][index], wrong)
        assert data["passphrase"] not in str(info.value)


def test_pem_that_parses_but_does_not_match_pubkey_is_refused(vectors: Path) -> None:
    # Stands in for a wrong passphrase whose CBC padding happened to pass: the decrypted key
    # is a key, but not the record's.
    data = managed(vectors)
    first, second = data["examples"]
    mixed = {**first, "pubkey": second["pubkey"]}
    with pytest.raises(KeyImportError, match="wrong passphrase"):
        keyring.import_central_managed_key(mixed, data["passphrase"])


@pytest.mark.parametrize(
    ("case", "change", "message"),
    [
        ("no privkey", {"privkey": None}, "no privkey"),
        ("salt not base64", {"salt": "***"}, "salt is not base64"),
        ("short iv", {"iv": base64.b64encode(b"x" * 8).decode()}, "iv has the wrong length"),
        (
            "privkey not whole blocks",
            {"privkey": base64.b64encode(b"x" * 15).decode()},
            "wrong passphrase",
        ),
        (
            "pubkey garbage",
            {"pubkey": base64.b64encode(b"nope").decode()},
            "pubkey is not a public key",
        ),
        ("iv as number", {"iv": 7}, "no iv"),
    ],
)
def test_malformed_records_are_refused(
    vectors: Path, case: str, change: dict[str, object], message: str
) -> None:
    data = managed(vectors)
    record = {**data["examples"][0], **change}
    with pytest.raises(KeyImportError, match=message):
        keyring.import_central_managed_key(record, data["passphrase"])


def test_record_must_be_a_mapping() -> None:
    with pytest.raises(KeyImportError, match="JSON object"):
        keyring.import_central_managed_key(["not", "a", "record"], "x")  # type: ignore[arg-type]


def test_ursa_backup_record_opens_and_decrypts(vectors: Path) -> None:
    data = ursa(vectors)
    key, local_key = central.open_central_backup(data["keys"], data["passphrase"])
    assert len(local_key) == 32
    plaintext = central.decrypt_central_backup(
        local_key, data["localiv"], base64.b64decode(data["ciphertext_b64"])
    )
    assert plaintext == data["plaintext"].encode()
    # The same record also imports as a key: it has no pubkey, so local.key vouches for it.
    imported = keyring.import_central_managed_key(data["keys"], data["passphrase"])
    assert imported.private_numbers() == key.private_numbers()


def test_ursa_backup_refuses_wrong_passphrase(vectors: Path) -> None:
    data = ursa(vectors)
    with pytest.raises(KeyImportError, match="wrong passphrase"):
        central.open_central_backup(data["keys"], "supersecret")


def test_ursa_backup_refuses_a_wrong_local_key(vectors: Path) -> None:
    data = ursa(vectors)
    _, local_key = central.open_central_backup(data["keys"], data["passphrase"])
    with pytest.raises(KeyImportError, match="does not decrypt"):
        central.decrypt_central_backup(
            bytes(32), data["localiv"], base64.b64decode(data["ciphertext_b64"])
        )
    assert local_key != bytes(32)


def test_record_without_pubkey_or_local_key_is_refused(vectors: Path) -> None:
    data = ursa(vectors)
    record = {k: v for k, v in data["keys"].items() if k != "local"}
    with pytest.raises(KeyImportError, match=r"neither pubkey nor local\.key"):
        keyring.import_central_managed_key(record, data["passphrase"])
