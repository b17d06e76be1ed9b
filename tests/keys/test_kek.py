"""Master-key sources: base64 text, key files, passphrases."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from keys import kek
from keys.kek import KDFParams


def test_kek_from_base64() -> None:
    raw = bytes(range(32))
    assert kek.kek_from_base64(base64.b64encode(raw).decode()) == raw
    assert kek.kek_from_base64(" " + base64.b64encode(raw).decode() + "\n") == raw


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (base64.b64encode(b"x" * 31).decode(), "exactly 32 bytes"),
        (base64.b64encode(b"x" * 33).decode(), "exactly 32 bytes"),
        ("", "exactly 32 bytes"),
        ("this is not base64 at all!", "not valid base64"),
        ("c2VjcmV0LXZhbHVl$", "not valid base64"),
    ],
)
def test_kek_from_base64_refuses_without_echoing(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        kek.kek_from_base64(value)
    if value:
        assert value not in str(info.value)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "master.key"
    first = kek.load_or_create_key_file(path)
    assert len(first) == kek.KEK_SIZE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.b64decode(path.read_text().strip()) == first
    assert kek.load_or_create_key_file(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temp files left


def test_two_key_files_differ(tmp_path: Path) -> None:
    assert kek.load_or_create_key_file(tmp_path / "a") != kek.load_or_create_key_file(
        tmp_path / "b"
    )


@pytest.mark.parametrize(
    "content", [b"", b"short\n", base64.b64encode(b"x" * 16) + b"\n", b"\xff" * 40, b"A" * 5000]
)
def test_malformed_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ValueError, match="master key file") as info:
        kek.load_or_create_key_file(path)
    assert path.read_bytes() == content  # never replaced
    assert not isinstance(info.value, kek.InsecureKeyFileError)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_group_or_world_accessible_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    kek.load_or_create_key_file(path)
    path.chmod(mode)
    with pytest.raises(kek.InsecureKeyFileError, match="chmod 600") as info:
        kek.load_or_create_key_file(path)
    assert isinstance(info.value, ValueError)


def test_key_file_must_be_a_regular_file(tmp_path: Path) -> None:
    directory = tmp_path / "master.key"
    directory.mkdir(mode=0o700)
    with pytest.raises((ValueError, OSError)):
        kek.load_or_create_key_file(directory)


def test_passphrase_kdf(cheap_kdf: KDFParams) -> None:
    salt = bytes(16)
    one = kek.kek_from_passphrase("correct horse battery staple", salt, cheap_kdf)
    assert len(one) == 32
    assert one == kek.kek_from_passphrase("correct horse battery staple", salt, cheap_kdf)
    assert one != kek.kek_from_passphrase("correct horse battery stapl", salt, cheap_kdf)
    assert one != kek.kek_from_passphrase(
        "correct horse battery staple", bytes(15) + b"\x01", cheap_kdf
    )
    slower = KDFParams(memory_cost_kib=16, iterations=2, lanes=1)
    assert one != kek.kek_from_passphrase("correct horse battery staple", salt, slower)


def test_passphrase_kdf_is_argon2id(cheap_kdf: KDFParams) -> None:
    # RFC 9106-style check against the primitive directly: our wrapper adds nothing secret.
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    expected = Argon2id(salt=b"saltsalt", length=32, iterations=1, lanes=1, memory_cost=8).derive(
        b"pw"
    )
    assert kek.kek_from_passphrase("pw", b"saltsalt", cheap_kdf) == expected


def test_passphrase_kdf_refusals(cheap_kdf: KDFParams) -> None:
    with pytest.raises(ValueError, match="empty"):
        kek.kek_from_passphrase("", bytes(16), cheap_kdf)
    with pytest.raises(ValueError, match="salt"):
        kek.kek_from_passphrase("pw", b"short", cheap_kdf)


@pytest.mark.parametrize(
    "params",
    [(0, 1, 1), (8, 0, 1), (8, 1, 0), (8, 1, 2), (True, 1, 1), (8.0, 1, 1)],
)
def test_kdf_params_are_checked(params: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match=r"KDF parameter|per lane"):
        KDFParams(*params)


def test_default_kdf() -> None:
    assert kek.DEFAULT_KDF == KDFParams(memory_cost_kib=65536, iterations=3, lanes=4)


def test_new_salt() -> None:
    assert len(kek.new_salt()) == 16
    assert kek.new_salt() != kek.new_salt()


def test_kek_id() -> None:
    one, two = bytes(32), bytes(31) + b"\x01"
    assert kek.kek_id(one) == kek.kek_id(one)
    assert kek.kek_id(one) != kek.kek_id(two)
    assert len(kek.kek_id(one)) == 16
    assert int(kek.kek_id(one), 16) >= 0
    assert one.hex()[:16] not in kek.kek_id(one)
    with pytest.raises(ValueError, match="32 bytes"):
        kek.kek_id(b"short")


def test_symlinked_key_file_is_read_with_its_targets_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret" / "master.key"
    key = kek.load_or_create_key_file(target)
    link = tmp_path / "master.key"
    link.symlink_to(target)
    assert kek.load_or_create_key_file(link) == key
    target.chmod(0o644)
    with pytest.raises(kek.InsecureKeyFileError):
        kek.load_or_create_key_file(link)


def test_creation_never_replaces_a_key_that_appeared_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"theirs\n")
    assert kek._create_exclusively(path, b"ours\n") is False
    assert path.read_bytes() == b"theirs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]


def test_o_excl_fallback_creates_once(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    assert kek._create_with_o_excl(path, b"first\n") is True
    assert kek._create_with_o_excl(path, b"second\n") is False
    assert path.read_bytes() == b"first\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
