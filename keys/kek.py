"""Master-key (KEK) sources: base64 text, a key file, or a passphrase through Argon2id.

Whatever the source, the KEK is 32 bytes that never leave the process: it seals private keys
and data keys (keys.seal) and is identified by kek_id(), a short HMAC that reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from keys._hazmat import argon2id

__all__ = [
    "DEFAULT_KDF",
    "KEK_SIZE",
    "SALT_SIZE",
    "InsecureKeyFileError",
    "KDFParams",
    "kek_from_base64",
    "kek_from_passphrase",
    "kek_id",
    "load_or_create_key_file",
    "new_salt",
]

KEK_SIZE = 32
SALT_SIZE = 16
_KEK_ID_LABEL = b"collector/kek-id/v1"
# A key file is one line of base64; anything much longer is not a key file.
_MAX_KEY_FILE = 1024


class InsecureKeyFileError(ValueError):
    """A key file is readable or writable by the group or others."""


@dataclass(frozen=True)
class KDFParams:
    """Argon2id cost parameters (memory in KiB)."""

    memory_cost_kib: int
    iterations: int
    lanes: int

    def __post_init__(self) -> None:
        for name in ("memory_cost_kib", "iterations", "lanes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"KDF parameter {name} must be a positive integer")
        if self.memory_cost_kib < 8 * self.lanes:
            raise ValueError("Argon2id needs at least 8 KiB of memory per lane")


# RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes): about 0.15 s on one core.
DEFAULT_KDF = KDFParams(memory_cost_kib=65536, iterations=3, lanes=4)


def kek_from_base64(value: str) -> bytes:
    """Decode a base64 master key, which must be exactly 32 bytes."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the master key is not valid base64") from None
    if len(key) != KEK_SIZE:
        raise ValueError(f"the master key must decode to exactly {KEK_SIZE} bytes")
    return key


def kek_from_passphrase(passphrase: str, salt: bytes, params: KDFParams = DEFAULT_KDF) -> bytes:
    """Derive a master key from a passphrase with Argon2id."""
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    if len(salt) < 8:
        raise ValueError("the salt must be at least 8 bytes")
    return argon2id(
        passphrase.encode("utf-8"),
        salt,
        memory_cost_kib=params.memory_cost_kib,
        iterations=params.iterations,
        lanes=params.lanes,
    )


def new_salt() -> bytes:
    """Return a fresh random KDF salt."""
    return secrets.token_bytes(SALT_SIZE)


def kek_id(kek: bytes) -> str:
    """Return a short non-secret identifier of a master key (HMAC-SHA256, 64 bits, hex)."""
    if len(kek) != KEK_SIZE:
        raise ValueError(f"a master key must be {KEK_SIZE} bytes")
    return hmac.new(kek, _KEK_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def load_or_create_key_file(path: Path) -> bytes:
    """Read the master key file, creating it (0600, random key) when it does not exist."""
    path = Path(path)
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(KEK_SIZE)
    if not _create_exclusively(path, base64.b64encode(key) + b"\n"):
        # Another process created it between our read and our create: use theirs.
        return _read_key_file(path)
    return key


def _read_key_file(path: Path) -> bytes:
    # Symlinks are followed (secret stores mount keys as links); the mode checked is the
    # target's, read from the open descriptor so it cannot change between check and read.
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"the master key file {path} is not a regular file")
        if os.name == "posix" and info.st_mode & 0o077:
            raise InsecureKeyFileError(
                f"the master key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):o}); run: chmod 600 {path}"
            )
        data = handle.read(_MAX_KEY_FILE + 1)
    if len(data) > _MAX_KEY_FILE:
        raise ValueError(f"the master key file {path} is not a key file (too large)")
    try:
        return kek_from_base64(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(
            f"the master key file {path} is malformed: it must hold one line of base64 "
            f"encoding exactly {KEK_SIZE} bytes"
        ) from None


def _create_exclusively(path: Path, content: bytes) -> bool:
    # Write a private temporary file in the same directory, flush it to disk, then hard-link it
    # into place: the link fails if the name exists, so the key file appears complete or not at
    # all, and an existing key is never overwritten.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".master-key-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            # Some network and FUSE file systems have no hard links: create with O_EXCL instead.
            return _create_with_o_excl(path, content)
    finally:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return True


def _create_with_o_excl(path: Path, content: bytes) -> bool:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
