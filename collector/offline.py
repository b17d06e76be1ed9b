"""Offline decryption of one submission directory, as Briefcase and Aggregate store them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from collector import intake
from collector.errors import InvalidInput
from keys import odk
from keys.errors import DecryptionFailed, MissingFile

MANIFEST_NAME = "submission.xml"


def read_submission_dir(src: Path) -> tuple[odk.ODKManifest, dict[str, bytes]]:
    """Read the manifest and every file it names from a submission directory."""
    manifest_path = src / MANIFEST_NAME
    if not src.is_dir():
        raise InvalidInput(f"{src} is not a directory")
    if not manifest_path.is_file():
        raise InvalidInput(f"{manifest_path} is missing (the encrypted submission manifest)")
    if manifest_path.stat().st_size > intake.MAX_MANIFEST_BYTES:
        raise InvalidInput(f"{manifest_path} is larger than a manifest can be")
    manifest = odk.parse_manifest(manifest_path.read_bytes())
    files: dict[str, bytes] = {}
    for name in manifest.files:
        path = src / name
        if not path.is_file():
            raise MissingFile(name)
        files[name] = path.read_bytes()
    return manifest, files


def decrypt_with_any(
    manifest: odk.ODKManifest, files: dict[str, bytes], keys: Sequence[RSAPrivateKey]
) -> odk.DecryptedSubmission:
    """Decrypt with the first key that unwraps the submission key."""
    if not keys:
        raise InvalidInput("no private key is available to decrypt with")
    last: DecryptionFailed | None = None
    for key in keys:
        try:
            return odk.decrypt_submission(manifest, key, files)
        except DecryptionFailed as exc:
            if exc.stage != "unwrap":
                raise
            last = exc
    assert last is not None
    raise last


def write_plaintext(out: Path, result: odk.DecryptedSubmission) -> list[Path]:
    """Write submission.xml and the media into ``out``, each file atomically."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in [(MANIFEST_NAME, result.xml), *result.media.items()]:
        target = out / name
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def decrypt_directory(
    src: Path, out: Path, keys: Sequence[RSAPrivateKey]
) -> odk.DecryptedSubmission:
    """Decrypt a submission directory into ``out``; nothing is written unless all of it decrypts."""
    manifest, files = read_submission_dir(src)
    result = decrypt_with_any(manifest, files, keys)
    write_plaintext(out, result)
    return result
