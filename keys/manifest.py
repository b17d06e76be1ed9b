"""The encrypted-submission manifest: hardened parsing and Collect-exact serialisation.

Parsing uses expat directly with every DTD hook refusing: a manifest never needs a DTD, so any
``<!DOCTYPE``, entity or notation declaration is rejected before it can expand (billion laughs,
external entities). Elements and attributes are matched by local name, ignoring namespaces and
prefixes, because every producer spells them differently (reference §3).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from xml.parsers import expat
from xml.sax.saxutils import escape

from keys.errors import ManifestError

__all__ = ["DEFAULT_MAX_SIZE", "MAX_MEDIA_FILES", "ODKManifest", "build_manifest", "parse_manifest"]

DEFAULT_MAX_SIZE = 1_048_576
ENCRYPTED_NS = "http://www.opendatakit.org/xforms/encrypted"
OPENROSA_NS = "http://openrosa.org/xforms"
ENC_SUFFIX = ".enc"
_MAX_DEPTH = 16
_MAX_INSTANCE_ID = 200  # the stored column's width
_MAX_FILE_NAME = 255
#: Media files one submission may carry (a form with this many file questions is unheard of).
MAX_MEDIA_FILES = 5000


@dataclass(frozen=True)
class ODKManifest:
    """What an encrypted submission's manifest says."""

    form_id: str
    version: str
    instance_id: str
    encrypted_key_b64: str
    media: tuple[str, ...]
    xml_file: str
    signature_b64: str | None

    @property
    def files(self) -> tuple[str, ...]:
        """Return every .enc file name in encryption order (media first, then the XML)."""
        return (*self.media, self.xml_file)


@dataclass
class _Element:
    name: str
    attrs: dict[str, str]
    children: list[_Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def child(self, name: str) -> _Element | None:
        found = [c for c in self.children if c.name == name]
        if len(found) > 1:
            raise ManifestError(f"the manifest has more than one <{name}>")
        return found[0] if found else None

    def value(self) -> str:
        return "".join(self.text).strip()


def _local(name: str) -> str:
    # expat reports namespaced names as "uri local" (we set the separator to a space).
    return name.rpartition(" ")[2]


def _attr(value: str) -> str:
    return '"' + escape(value, {'"': "&quot;"}) + '"'


class _TreeBuilder:
    def __init__(self) -> None:
        self.stack: list[_Element] = []
        self.root: _Element | None = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if len(self.stack) >= _MAX_DEPTH:
            raise ManifestError("the manifest is nested too deeply")
        element = _Element(_local(name), {_local(k): v for k, v in attrs.items()})
        if self.stack:
            self.stack[-1].children.append(element)
        else:
            self.root = element
        self.stack.append(element)

    def end(self, _name: str) -> None:
        self.stack.pop()

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].text.append(text)


def _no_dtd(*_args: object) -> None:
    raise ManifestError("the manifest must not contain a DTD or entity declarations")


def _no_external_entity(*_args: object) -> int:
    raise ManifestError("the manifest must not refer to external entities")


def _parse_xml(data: bytes) -> _Element:
    builder = _TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    parser.UnparsedEntityDeclHandler = _no_dtd
    parser.NotationDeclHandler = _no_dtd
    parser.ExternalEntityRefHandler = _no_external_entity
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ManifestError(
            f"the manifest is not well-formed XML (line {exc.lineno}, column {exc.offset})"
        ) from None
    except ManifestError:  # From a handler (a DTD, nesting): itself a ValueError.
        raise
    except (LookupError, ValueError):  # An encoding expat and Python cannot read as text.
        raise ManifestError("the manifest declares an encoding that cannot be read") from None
    if builder.root is None:
        raise ManifestError("the manifest is not XML")
    return builder.root


def _precheck(data: bytes, max_size: int) -> None:
    if len(data) > max_size:
        raise ManifestError(f"the manifest is larger than {max_size} bytes")
    if not data.strip():
        raise ManifestError("the manifest is empty")
    upper = data.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise ManifestError("the manifest must not contain a DTD or entity declarations")


def _base64_text(element: _Element | None, tag: str, *, required: bool) -> str | None:
    if element is None or not element.value():
        if required:
            raise ManifestError(f"the manifest has no {tag}")
        return None
    value = "".join(element.value().split())
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ManifestError(f"{tag} is not valid base64") from None
    return value


