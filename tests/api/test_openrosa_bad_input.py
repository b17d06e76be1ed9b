"""Bad input to POST /submission: a clear 4xx in OpenRosa XML, and nothing stored changes.

Each case starts from a site that already holds one good submission, sends one bad upload
over real HTTP, and checks the status, the OpenRosaResponse body, the OpenRosa headers, and
that the submissions and submission_parts tables (and the good submission) are as before.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from collector.models import Submission
from tests.api.test_openrosa import assert_openrosa, response_message
from tests.support.collect import CollectClient, Upload
from tests.support.site import FORM_ID, Sealer, Site, instance_of, make_app, served_site

BOUNDARY = "collector-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<data id="field_visit" encrypted="yes">&xxe;</data>'
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<lolz>&lol3;</lolz>"
)
# An internal entity smuggled without a DOCTYPE keyword in the usual case.
ENTITY_ONLY = b'<!doctype data [<!entity e "x">]><data id="field_visit" encrypted="yes"/>'

Payload = Callable[[Upload], dict[str, Any]]


def multipart(manifest: bytes | None, parts: dict[str, bytes], **fields: str) -> dict[str, Any]:
    """Return requests.post keyword arguments for a multipart upload."""
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    if manifest is not None:
        files.append(("xml_submission_file", ("submission.xml", manifest, "text/xml")))
    files += [(n, (n, d, "application/octet-stream")) for n, d in parts.items()]
    return {"files": files, "data": fields or None}


def raw(body: bytes, content_type: str = MULTIPART) -> dict[str, Any]:
    """Return requests.post keyword arguments for a hand-written body."""
    return {"data": body, "headers": {"Content-Type": content_type}}


def with_manifest(change: Callable[[bytes], bytes]) -> Payload:
    """An upload whose manifest was edited, with all its parts."""
    return lambda up: multipart(change(up.manifest), up.files)


def replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(manifest: bytes) -> bytes:
        assert old in manifest
        return manifest.replace(old, new, 1)

    return edit


def part_head(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


def truncated(up: Upload) -> dict[str, Any]:
    """A multipart body cut off in its last part (no closing boundary)."""
    body = part_head("xml_submission_file", "submission.xml") + up.manifest + b"\r\n"
    body += part_head("submission.xml.enc", "submission.xml.enc") + up.files["submission.xml.enc"]
    return raw(body)


def plain_field(up: Upload) -> dict[str, Any]:
    """The .enc part as a text field instead of a file."""
    body = part_head("xml_submission_file", "submission.xml") + up.manifest + b"\r\n"
    body += part_head("submission.xml.enc") + b"not a file\r\n" + f"--{BOUNDARY}--\r\n".encode()
    return raw(body)


def resealed(sealer: Sealer, **changes: str) -> Payload:
    """An upload sealed for another form id or version (the key is right)."""

    def build(_up: Upload) -> dict[str, Any]:
        iid = f"uuid:{uuid.uuid4()}"
        form_id = changes.get("form_id", FORM_ID)
        version = changes.get("version", sealer.listed.version)
        xml = f'<data id="{form_id}" version="{version}"><meta><instanceID>{iid}</instanceID>'
        sealed = sealer.client.seal(
            sealer.form_xml, form_id, version, (xml + "</meta></data>").encode(), [], iid
        )
        return multipart(sealed.manifest, sealed.files)

    return build


def edit(old: bytes, new: bytes) -> Payload:
    """An upload whose manifest has ``old`` replaced by ``new``, with all its parts."""
    return with_manifest(replace(old, new))


def extra(name: str, keep: bool = True) -> Payload:
    """An upload with an extra part ``name`` (and its own parts unless ``keep`` is False)."""
    return lambda up: multipart(up.manifest, {**(up.files if keep else {}), name: b"x" * 16})


def manifest_is(manifest: bytes) -> Payload:
    return lambda up: multipart(manifest, up.files)


END = f"--{BOUNDARY}--\r\n".encode()
KEY = b"<base64EncryptedKey>"
IID = b"instanceID>uuid:"
PHOTO = b"<file>photo.jpg.enc"
URLENCODED = "application/x-www-form-urlencoded"

CASES: list[tuple[str, Payload | str, int]] = [
    ("not multipart", lambda up: raw(up.manifest, "text/xml"), 400),
    ("urlencoded form", lambda up: raw(b"xml_submission_file=x", URLENCODED), 400),
    ("multipart without boundary", lambda up: raw(b"garbage", "multipart/form-data"), 400),
    ("garbage multipart body", lambda up: raw(b"\x00\x01 not multipart at all"), 400),
    ("truncated multipart", truncated, 400),
    ("no xml_submission_file", lambda up: multipart(None, up.files), 400),
    ("two xml_submission_file parts", "two-manifests", 400),
    ("only a plain field", lambda up: raw(part_head("x") + b"1\r\n" + END), 400),
    (".enc part as a plain field", plain_field, 400),
    ("empty manifest", manifest_is(b""), 400),
    ("manifest is not XML", manifest_is(b"%PDF-1.4 not xml"), 400),
    ("manifest is not well-formed", with_manifest(lambda m: m[:-7]), 400),
    ("XXE external entity", manifest_is(XXE), 400),
    ("billion laughs", manifest_is(LAUGHS), 400),
    ("lower-case DTD", manifest_is(ENTITY_ONLY), 400),
    ("manifest over 1 MiB", with_manifest(lambda m: m + b" " * (1 << 20)), 400),
    ("wrong root element", edit(b"<data ", b"<submission "), 400),
    ("unencrypted submission", "plain", 400),
    ("no encrypted key", edit(KEY, b"<ignored>"), 400),
    ("encrypted key not base64", edit(KEY, KEY + b"%%"), 400),
    ("no instanceID", edit(IID, b"other>uuid:"), 400),
    ("instanceID too long", edit(IID, IID + b"x" * 300), 400),
    ("manifest names ../ file", edit(PHOTO, b"<file>../photo.jpg.enc"), 400),
    ("manifest names a path", edit(PHOTO, b"<file>a/photo.jpg.enc"), 400),
    ("manifest names a file twice", edit(PHOTO, b"<file>submission.xml.enc"), 400),
    ("manifest names a non-.enc file", edit(PHOTO, b"<file>photo.jpg"), 400),
    ("part with ../ in its name", extra("../x.enc"), 400),
    ("part with a path in its name", extra("dir/photo.jpg.enc", keep=False), 400),
    ("part not in the manifest", extra("extra.jpg.enc"), 400),
    ("unknown form", "unknown-form", 404),
    ("unknown version", "unknown-version", 404),
]


@pytest.fixture
def stored(site: Site, sealer: Sealer) -> Upload:
    """One good submission already stored: the state nothing bad may change."""
    upload = sealer()
    assert sealer.client.post(upload).status_code == 201
    return upload


def _payload(case: Payload | str, sealer: Sealer, upload: Upload) -> dict[str, Any]:
    if case == "plain":
        xml = b'<data id="field_visit" version="2026112301"><age>3</age></data>'
        return multipart(xml, {})
    if case == "two-manifests":
        other = sealer()
        kwargs = multipart(upload.manifest, upload.files)
        kwargs["files"].append(("xml_submission_file", ("b.xml", other.manifest, "text/xml")))
        return kwargs
    if case == "unknown-form":
        return resealed(sealer, form_id="no_such_form")(upload)
    if case == "unknown-version":
        return resealed(sealer, version="1999")(upload)
    assert callable(case)
    return case(upload)


def _snapshot(site: Site) -> list[tuple[Any, ...]]:
    with site.instance.sessions() as session:
        rows = session.query(Submission).order_by(Submission.id).all()
        return [(s.instance_id, s.state, s.manifest, s.received_parts, s.updated_at) for s in rows]


@pytest.mark.parametrize(("case", "payload", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_upload_is_refused_and_changes_nothing(
    site: Site, sealer: Sealer, stored: Upload, case: str, payload: Payload | str, code: int
) -> None:
    fresh = sealer()
    before, snapshot = site.counts(), _snapshot(site)
    kwargs = _payload(payload, sealer, fresh)
    response = requests.post(f"{site.server_url}/submission", timeout=30, **kwargs)
    assert response.status_code == code, (case, response.text)
    assert_openrosa(response)
    assert response_message(response), case
    assert 'nature="error"' in response.text
    assert site.counts() == before
    assert _snapshot(site) == snapshot


def test_a_bad_part_in_a_retry_keeps_the_parts_already_stored(site: Site, sealer: Sealer) -> None:
    upload = sealer()
    first = sealer.client.post(upload, names=["photo.jpg.enc"], incomplete=True)
    assert first.status_code == 201
    before = site.counts()
    bad = {**upload.files, "extra.enc": b"x" * 16}
    response = requests.post(
        f"{site.server_url}/submission", timeout=30, **multipart(upload.manifest, bad)
    )
    assert response.status_code == 400
    assert site.counts() == before == (1, 1)


# --- Size: a configurable limit, enforced before the body is read, and a streamed body. ---

LIMIT = 64 * 1024


@pytest.fixture
def small_site(tmp_path: Path, database_url: str) -> Iterator[Site]:
    app: Flask = make_app(tmp_path, database_url, max_request_bytes=LIMIT)
    with served_site(app) as site:
        yield site
    instance_of(app).close()


def test_oversize_body_is_refused_with_413(small_site: Site) -> None:
    client = CollectClient(small_site.server_url)
    sealer = Sealer(client)
    big = sealer(media=[("photo.jpg", os.urandom(LIMIT))])
    response = client.post(big)
    assert response.status_code == 413
    assert_openrosa(response, max_bytes=LIMIT)
    assert response_message(response)
    assert small_site.counts() == (0, 0)
    fits = sealer(media=[("photo.jpg", os.urandom(LIMIT // 2))])
    assert client.post(fits).status_code == 201
    assert small_site.counts() == (1, 2)


def test_oversize_chunked_body_is_refused_with_413(small_site: Site) -> None:
    sealer = Sealer(CollectClient(small_site.server_url))
    big = sealer(media=[("photo.jpg", os.urandom(2 * LIMIT))])
    url = f"{small_site.server_url}/submission"
    files = multipart(big.manifest, big.files)["files"]
    prepared = requests.Request("POST", url, files=files).prepare()
    body = prepared.body
    assert isinstance(body, bytes)
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
    response = requests.post(
        url,
        data=chunks,
        headers={"Content-Type": prepared.headers["Content-Type"]},
        timeout=30,
    )
    assert response.status_code == 413
    assert small_site.counts() == (0, 0)


def _multipart_file(upload: Upload, path: Path) -> str:
    """Write an upload's multipart body to a file part by part; return its content type."""
    with path.open("wb") as out:
        out.write(part_head("xml_submission_file", "submission.xml") + upload.manifest + b"\r\n")
        for name, data in upload.files.items():
            out.write(part_head(name, name) + data + b"\r\n")
        out.write(f"--{BOUNDARY}--\r\n".encode())
    return MULTIPART


