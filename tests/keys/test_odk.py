"""Decryption failures, tampering, and our encryptor checked against real producers' bytes."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from keys import _enketo, odk
from keys.errors import DecryptionFailed, KeysError, MissingFile
from keys.odk import SignatureStatus
from tests.keys import vectorlib
from tests.keys.vectorlib import KnownAnswer

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
TEXT_CASE = "enketo/enketo-7.6.4/a_text_ascii"
MEDIA_CASE = "enketo/enketo-7.6.4/c_media_3"


def known(vectors: Path, name: str) -> KnownAnswer:
    return vectorlib.load_known_answer(vectors, name)


def decrypt(case: KnownAnswer, **changes: object) -> odk.DecryptedSubmission:
    manifest = dataclasses.replace(odk.parse_manifest(case.manifest), **changes)  # type: ignore[arg-type]
    return odk.decrypt_submission(manifest, case.private_key, case.files)


def with_file(case: KnownAnswer, name: str, data: bytes) -> KnownAnswer:
    return dataclasses.replace(case, files={**case.files, name: data})


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x5A]) + data[position + 1 :]


def test_wrong_key_fails_at_unwrap(vectors: Path, briefcase_key: RSAPrivateKey) -> None:
    case = dataclasses.replace(known(vectors, MEDIA_CASE), private_key=briefcase_key)
    with pytest.raises(DecryptionFailed) as info:
        decrypt(case)
    assert (info.value.stage, info.value.file) == ("unwrap", None)
    assert str(info.value) == "submission could not be decrypted"
    assert "unwrap" not in repr(info.value)


def test_key_that_is_not_base64_fails_at_unwrap(vectors: Path) -> None:
    with pytest.raises(DecryptionFailed) as info:
        odk.unwrap_key(known(vectors, TEXT_CASE).private_key, "not base64!")
    assert info.value.stage == "unwrap"


def test_wrapped_key_of_the_wrong_length_fails_at_unwrap(vectors: Path) -> None:
    case = known(vectors, TEXT_CASE)
    wrapped = case.private_key.public_key().encrypt(b"\x01" * 16, OAEP)
    with pytest.raises(DecryptionFailed):
        odk.unwrap_key(case.private_key, base64.b64encode(wrapped).decode())


def test_flipped_last_block_fails_the_padding(vectors: Path) -> None:
    case = known(vectors, MEDIA_CASE)
    data = case.files["c03-4099b.bin.enc"]
    with pytest.raises(DecryptionFailed) as info:
        decrypt(with_file(case, "c03-4099b.bin.enc", flip(data, len(data) - 1)))
    assert (info.value.stage, info.value.file) == ("payload", "c03-4099b.bin.enc")
    assert str(info.value) == "submission could not be decrypted"


def test_flipped_middle_byte_is_a_flag_not_a_loss(vectors: Path) -> None:
    case = known(vectors, MEDIA_CASE)
    result = decrypt(
        with_file(case, "c03-4099b.bin.enc", flip(case.files["c03-4099b.bin.enc"], 2000))
    )
    assert result.signature is SignatureStatus.INVALID
    assert result.recovered_files == ()
    got, want = result.media["c03-4099b.bin"], case.plaintexts["c03-4099b.bin.enc"]
    # CFB: the flipped byte, then the whole next block, and nothing else.
    assert next(i for i in range(len(want)) if got[i] != want[i]) == 2000
    assert sum(a != b for a, b in zip(got, want, strict=True)) <= 17
    assert result.xml == case.plaintexts["submission.xml.enc"]
    assert result.media["c01-1b.bin"] == case.plaintexts["c01-1b.bin.enc"]


@pytest.mark.parametrize("cut", [1, 5, 16, 4096])
def test_truncated_file_fails(vectors: Path, cut: int) -> None:
    case = known(vectors, MEDIA_CASE)
    data = case.files["c03-4099b.bin.enc"]
    with pytest.raises(DecryptionFailed) as info:
        decrypt(with_file(case, "c03-4099b.bin.enc", data[: len(data) - cut]))
    assert info.value.file == "c03-4099b.bin.enc"


def test_empty_file_fails(vectors: Path) -> None:
    case = known(vectors, MEDIA_CASE)
    with pytest.raises(DecryptionFailed) as info:
        decrypt(with_file(case, "submission.xml.enc", b""))
    assert info.value.file == "submission.xml.enc"


def test_missing_file_is_reported_before_any_crypto(
    vectors: Path, briefcase_key: RSAPrivateKey
) -> None:
    case = known(vectors, MEDIA_CASE)
    files = {k: v for k, v in case.files.items() if k != "c02-16b.bin.enc"}
    manifest = odk.parse_manifest(case.manifest)
    # The wrong key would fail the unwrap, so MissingFile proves the check comes first.
    with pytest.raises(MissingFile) as info:
        odk.decrypt_submission(manifest, briefcase_key, files)
    assert info.value.name == "c02-16b.bin.enc"
    assert "c02-16b.bin.enc" in str(info.value)
    assert isinstance(info.value, KeysError)


def test_extra_files_are_ignored(vectors: Path) -> None:
    case = known(vectors, TEXT_CASE)
    result = decrypt(with_file(case, "other.enc", b"x" * 32))
    assert result.signature is SignatureStatus.VALID


def test_changed_instance_id_garbles_only_first_blocks(vectors: Path) -> None:
    case = known(vectors, TEXT_CASE)
    result = decrypt(case, instance_id="uuid:00000000-0000-4000-8000-000000000000")
    want = case.plaintexts["submission.xml.enc"]
    assert result.signature is SignatureStatus.INVALID
    assert result.xml[16:] == want[16:]
    assert result.xml[:16] != want[:16]


@pytest.mark.parametrize(
    "changes",
    [{"form_id": "other_form"}, {"version": "2026112302"}, {"version": ""}],
    ids=["form_id", "version", "no version"],
)
def test_changed_signed_fields_flag_the_signature(vectors: Path, changes: dict[str, str]) -> None:
    case = known(vectors, MEDIA_CASE)
    result = decrypt(case, **changes)
    assert result.signature is SignatureStatus.INVALID
    assert result.xml == case.plaintexts["submission.xml.enc"]


def test_swapped_media_order_is_detected(vectors: Path) -> None:
    case = known(vectors, "enketo/enketo-7.6.4/d_media_20")
    manifest = odk.parse_manifest(case.manifest)
    media = (manifest.media[-1], *manifest.media[1:-1], manifest.media[0])
    # d01 is a 0-byte file: with another file's IV its only block no longer unpads.
    with pytest.raises(DecryptionFailed) as info:
        decrypt(case, media=media)
    assert info.value.file == manifest.media[0]


def test_missing_signature_is_reported_with_intact_data(vectors: Path) -> None:
    case = known(vectors, MEDIA_CASE)
    result = decrypt(case, signature_b64=None)
    assert result.signature is SignatureStatus.MISSING
    assert result.xml == case.plaintexts["submission.xml.enc"]


def test_garbage_signature_is_invalid(vectors: Path) -> None:
    case = known(vectors, MEDIA_CASE)
    other = odk.parse_manifest(known(vectors, TEXT_CASE).manifest).signature_b64
    for signature in ("QUJD", other):
        assert decrypt(case, signature_b64=signature).signature is SignatureStatus.INVALID


def test_enketo_tiny_files_without_a_signature_are_repaired_but_unverified(vectors: Path) -> None:
    case = known(vectors, "enketo/enketo-7.6.4/e5_quirk_tiny_files_padding")
    result = decrypt(case, signature_b64=None)
    assert result.signature is SignatureStatus.MISSING
    assert result.recovered_files == ("p02-1b.bin.enc", "p03-0b.bin.enc")
    assert result.notes == (odk.NOTE_ENKETO_IV_UNVERIFIED,)
    assert result.media["p02-1b.bin"] == case.plaintexts["p02-1b.bin.enc"]
    assert result.media["p03-0b.bin"] == b""


def test_decrypted_submission_repr_hides_plaintext(vectors: Path) -> None:
    result = decrypt(known(vectors, TEXT_CASE))
    assert b"<data" in result.xml
    assert "<data" not in repr(result)


def test_file_iv_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="negative"):
        odk.file_iv("uuid:1", b"k" * 32, -1)
    with pytest.raises(ValueError, match="32 bytes"):
        odk.file_iv("uuid:1", b"k" * 16, 0)


def test_signature_message_layout() -> None:
    message = odk.element_signature_message(
        form_id="f",
        version="",
        encrypted_key_b64="K",
        instance_id="uuid:İ",
        file_md5s=[("a.jpg", "0" * 32), ("submission.xml", "f" * 32)],
    )
    assert (
        message
        == ("f\nK\nuuid:İ\na.jpg::" + "0" * 32 + "\nsubmission.xml::" + "f" * 32 + "\n").encode()
    )


# Our encryptor against real output: with the producer's AES key and wrapped key pinned, every
# ciphertext must be byte-equal and the signed digest identical (RSA-OAEP itself is randomised,
# so the signature is compared after decryption).
SPEC_CONFORMANT = [
    *vectorlib.BRIEFCASE_CASES,
    *[
        f"enketo/{n}"
        for n in vectorlib.enketo_case_names()
        if n.split("/")[1][:2] in ("a_", "b_", "b2", "c_", "d_", "e3")
    ],
]


def signed_digest(key: RSAPrivateKey, manifest: odk.ODKManifest) -> bytes:
    assert manifest.signature_b64 is not None
    return key.decrypt(base64.b64decode(manifest.signature_b64), OAEP)


def reencrypt(case: KnownAnswer) -> tuple[odk.ODKManifest, odk.EncryptedSubmission]:
    theirs = odk.parse_manifest(case.manifest)
    ours = odk.decrypt_submission(theirs, case.private_key, case.files)
    aes_key = odk.unwrap_key(case.private_key, theirs.encrypted_key_b64)
    sealed = odk._encrypt_from_parts(
        form_id=theirs.form_id,
        version=theirs.version,
        instance_id=theirs.instance_id,
        xml=ours.xml,
        media=list(ours.media.items()),
        public_key=case.private_key.public_key(),
        aes_key=aes_key,
        encrypted_key_b64=theirs.encrypted_key_b64,
    )
    return theirs, sealed


@pytest.mark.parametrize("name", SPEC_CONFORMANT)
def test_our_encryptor_matches_real_ciphertexts(vectors: Path, name: str) -> None:
    case = known(vectors, name)
    theirs, sealed = reencrypt(case)
    assert sealed.files == case.files
    mine = odk.parse_manifest(sealed.manifest)
    assert dataclasses.replace(mine, signature_b64=None) == dataclasses.replace(
        theirs, signature_b64=None
    )
    if case.signature is SignatureStatus.VALID:
        assert signed_digest(case.private_key, mine) == signed_digest(case.private_key, theirs)
    else:
        # Enketo 7.5.1 signed a UTF-16 MD5; we sign the UTF-8 one, as the spec says.
        assert case.notes == ("enketo-utf16-md5",)
        result = odk.decrypt_submission(mine, case.private_key, sealed.files)
        assert result.signature is SignatureStatus.VALID


@pytest.mark.parametrize(
    "name", [f"enketo/{n}" for n in vectorlib.enketo_case_names() if "quirk" in n and "e3" not in n]
)
def test_our_encryptor_differs_from_enketo_exactly_where_its_iv_is_wrong(
    vectors: Path, name: str
) -> None:
    case = known(vectors, name)
    theirs, sealed = reencrypt(case)
    differing = tuple(n for n in case.files if sealed.files[n] != case.files[n])
    # (With another IV, CFB encryption changes the whole file, not just its first block.)
    assert differing == case.recovered
    mine = odk.parse_manifest(sealed.manifest)
    assert signed_digest(case.private_key, mine) == signed_digest(case.private_key, theirs)


def test_our_encryptor_matches_collect_1_22_4(vectors: Path) -> None:
    # Collect encrypted submission.xml at IV index 1, after one media file that was never
    # published; any media content gives the same IV for the XML.
    case = known(vectors, vectorlib.CENTRAL_CASE)
    manifest = odk.parse_manifest(case.manifest)
    sealed = odk._encrypt_from_parts(
        form_id=manifest.form_id,
        version=manifest.version,
        instance_id=manifest.instance_id,
        xml=case.plaintexts["submission.xml.enc"],
        media=[(manifest.media[0].removesuffix(".enc"), b"not the real photo")],
        public_key=case.private_key.public_key(),
        aes_key=odk.unwrap_key(case.private_key, manifest.encrypted_key_b64),
        encrypted_key_b64=manifest.encrypted_key_b64,
    )
    assert sealed.files["submission.xml.enc"] == case.files["submission.xml.enc"]


def test_encrypt_submission_refuses_bad_input(enketo_key: RSAPrivateKey) -> None:
    public = enketo_key.public_key()
    base = {
        "form_id": "f",
        "version": "",
        "instance_id": "uuid:1",
        "xml": b"<d/>",
        "public_key": public,
    }
    with pytest.raises(ValueError, match="unique"):
        odk.encrypt_submission(**base, media=[("a", b""), ("a", b"")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unique"):
        odk.encrypt_submission(**base, media=[("submission.xml", b"")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsafe"):
        odk.encrypt_submission(**base, media=[("../a", b"")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32 bytes"):
        odk.encrypt_submission(**base, media=[], aes_key=b"short")  # type: ignore[arg-type]


def test_encrypt_submission_writes_collects_manifest_shape(enketo_key: RSAPrivateKey) -> None:
    sealed = odk.encrypt_submission(
        form_id="f",
        version="3",
        instance_id="uuid:1",
        xml=b"<d/>",
        media=[("a.jpg", b"x"), ("b.jpg", b"y")],
        public_key=enketo_key.public_key(),
    )
    assert sealed.manifest.startswith(
        b'<data id="f" version="3" encrypted="yes" xmlns="http://www.opendatakit.org/xforms/encrypted">'
        b"<base64EncryptedKey>"
    )
    assert b"</orx:meta>\n<media><file>a.jpg.enc</file></media>\n<media>" in sealed.manifest
    assert list(sealed.files) == ["a.jpg.enc", "b.jpg.enc", "submission.xml.enc"]
    assert (
        hashlib.md5(sealed.manifest).digest()
        != hashlib.md5(
            odk.encrypt_submission(
                form_id="f",
                version="3",
                instance_id="uuid:1",
                xml=b"<d/>",
                media=[("a.jpg", b"x"), ("b.jpg", b"y")],
                public_key=enketo_key.public_key(),
            ).manifest
        ).digest()
    )  # a fresh AES key every time


def test_one_pass_ivs_equal_the_per_index_ivs() -> None:
    seed = bytes.fromhex("fcbf76fe758d20c1cb9bab3cf2145742")
    assert _enketo.spec_ivs(seed, 50) == [_enketo.spec_iv(seed, i) for i in range(50)]
    assert _enketo.spec_ivs(seed, 0) == []