def check_file_name(name: str) -> str:
    """Return `name` if it is a safe .enc file name, else raise ManifestError."""
    if not name:
        raise ManifestError("the manifest names an empty file")
    if "/" in name or "\\" in name:
        raise ManifestError("unsafe file name in the manifest: it contains a path separator")
    if ".." in name:
        raise ManifestError("unsafe file name in the manifest: it contains '..'")
    if name != name.strip():
        raise ManifestError("unsafe file name in the manifest: it starts or ends with a space")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ManifestError("unsafe file name in the manifest: it contains a control character")
    if len(name) > _MAX_FILE_NAME:
        raise ManifestError("unsafe file name in the manifest: it is too long")
    if not name.endswith(ENC_SUFFIX) or name == ENC_SUFFIX:
        raise ManifestError("unsafe file name in the manifest: it does not end with .enc")
    return name


def _instance_id(root: _Element) -> str:
    meta = root.child("meta")
    element = meta.child("instanceID") if meta is not None else None
    value = element.value() if element is not None else ""
    if not value:
        value = root.attrs.get("instanceID", "").strip()
    if not value:
        raise ManifestError("the manifest has no instanceID")
    if len(value) > _MAX_INSTANCE_ID:
        raise ManifestError("the manifest's instanceID is too long")
    return value


def _file_names(root: _Element) -> tuple[tuple[str, ...], str]:
    media = tuple(
        check_file_name(f.value())
        for m in root.children
        if m.name == "media"
        for f in m.children
        if f.name == "file"
    )
    if len(media) > MAX_MEDIA_FILES:
        raise ManifestError(f"the manifest names more than {MAX_MEDIA_FILES} media files")
    xml_element = root.child("encryptedXmlFile")
    if xml_element is None or not xml_element.value():
        raise ManifestError("the manifest has no encryptedXmlFile")
    xml_file = check_file_name(xml_element.value())
    names = (*media, xml_file)
    if len(set(names)) != len(names):
        raise ManifestError("the manifest names the same file twice")
    return media, xml_file


def parse_manifest(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> ODKManifest:
    """Parse an encrypted-submission manifest from any ODK producer, refusing unsafe XML."""
    _precheck(data, max_size)
    root = _parse_xml(data)
    if root.name != "data":
        raise ManifestError("the manifest's root element is not <data>")
    if root.attrs.get("encrypted", "").strip().lower() not in ("yes", "true"):
        raise ManifestError('not an encrypted submission (no encrypted="yes" on the root)')
    form_id = root.attrs.get("id", "").strip()
    if not form_id:
        raise ManifestError("the manifest has no form id")
    key = _base64_text(root.child("base64EncryptedKey"), "base64EncryptedKey", required=True)
    assert key is not None
    signature = _base64_text(
        root.child("base64EncryptedElementSignature"),
        "base64EncryptedElementSignature",
        required=False,
    )
    media, xml_file = _file_names(root)
    return ODKManifest(
        form_id=form_id,
        version=root.attrs.get("version", "").strip(),
        instance_id=_instance_id(root),
        encrypted_key_b64=key,
        media=media,
        xml_file=xml_file,
        signature_b64=signature,
    )


def build_manifest(manifest: ODKManifest) -> bytes:
    """Serialise a manifest exactly as ODK Collect writes it (KXmlSerializer, no declaration)."""
    version = f" version={_attr(manifest.version)}" if manifest.version else ""
    parts = [
        f'<data id={_attr(manifest.form_id)}{version} encrypted="yes" xmlns="{ENCRYPTED_NS}">',
        f"<base64EncryptedKey>{manifest.encrypted_key_b64}</base64EncryptedKey>",
        f'<orx:meta xmlns:orx="{OPENROSA_NS}">'
        f"<orx:instanceID>{escape(manifest.instance_id)}</orx:instanceID></orx:meta>\n",
    ]
    parts += [f"<media><file>{escape(name)}</file></media>\n" for name in manifest.media]
    parts.append(f"<encryptedXmlFile>{escape(manifest.xml_file)}</encryptedXmlFile>")
    if manifest.signature_b64 is not None:
        parts.append(
            "<base64EncryptedElementSignature>"
            f"{manifest.signature_b64}</base64EncryptedElementSignature>"
        )
    parts.append("</data>")
    return "".join(parts).encode("utf-8")