def _post_file(url: str, path: Path, content_type: str) -> int:
    """POST a file's bytes as the body, read from disk in blocks (http.client streams files)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=60)
    with path.open("rb") as body:
        connection.request(
            "POST",
            f"{parts.path}/submission",
            body=body,
            headers={"Content-Type": content_type, "Content-Length": str(path.stat().st_size)},
        )
        status = connection.getresponse().status
    connection.close()
    return status


def test_large_upload_is_streamed_not_held_in_memory(site: Site, sealer: Sealer) -> None:
    part_size, count = 4 * 1024 * 1024, 6
    upload = sealer(media=[(f"{i}.jpg", os.urandom(part_size)) for i in range(count)])
    with tempfile.TemporaryDirectory() as scratch:
        body = Path(scratch) / "body"
        content_type = _multipart_file(upload, body)
        size = body.stat().st_size
        del upload
        tracemalloc.start()
        try:
            status = _post_file(site.server_url, body, content_type)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert status == 201
    assert site.counts() == (1, count + 1)
    # One part (and the driver's copy of it) at a time, never the whole body.
    assert peak < 3 * part_size < size / 2, (peak, size)


def test_a_submission_with_more_files_than_a_form_parser_takes_by_default(
    site: Site, sealer: Sealer
) -> None:
    """Collect sends every file of a submission in one POST if it fits the size limit."""
    upload = sealer(media=[(f"p{i}.jpg", b"p") for i in range(1100)])
    assert sealer.client.post(upload).status_code == 201
    assert site.counts() == (1, 1101)


def test_device_ids_are_stored_as_printable_text_within_the_column(
    site: Site, sealer: Sealer
) -> None:
    for device, stored in (("dev\x00ice", "device"), ("d" * 500, "d" * 200)):
        sealer.client.device_id = device
        upload = sealer()
        assert sealer.client.post(upload).status_code == 201
        with site.instance.sessions() as session:
            row = session.query(Submission).filter_by(instance_id=upload.instance_id).one()
            assert row.device_id == stored
