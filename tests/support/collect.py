"""A Collect-equivalent client: formList, download, HEAD, encrypted multipart POST.

It speaks to a real server over HTTP on loopback and encrypts exactly as ODK Collect does (the
project's encryptor, itself checked against real Collect, Briefcase and Enketo vectors).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate

import defusedxml.ElementTree as ElementTree
import requests

from keys import keyring as kr
from keys import odk

FORMLIST_NS = "{http://openrosa.org/xforms/xformsList}"
KEY_ATTR = re.compile(rb'base64RsaPublicKey="([^"]+)"')


@dataclass(frozen=True)
class ListedForm:
    form_id: str
    name: str
    version: str
    hash: str
    download_url: str


@dataclass(frozen=True)
class Upload:
    """A sealed submission ready to POST: the manifest and its .enc parts."""

    instance_id: str
    manifest: bytes
    files: dict[str, bytes]


class CollectClient:
    """One device configured with an app user's server URL."""

    def __init__(self, server_url: str, device_id: str | None = None, timeout: float = 30):
        self.server_url = server_url.rstrip("/")
        self.device_id = device_id or f"collect:{uuid.uuid4().hex[:16]}"
        self.http = requests.Session()
        self.timeout = timeout
        self.http.headers.update(
            {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2024.3.0 (sim)"}
        )

    def _get(self, url: str) -> requests.Response:
        return self.http.get(
            url,
            params={"deviceID": self.device_id},
            timeout=self.timeout,
            headers={"Date": formatdate(usegmt=True)},
        )

    def form_list(self) -> list[ListedForm]:
        """Fetch and parse formList (Collect insists on text/xml)."""
        response = self._get(f"{self.server_url}/formList")
        response.raise_for_status()
        assert response.headers["Content-Type"].startswith("text/xml")
        root = ElementTree.fromstring(response.content)
        return [
            ListedForm(
                form_id=x.findtext(f"{FORMLIST_NS}formID") or "",
                name=x.findtext(f"{FORMLIST_NS}name") or "",
                version=x.findtext(f"{FORMLIST_NS}version") or "",
                hash=x.findtext(f"{FORMLIST_NS}hash") or "",
                download_url=x.findtext(f"{FORMLIST_NS}downloadUrl") or "",
            )
            for x in root.iter(f"{FORMLIST_NS}xform")
        ]

    def download(self, form: ListedForm) -> bytes:
        """Download a form and check its bytes against the formList hash, as Collect does."""
        response = self._get(form.download_url)
        response.raise_for_status()
        assert form.hash == "md5:" + hashlib.md5(response.content).hexdigest()
        return response.content

    def head(self) -> requests.Response:
        """Collect's pre-flight HEAD on the submission URL."""
        return self.http.head(
            f"{self.server_url}/submission",
            params={"deviceID": self.device_id},
            timeout=self.timeout,
        )

    def seal(
        self,
        form_xml: bytes,
        form_id: str,
        version: str,
        instance_xml: bytes,
        media: Sequence[tuple[str, bytes]] = (),
        instance_id: str | None = None,
    ) -> Upload:
        """Encrypt an instance with the public key the downloaded form carries."""
        match = KEY_ATTR.search(form_xml)
        assert match, "the form carries no base64RsaPublicKey"
        public_key = kr.load_public_key(match.group(1))
        instance_id = instance_id or f"uuid:{uuid.uuid4()}"
        sealed = odk.encrypt_submission(
            form_id=form_id,
            version=version,
            instance_id=instance_id,
            xml=instance_xml,
            media=list(media),
            public_key=public_key,
        )
        return Upload(instance_id, sealed.manifest, dict(sealed.files))

    def post(
        self, upload: Upload, names: Sequence[str] | None = None, incomplete: bool = False
    ) -> requests.Response:
        """POST the manifest and some (default all) parts, as one multipart request."""
        chosen = upload.files if names is None else {n: upload.files[n] for n in names}
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            ("xml_submission_file", ("submission.xml", upload.manifest, "text/xml"))
        ]
        files += [(n, (n, data, "application/octet-stream")) for n, data in chosen.items()]
        data = {"*isIncomplete*": "yes"} if incomplete else None
        return self.http.post(
            f"{self.server_url}/submission",
            files=files,
            data=data,
            params={"deviceID": self.device_id},
            timeout=self.timeout,
            headers={"Date": formatdate(usegmt=True)},
        )
