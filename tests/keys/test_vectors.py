"""Known answers: every real producer's submission decrypts to exactly what its provenance says."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from defusedxml import ElementTree

from keys import _enketo, odk
from keys.odk import SignatureStatus
from tests.keys import vectorlib
from tests.keys.vectorlib import KnownAnswer

CASES = vectorlib.case_names()
ENKETO_CASES = [n for n in CASES if n.startswith("enketo/")]
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def known(vectors: Path, name: str) -> KnownAnswer:
    return vectorlib.load_known_answer(vectors, name)


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def test_every_enketo_case_is_listed(vectors: Path) -> None:
    on_disk = {
        f"{p.parent.name}/{p.name}" for p in (vectors / "enketo").glob("enketo-*/*") if p.is_dir()
    }
    assert {n.removeprefix("enketo/") for n in ENKETO_CASES} == on_disk
    assert len(on_disk) == 14


@pytest.mark.parametrize("name", CASES)
def test_single_files_decrypt_with_their_iv_index(vectors: Path, name: str) -> None:
    case = known(vectors, name)
    manifest = odk.parse_manifest(case.manifest)
    aes_key = odk.unwrap_key(case.private_key, manifest.encrypted_key_b64)
    if case.aes_key is not None:
        assert aes_key == case.aes_key
    for enc_name, expected in case.plaintexts.items():
        if enc_name in case.enketo_ivs:
            continue  # decrypted with the producer's buggy IV in test_enketo_ivs
        iv = odk.file_iv(manifest.instance_id, aes_key, case.iv_indexes[enc_name])
        assert odk.decrypt_file(aes_key, iv, case.files[enc_name]) == expected


@pytest.mark.parametrize("name", [n for n in CASES if n != vectorlib.CENTRAL_CASE])
def test_submission_decrypts_to_exact_plaintext(vectors: Path, name: str) -> None:
    case = known(vectors, name)
    result = odk.decrypt_submission(odk.parse_manifest(case.manifest), case.private_key, case.files)
    assert result.signature is case.signature
    assert result.recovered_files == case.recovered
    assert result.notes == case.notes
    got = {
        **{f"{n}.enc": data for n, data in result.media.items()},
        "submission.xml.enc": result.xml,
    }
    assert list(got) == list(case.files)  # manifest order
    for enc_name, expected in case.plaintexts.items():
        assert got[enc_name] == expected, enc_name
    for enc_name, md5hex in case.plaintext_md5s.items():
        assert hashlib.md5(got[enc_name]).hexdigest() == md5hex


@pytest.mark.parametrize("name", vectorlib.BRIEFCASE_CASES)
def test_briefcase_xml_says_what_the_expected_export_says(vectors: Path, name: str) -> None:
    case = known(vectors, name)
    assert case.csv_row is not None
    manifest = odk.parse_manifest(case.manifest)
    result = odk.decrypt_submission(manifest, case.private_key, case.files)
    assert result.xml.startswith(b"<?xml version='1.0' ?><data id=\"" + manifest.form_id.encode())
    fields = {local(e.tag): (e.text or "") for e in ElementTree.fromstring(result.xml).iter()}
    assert fields["name"] == case.csv_row["name"]
    assert fields["instanceID"] == case.csv_row["meta-instanceID"] == case.csv_row["KEY"]
    assert result.instance_id == case.csv_row["KEY"]
    for column in ("image1", "image2"):
        if column in case.csv_row:
            # The export links media/<name>; the XML names the file, which we return by name.
            assert case.csv_row[column] == f"media/{fields[column]}"
            assert fields[column] in result.media
    assert (case.csv_row["isValidated"] == "true") == (result.signature is SignatureStatus.VALID)


@pytest.mark.parametrize("name", ENKETO_CASES)
def test_enketo_ivs(vectors: Path, name: str) -> None:
    case = known(vectors, name)
    assert case.aes_key is not None
    assert case.iv_seed is not None
    manifest = odk.parse_manifest(case.manifest)
    assert odk.iv_seed(manifest.instance_id, case.aes_key) == case.iv_seed
    for enc_name, iv in case.spec_ivs.items():
        assert odk.file_iv(manifest.instance_id, case.aes_key, case.iv_indexes[enc_name]) == iv
    for enc_name, iv in case.enketo_ivs.items():
        assert _enketo.enketo_iv(case.iv_seed, case.iv_indexes[enc_name]) == iv
        # Enketo's IV gives the exact plaintext; the spec IV garbles it or breaks its padding.
        assert odk.decrypt_file(case.aes_key, iv, case.files[enc_name]) == case.plaintexts[enc_name]
    for enc_name, index in case.iv_indexes.items():
        quirky = _enketo.enketo_iv(case.iv_seed, index)
        assert (quirky != odk.file_iv(manifest.instance_id, case.aes_key, index)) == (
            enc_name in case.enketo_ivs
        )


@pytest.mark.parametrize("name", ENKETO_CASES)
def test_enketo_encryptor_output_manifest_parses_the_same(vectors: Path, name: str) -> None:
    folder = vectors / name
    uploaded = odk.parse_manifest((folder / "submission.xml").read_bytes())
    raw = odk.parse_manifest((folder / "manifest.encryptor-output.xml").read_bytes())
    assert uploaded == raw
    assert (uploaded.form_id, uploaded.version) == ("enketo_vectors", "2026112301")


def test_central_key_retrieval(vectors: Path) -> None:
    data = vectorlib.central_crypto(vectors)["key_retrieval"]
    key = vectorlib.pem_key(vectors, "central-backend/" + data["private_key_file"])
    assert odk.unwrap_key(key, data["encAesKey_b64"]) == base64.b64decode(data["aesKey_b64"])


def test_central_iv_table(vectors: Path) -> None:
    data = vectorlib.central_crypto(vectors)["iv_generation"]
    aes_key = base64.b64decode(data["aesKey_b64"])
    for index, iv_hex in data["ivs_hex"].items():
        assert odk.file_iv(data["instanceId"], aes_key, int(index)).hex() == iv_hex


def test_central_end_to_end_uses_the_envelope_key(vectors: Path) -> None:
    data = vectorlib.central_crypto(vectors)["end_to_end_collect_1_22_4"]
    manifest = odk.parse_manifest(vectorlib.read_bytes(vectors, "central-backend/envelope-two.xml"))
    assert manifest.encrypted_key_b64 == data["encAesKey_b64"]
    assert manifest.instance_id == data["instanceId"]
    assert manifest.files.index("submission.xml.enc") == data["iv_index"]


def test_central_envelope_signature_opens_to_an_md5(vectors: Path) -> None:
    # The media file was never published, so the digest cannot be recomputed; it must still
    # open with the form's key as a 16-byte MD5 (PROVENANCE caveat).
    key = vectorlib.pem_key(vectors, "central-backend/priv.pem")
    for envelope in ("envelope-one.xml", "envelope-two.xml"):
        manifest = odk.parse_manifest(vectorlib.read_bytes(vectors, f"central-backend/{envelope}"))
        assert manifest.signature_b64 is not None
        digest = key.decrypt(base64.b64decode(manifest.signature_b64), OAEP)
        assert len(digest) == 16


@pytest.mark.parametrize("relpath", vectorlib.ONADATA_MANIFESTS)
def test_onadata_manifests_parse(vectors: Path, relpath: str) -> None:
    manifest = odk.parse_manifest(vectorlib.read_bytes(vectors, relpath))
    assert manifest.xml_file == "submission.xml.enc"
    assert manifest.instance_id.startswith("uuid:")
    assert manifest.signature_b64 is not None
    folder = (vectors / relpath).parent
    for name in manifest.files:
        if (folder / name).exists():
            assert (folder / name).stat().st_size % 16 == 0


def test_onadata_tutorial_manifest_details(vectors: Path) -> None:
    manifest = odk.parse_manifest(vectorlib.read_bytes(vectors, vectorlib.ONADATA_MANIFESTS[0]))
    assert manifest.form_id == "tutorial_encrypted"
    assert manifest.version == "201701031234"
    assert manifest.media == ("1483528430996.jpg.enc", "1483528445767.jpg.enc")
