"""ODK encrypted submissions: unwrap the key, derive IVs, decrypt files, check the signature.

The exact protocol is in ../shared/reference/odk-encryption.md; the section numbers below refer
to it. Decryption is written to cost little more than its primitives: one RSA operation for the
key, one for the signature, one AES-CFB pass and one MD5 per file. The Enketo repairs
(keys._enketo) only run when the signature or a padding check has already failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from keys._enketo import enketo_iv, legacy_utf16_md5_hex, spec_iv, spec_ivs
from keys._hazmat import (
    RSAPrivateKey,
    RSAPublicKey,
    aes_cfb_decrypt,
    aes_cfb_encrypt,
    pkcs7_pad,
    pkcs7_unpad,
    rsa_oaep_decrypt,
    rsa_oaep_encrypt,
)
from keys.errors import DecryptionFailed, MissingFile
from keys.manifest import ODKManifest, build_manifest, check_file_name, parse_manifest

__all__ = [
    "AES_KEY_SIZE",
    "NOTE_ENKETO_IV_UNVERIFIED",
    "NOTE_ENKETO_UTF16_MD5",
    "XML_NAME",
    "DecryptedSubmission",
    "EncryptedSubmission",
    "ODKManifest",
    "SignatureStatus",
    "build_manifest",
    "decrypt_file",
    "decrypt_submission",
    "element_signature_message",
    "encrypt_file",
    "encrypt_submission",
    "file_iv",
    "iv_seed",
    "parse_manifest",
    "plaintext_name",
    "unwrap_key",
]

AES_KEY_SIZE = 32
XML_NAME = "submission.xml"
# The signature matches Enketo <= 7.5.x's UTF-16 MD5 of the XML: intact data, status INVALID.
NOTE_ENKETO_UTF16_MD5 = "enketo-utf16-md5"
# A file only decrypted with Enketo's quirky IV, and no signature confirmed it.
NOTE_ENKETO_IV_UNVERIFIED = "enketo-iv-repair-unverified"


class SignatureStatus(StrEnum):
    """What the element signature says about the decrypted submission."""

    VALID = "valid"
    INVALID = "invalid"
    RECOVERED = "recovered"
    MISSING = "missing"


@dataclass(frozen=True)
class DecryptedSubmission:
    """A decrypted submission; `recovered_files` are .enc names repaired from Enketo's IV bug."""

    instance_id: str
    xml: bytes = field(repr=False)
    media: dict[str, bytes] = field(repr=False)
    signature: SignatureStatus
    recovered_files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EncryptedSubmission:
    """A manifest and its .enc files (name -> ciphertext, in encryption order)."""

    manifest: bytes
    files: dict[str, bytes]


def plaintext_name(enc_name: str) -> str:
    """Return a file's plaintext name: the .enc name without its suffix."""
    return enc_name.removesuffix(".enc")


def unwrap_key(private_key: RSAPrivateKey, encrypted_key_b64: str) -> bytes:
    """Decrypt a submission's AES key (§1), or raise DecryptionFailed(stage="unwrap")."""
    try:
        key = rsa_oaep_decrypt(private_key, base64.b64decode(encrypted_key_b64, validate=True))
    except ValueError:
        raise DecryptionFailed("unwrap") from None
    if len(key) != AES_KEY_SIZE:
        raise DecryptionFailed("unwrap")
    return key


def iv_seed(instance_id: str, aes_key: bytes) -> bytes:
    """Return the IV seed MD5(utf8(instanceID) || key) (§2)."""
    return hashlib.md5(instance_id.encode("utf-8") + aes_key).digest()


def file_iv(instance_id: str, aes_key: bytes, index: int) -> bytes:
    """Return the IV of the file at 0-based `index` in encryption order (§2)."""
    if index < 0:
        raise ValueError("a file index cannot be negative")
    _check_aes_key(aes_key)
    return spec_iv(iv_seed(instance_id, aes_key), index)


def decrypt_file(aes_key: bytes, iv: bytes, data: bytes) -> bytes:
    """Decrypt one .enc file (AES-256-CFB, PKCS#7), or raise DecryptionFailed."""
    plaintext = _decrypt_or_none(aes_key, iv, data)
    if plaintext is None:
        raise DecryptionFailed("payload")
    return plaintext


def encrypt_file(aes_key: bytes, iv: bytes, data: bytes) -> bytes:
    """Encrypt one file as ODK Collect does (AES-256-CFB, PKCS#7)."""
    _check_aes_key(aes_key)
    return aes_cfb_encrypt(aes_key, iv, pkcs7_pad(data))


