"""Manifest parsing: every producer's dialect, and a table of hostile or broken manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from keys import odk
from keys.errors import ManifestError
from keys.manifest import check_file_name
from tests.keys import vectorlib

KEY = "QUJD"  # valid base64; parsing never opens it
SIG = "REVG"


def manifest(
    *,
    root: str = "data",
    attrs: str = 'id="f" version="1" encrypted="yes"',
    key: str = f"<base64EncryptedKey>{KEY}</base64EncryptedKey>",
    meta: str = "<orx:meta xmlns:orx='http://openrosa.org/xforms'>"
    "<orx:instanceID>uuid:1</orx:instanceID></orx:meta>",
    media: str = "<media><file>a.jpg.enc</file></media>",
    xml_file: str = "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>",
    signature: str = f"<base64EncryptedElementSignature>{SIG}</base64EncryptedElementSignature>",
    prolog: str = "",
) -> bytes:
    body = f"{key}{meta}{media}{xml_file}{signature}"
    ns = 'xmlns="http://www.opendatakit.org/xforms/encrypted"'
    return f"{prolog}<{root} {attrs} {ns}>{body}</{root}>".encode()


def test_the_template_is_valid() -> None:
    parsed = odk.parse_manifest(manifest())
    assert parsed == odk.ODKManifest(
        form_id="f",
        version="1",
        instance_id="uuid:1",
        encrypted_key_b64=KEY,
        media=("a.jpg.enc",),
        xml_file="submission.xml.enc",
        signature_b64=SIG,
    )
    assert parsed.files == ("a.jpg.enc", "submission.xml.enc")


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE data [<!ENTITY a "lol">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]>"
)
OVERSIZE = manifest(media="<media><file>a.jpg.enc</file></media>" + " " * 1_048_576)


@pytest.mark.parametrize(
    ("case", "payload", "error_text"),
    [
        ("dtd", manifest(prolog="<!DOCTYPE data [<!ELEMENT data ANY>]>"), "DTD"),
        (
            "billion laughs",
            manifest(prolog=BILLION_LAUGHS, attrs='id="&j;" encrypted="yes"'),
            "DTD",
        ),
        (
            "external entity",
            manifest(
                prolog='<!DOCTYPE data [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                attrs='id="&x;" encrypted="yes"',
            ),
            "DTD",
        ),
        (
            "utf-16 dtd past the byte check",
            manifest(prolog="<!DOCTYPE data>").decode().encode("utf-16"),
            "DTD",
        ),
        ("parameter entity", manifest(prolog='<!DOCTYPE data [<!ENTITY % p "x">]>'), "DTD"),
        ("not xml", b"hello, this is not XML", "not well-formed"),
        ("json", b'{"id": "f"}', "not well-formed"),
        ("truncated", manifest()[:-10], "not well-formed"),
        ("empty", b"", "empty"),
        ("oversize", OVERSIZE, "larger than 1048576 bytes"),
        ("wrong root", manifest(root="submission"), "root element is not <data>"),
        ("unencrypted", manifest(attrs='id="f"'), "not an encrypted submission"),
        ("encrypted no", manifest(attrs='id="f" encrypted="no"'), "not an encrypted submission"),
        ("no form id", manifest(attrs='encrypted="yes"'), "no form id"),
        ("missing key", manifest(key=""), "no base64EncryptedKey"),
        ("empty key", manifest(key="<base64EncryptedKey> </base64EncryptedKey>"), "no base64"),
        (
            "key not base64",
            manifest(key="<base64EncryptedKey>*%$</base64EncryptedKey>"),
            "not valid base64",
        ),
        (
            "two keys",
            manifest(key=f"<base64EncryptedKey>{KEY}</base64EncryptedKey>" * 2),
            "more than one <base64EncryptedKey>",
        ),
        (
            "signature not base64",
            manifest(
                signature="<base64EncryptedElementSignature>!</base64EncryptedElementSignature>"
            ),
            "base64EncryptedElementSignature is not valid base64",
        ),
        ("missing instanceID", manifest(meta=""), "no instanceID"),
        ("empty instanceID", manifest(meta="<meta><instanceID/></meta>"), "no instanceID"),
        (
            "instanceID too long",
            manifest(meta=f"<meta><instanceID>{'x' * 300}</instanceID></meta>"),
            "too long",
        ),
        (
            "instanceID wider than the stored column",
            manifest(meta=f"<meta><instanceID>uuid:{'a' * 196}</instanceID></meta>"),
            "too long",
        ),
        *(
            (
                f"encoding {name}",
                f'<?xml version="1.0" encoding="{name}"?>'.encode() + manifest(),
                "encoding that cannot be read",
            )
            for name in ("x-bogus", "utf-32", "shift_jis", "utf-7", "rot13", "zlib", "idna")
        ),
        ("missing xml file", manifest(xml_file=""), "no encryptedXmlFile"),
        ("parent dir", manifest(media="<media><file>../x.enc</file></media>"), "unsafe file name"),
        ("sub dir", manifest(media="<media><file>a/b.enc</file></media>"), "path separator"),
        ("backslash", manifest(media="<media><file>a\\b.enc</file></media>"), "path separator"),
        (
            "absolute",
            manifest(xml_file="<encryptedXmlFile>/etc/x.enc</encryptedXmlFile>"),
            "unsafe",
        ),
        ("dot dot xml", manifest(xml_file="<encryptedXmlFile>..enc</encryptedXmlFile>"), "'..'"),
        ("tab", manifest(media="<media><file>a&#9;b.enc</file></media>"), "control character"),
        ("not .enc", manifest(media="<media><file>a.jpg</file></media>"), "does not end with .enc"),
        ("only .enc", manifest(media="<media><file>.enc</file></media>"), "does not end with .enc"),
        (
            "duplicate media",
            manifest(media="<media><file>a.enc</file><file>a.enc</file></media>"),
            "same file twice",
        ),
        (
            "media named like the xml",
            manifest(media="<media><file>submission.xml.enc</file></media>"),
            "same file twice",
        ),
        ("too deep", manifest(media="<media>" * 20 + "</media>" * 20), "nested too deeply"),
        (
            "too many media files",
            manifest(media="".join(f"<media><file>f{i}.enc</file></media>" for i in range(5001))),
            "more than 5000 media files",
        ),
    ],
)
def test_bad_manifests_are_refused_clearly(case: str, payload: bytes, error_text: str) -> None:
    with pytest.raises(ManifestError) as info:
        odk.parse_manifest(payload)
    assert error_text in str(info.value), case
    # The message is for a client: it never echoes the hostile input back.
    assert "passwd" not in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["a\x00b.enc", "x" * 300 + ".enc", "", "a\x7f.enc"])
def test_unrepresentable_file_names_are_refused(name: str) -> None:
    with pytest.raises(ManifestError, match="file"):
        check_file_name(name)


def test_max_size_is_adjustable() -> None:
    data = manifest()
    assert odk.parse_manifest(data, max_size=len(data)).form_id == "f"
    with pytest.raises(ManifestError, match="larger than"):
        odk.parse_manifest(data, max_size=len(data) - 1)


def test_local_names_ignore_namespaces_and_prefixes() -> None:
    data = (
        b'<x:data xmlns:x="urn:anything" x:id="f" encrypted="true">'
        b"<x:base64EncryptedKey>QUJD</x:base64EncryptedKey>"
        b'<m:meta xmlns:m="urn:m"><m:instanceID> uuid:2 </m:instanceID></m:meta>'
        b"<media><file>b.enc</file><file>c.enc</file></media><media><file>d.enc</file></media>"
        b"<x:encryptedXmlFile>s.xml.enc</x:encryptedXmlFile><futureElement/></x:data>"
    )
    parsed = odk.parse_manifest(data)
    assert (parsed.form_id, parsed.version, parsed.instance_id) == ("f", "", "uuid:2")
    assert parsed.media == ("b.enc", "c.enc", "d.enc")
    assert parsed.xml_file == "s.xml.enc"
    assert parsed.signature_b64 is None


def test_root_instance_id_is_the_fallback() -> None:
    data = manifest(meta="", attrs='id="f" encrypted="yes" instanceID="uuid:root"')
    assert odk.parse_manifest(data).instance_id == "uuid:root"
    both = manifest(attrs='id="f" encrypted="yes" instanceID="uuid:root"')
    assert odk.parse_manifest(both).instance_id == "uuid:1"


def test_base64_with_line_breaks_is_joined() -> None:
    data = manifest(key="<base64EncryptedKey>\n  QU\n  JD\n</base64EncryptedKey>")
    assert odk.parse_manifest(data).encrypted_key_b64 == "QUJD"


def test_onadata_collect_manifest_is_rebuilt_byte_for_byte(vectors: Path) -> None:
    # onadata's tutorial manifest is ODK Collect's own KXmlSerializer output; the fixture file
    # adds one trailing newline, which Collect does not write.
    raw = vectorlib.read_bytes(vectors, vectorlib.ONADATA_MANIFESTS[0])
    assert odk.build_manifest(odk.parse_manifest(raw)) == raw.removesuffix(b"\n")


def test_built_manifest_escapes_and_round_trips() -> None:
    original = odk.ODKManifest(
        form_id='a"b&<c>',
        version="",
        instance_id="uuid:<&>",
        encrypted_key_b64=KEY,
        media=(),
        xml_file="submission.xml.enc",
        signature_b64=None,
    )
    data = odk.build_manifest(original)
    assert b"version=" not in data
    assert not data.startswith(b"<?xml")
    assert odk.parse_manifest(data) == original
