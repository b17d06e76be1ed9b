"""Round trips: encrypt_submission -> parse_manifest -> decrypt_submission, over hostile sizes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keys import odk
from keys.odk import SignatureStatus

MIB = 1_048_576
SIZES = [0, 1, 15, 16, 17]
MEDIA_COUNTS = [0, 1, 16, 20]
TURKISH = "İıŞşĞğÇçÖöÜü"
ARABIC = "مرحبا بالعالم، عائشة"

XML_TEXT = st.characters(min_codepoint=0x20, max_codepoint=0xFFFD).filter(
    lambda ch: not 0xD800 <= ord(ch) <= 0xDFFF
)
file_names = st.text(alphabet=XML_TEXT, min_size=1, max_size=12).filter(
    lambda n: (
        n.strip() == n
        and not {"/", "\\", "\x7f"} & set(n)
        and ".." not in n + ".enc"
        and n != "submission.xml"
    )
)
xml_bodies = st.one_of(
    st.sampled_from(SIZES).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    st.text(alphabet=TURKISH + ARABIC + "<>/ =\"'abc\n").map(str.encode),
    st.text().map(lambda t: t.encode("utf-8", "surrogatepass")),
)
instance_ids = st.one_of(
    st.uuids().map(lambda u: f"uuid:{u}"), st.text(alphabet=XML_TEXT, min_size=1, max_size=40)
)


def roundtrip(
    key: RSAPrivateKey,
    xml: bytes,
    media: list[tuple[str, bytes]],
    *,
    instance_id: str = "uuid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    form_id: str = "profiling",
    version: str = "2026112301",
) -> odk.DecryptedSubmission:
    sealed = odk.encrypt_submission(
        form_id=form_id,
        version=version,
        instance_id=instance_id,
        xml=xml,
        media=media,
        public_key=key.public_key(),
    )
    manifest = odk.parse_manifest(sealed.manifest)
    assert manifest.files == tuple(sealed.files)
    result = odk.decrypt_submission(manifest, key, sealed.files)
    assert result.signature is SignatureStatus.VALID
    assert result.xml == xml
    assert list(result.media.items()) == media
    assert result.instance_id == instance_id.strip()
    return result


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    xml=xml_bodies,
    count=st.sampled_from(MEDIA_COUNTS),
    size=st.sampled_from(SIZES),
    instance_id=instance_ids.filter(lambda s: s.strip() == s and s.strip() != ""),
    form_id=st.text(XML_TEXT, min_size=1, max_size=20).filter(lambda s: s.strip() == s != ""),
    version=st.text(XML_TEXT, max_size=10).filter(lambda s: s.strip() == s),
)
@example(xml=b"", count=0, size=0, instance_id="uuid:1", form_id="f", version="")
@example(xml=b"x" * MIB, count=1, size=17, instance_id="uuid:1", form_id="f", version="1")
@example(
    xml=f"<data><ad>{TURKISH}</ad><not>{ARABIC}</not></data>".encode(),
    count=20,
    size=16,
    instance_id="uuid:İstanbul",
    form_id="göç_profili",
    version="v1",
)
def test_roundtrip_with_a_2048_bit_key(
    enketo_key: RSAPrivateKey,
    xml: bytes,
    count: int,
    size: int,
    instance_id: str,
    form_id: str,
    version: str,
) -> None:
    media = [(f"m{i:02d}-{size}.bin", bytes([i]) * (size + i)) for i in range(count)]
    roundtrip(enketo_key, xml, media, instance_id=instance_id, form_id=form_id, version=version)


@settings(max_examples=25, deadline=None)
@given(
    names=st.lists(file_names, max_size=20, unique=True),
    contents=st.lists(st.binary(max_size=40), min_size=20, max_size=20),
)
def test_roundtrip_keeps_media_names_and_order(
    enketo_key: RSAPrivateKey, names: list[str], contents: list[bytes]
) -> None:
    media = list(zip(names, contents, strict=False))
    roundtrip(enketo_key, b"<data/>", media)


@pytest.mark.slow
@pytest.mark.parametrize("count", MEDIA_COUNTS)
@pytest.mark.parametrize("xml_size", [*SIZES, MIB])
def test_roundtrip_with_a_3072_bit_key(rsa_3072: RSAPrivateKey, xml_size: int, count: int) -> None:
    xml = (f"<data><ad>{TURKISH}</ad><not>{ARABIC}</not></data>".encode() * MIB)[:xml_size]
    media = [(f"photo-{i}.jpg", bytes(range(i % 256)) * 3) for i in range(count)]
    roundtrip(rsa_3072, xml, media)


@pytest.mark.slow
def test_roundtrip_with_a_generated_2048_bit_key(rsa_2048: RSAPrivateKey) -> None:
    roundtrip(rsa_2048, "<data>İı عائشة</data>".encode(), [("a.jpg", b"\xff" * 100)])


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=200), index=st.integers(min_value=0, max_value=40))
def test_file_round_trip_and_padding_length(data: bytes, index: int) -> None:
    key = bytes(range(32))
    iv = odk.file_iv("uuid:x", key, index)
    sealed = odk.encrypt_file(key, iv, data)
    assert len(sealed) == (len(data) // 16 + 1) * 16
    assert odk.decrypt_file(key, iv, sealed) == data