def element_signature_message(
    *,
    form_id: str,
    version: str,
    encrypted_key_b64: str,
    instance_id: str,
    file_md5s: Sequence[tuple[str, str]],
) -> bytes:
    """Return the UTF-8 text whose MD5 is signed (§4); `file_md5s` is (plaintext name, hex)."""
    lines = [form_id, *([version] if version else []), encrypted_key_b64, instance_id]
    lines += [f"{name}::{md5hex}" for name, md5hex in file_md5s]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _message(manifest: ODKManifest, file_md5s: Sequence[tuple[str, str]]) -> bytes:
    return element_signature_message(
        form_id=manifest.form_id,
        version=manifest.version,
        encrypted_key_b64=manifest.encrypted_key_b64,
        instance_id=manifest.instance_id,
        file_md5s=file_md5s,
    )


def _check_manifest_text(what: str, value: str) -> None:
    # The manifest is XML 1.0: control characters, surrogates and U+FFFE/U+FFFF cannot be
    # written at all, and parsers strip or normalise surrounding whitespace.
    if value != value.strip() or any(
        ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF or ord(ch) in (0xFFFE, 0xFFFF) for ch in value
    ):
        raise ValueError(f"the {what} contains characters an XML manifest cannot carry")


def _check_aes_key(aes_key: bytes) -> None:
    if len(aes_key) != AES_KEY_SIZE:
        raise ValueError(f"an ODK submission key must be {AES_KEY_SIZE} bytes")


def _decrypt_or_none(aes_key: bytes, iv: bytes, data: bytes) -> bytes | None:
    _check_aes_key(aes_key)
    try:
        return pkcs7_unpad(aes_cfb_decrypt(aes_key, iv, data))
    except ValueError:
        return None


def _signature_digest(private_key: RSAPrivateKey, signature_b64: str | None) -> bytes | None:
    if signature_b64 is None:
        return None
    try:
        return rsa_oaep_decrypt(private_key, base64.b64decode(signature_b64, validate=True))
    except ValueError:
        return None


@dataclass
class _Attempt:
    """The state of one decryption, shared by the verification and repair steps."""

    manifest: ODKManifest
    aes_key: bytes
    seed: bytes
    ciphertexts: list[bytes]
    signed: bytes | None

    def names(self) -> list[str]:
        return [plaintext_name(n) for n in self.manifest.media] + [XML_NAME]

    def digest(self, plaintexts: Sequence[bytes], *, legacy_xml: bool = False) -> bytes | None:
        md5s = [hashlib.md5(p).hexdigest() for p in plaintexts[:-1]]
        xml_md5 = (legacy_utf16_md5_hex if legacy_xml else _md5_hex)(plaintexts[-1])
        if xml_md5 is None:
            return None
        message = _message(self.manifest, list(zip(self.names(), [*md5s, xml_md5], strict=True)))
        return hashlib.md5(message).digest()

    def verifies(self, plaintexts: Sequence[bytes | None], *, legacy_xml: bool = False) -> bool:
        if self.signed is None or any(p is None for p in plaintexts):
            return False
        digest = self.digest([p for p in plaintexts if p is not None], legacy_xml=legacy_xml)
        return digest is not None and hmac.compare_digest(digest, self.signed)


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def decrypt_submission(
    manifest: ODKManifest, private_key: RSAPrivateKey, files: Mapping[str, bytes]
) -> DecryptedSubmission:
    """Decrypt a submission and check its signature; a bad signature is a status, not an error."""
    ciphertexts = []
    for name in manifest.files:
        if name not in files:
            raise MissingFile(name)
        ciphertexts.append(files[name])
    aes_key = unwrap_key(private_key, manifest.encrypted_key_b64)
    seed = iv_seed(manifest.instance_id, aes_key)
    attempt = _Attempt(
        manifest, aes_key, seed, ciphertexts, _signature_digest(private_key, manifest.signature_b64)
    )
    ivs = spec_ivs(seed, len(ciphertexts))
    plaintexts = [
        _decrypt_or_none(aes_key, iv, data) for iv, data in zip(ivs, ciphertexts, strict=True)
    ]
    if attempt.verifies(plaintexts):
        return _result(manifest, plaintexts, SignatureStatus.VALID)
    return _verify_or_repair(attempt, plaintexts)


def _verify_or_repair(attempt: _Attempt, plaintexts: list[bytes | None]) -> DecryptedSubmission:
    manifest = attempt.manifest
    affected = [
        i for i in range(len(plaintexts)) if enketo_iv(attempt.seed, i) != spec_iv(attempt.seed, i)
    ]
    repaired = list(plaintexts)
    for i in affected:
        repaired[i] = _decrypt_or_none(
            attempt.aes_key, enketo_iv(attempt.seed, i), attempt.ciphertexts[i]
        )
    affected_names = tuple(manifest.files[i] for i in affected)
    if affected and attempt.verifies(repaired):
        return _result(manifest, repaired, SignatureStatus.RECOVERED, affected_names)
    candidates = [(plaintexts, ())] + ([(repaired, affected_names)] if affected else [])
    for candidate, names in candidates:
        if attempt.verifies(candidate, legacy_xml=True):
            return _result(
                manifest, candidate, SignatureStatus.INVALID, names, (NOTE_ENKETO_UTF16_MD5,)
            )
    return _unverified(attempt, plaintexts, repaired)


def _unverified(
    attempt: _Attempt, plaintexts: list[bytes | None], repaired: list[bytes | None]
) -> DecryptedSubmission:
    # No signature confirms anything: keep the spec decryption of every file that has one, and
    # fall back to Enketo's IV only for files whose padding fails otherwise.
    manifest = attempt.manifest
    final: list[bytes | None] = []
    used_quirk: list[str] = []
    for i, plaintext in enumerate(plaintexts):
        if plaintext is None and repaired[i] is not None:
            used_quirk.append(manifest.files[i])
            plaintext = repaired[i]
        if plaintext is None:
            raise DecryptionFailed("payload", manifest.files[i])
        final.append(plaintext)
    status = SignatureStatus.MISSING if manifest.signature_b64 is None else SignatureStatus.INVALID
    notes = (NOTE_ENKETO_IV_UNVERIFIED,) if used_quirk else ()
    return _result(manifest, final, status, tuple(used_quirk), notes)


def _result(
    manifest: ODKManifest,
    plaintexts: Sequence[bytes | None],
    status: SignatureStatus,
    recovered: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> DecryptedSubmission:
    data = [p for p in plaintexts if p is not None]
    assert len(data) == len(plaintexts)
    return DecryptedSubmission(
        instance_id=manifest.instance_id,
        xml=data[-1],
        media={plaintext_name(n): d for n, d in zip(manifest.media, data, strict=False)},
        signature=status,
        recovered_files=recovered,
        notes=notes,
    )


def encrypt_submission(
    *,
    form_id: str,
    version: str,
    instance_id: str,
    xml: bytes,
    media: Sequence[tuple[str, bytes]],
    public_key: RSAPublicKey,
    aes_key: bytes | None = None,
) -> EncryptedSubmission:
    """Encrypt a submission exactly as ODK Collect does: manifest (§3), files and signature."""
    key = secrets.token_bytes(AES_KEY_SIZE) if aes_key is None else aes_key
    _check_aes_key(key)
    wrapped = base64.b64encode(rsa_oaep_encrypt(public_key, key)).decode("ascii")
    return _encrypt_from_parts(
        form_id=form_id,
        version=version,
        instance_id=instance_id,
        xml=xml,
        media=media,
        public_key=public_key,
        aes_key=key,
        encrypted_key_b64=wrapped,
    )


def _checked_names(
    form_id: str, version: str, instance_id: str, media: Sequence[tuple[str, bytes]]
) -> list[str]:
    if not form_id or not instance_id:
        raise ValueError("a submission needs a form id and an instanceID")
    for what, value in (("form id", form_id), ("version", version), ("instanceID", instance_id)):
        _check_manifest_text(what, value)
    enc_names = [check_file_name(name + ".enc") for name, _ in media] + [XML_NAME + ".enc"]
    if len(set(enc_names)) != len(enc_names):
        raise ValueError("media file names must be unique and differ from submission.xml")
    return enc_names


def _encrypt_from_parts(
    *,
    form_id: str,
    version: str,
    instance_id: str,
    xml: bytes,
    media: Sequence[tuple[str, bytes]],
    public_key: RSAPublicKey,
    aes_key: bytes,
    encrypted_key_b64: str,
) -> EncryptedSubmission:
    # Split out, like Fernet's _encrypt_from_parts, so tests can pin the randomised key wrap and
    # compare our ciphertexts and signed digest with real producers' output.
    _check_aes_key(aes_key)
    enc_names = _checked_names(form_id, version, instance_id, media)
    contents = [data for _, data in media] + [xml]
    ivs = spec_ivs(iv_seed(instance_id, aes_key), len(contents))
    files = {
        name: encrypt_file(aes_key, iv, data)
        for name, iv, data in zip(enc_names, ivs, contents, strict=True)
    }
    unsigned = ODKManifest(
        form_id=form_id,
        version=version,
        instance_id=instance_id,
        encrypted_key_b64=encrypted_key_b64,
        media=tuple(enc_names[:-1]),
        xml_file=enc_names[-1],
        signature_b64=None,
    )
    md5s = [(plaintext_name(n), _md5_hex(d)) for n, d in zip(enc_names, contents, strict=True)]
    signature = rsa_oaep_encrypt(public_key, hashlib.md5(_message(unsigned, md5s)).digest())
    manifest = replace(unsigned, signature_b64=base64.b64encode(signature).decode("ascii"))
    return EncryptedSubmission(manifest=build_manifest(manifest), files=files)
