"""The ODK Collect project-setup QR payload: base64 of zlib-compressed JSON settings."""

from __future__ import annotations

import base64
import json
import zlib
from urllib.parse import quote


def settings_payload(server_url: str, project_name: str) -> str:
    """Return the QR text that configures Collect for an app user's server URL."""
    settings = {
        "general": {
            "server_url": server_url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "project": {"name": project_name},
        "admin": {},
    }
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw)).decode()


def decode_payload(payload: str) -> dict[str, object]:
    """Return the settings a QR payload carries (what Collect reads back)."""
    data: dict[str, object] = json.loads(zlib.decompress(base64.b64decode(payload)))
    return data


def server_url(origin: str, token: str, project_id: int) -> str:
    """Return the Collect server URL of an app user."""
    return f"{origin.rstrip('/')}/v1/key/{token}/projects/{project_id}"


def draft_url(origin: str, token: str, project_id: int, xml_form_id: str) -> str:
    """Return the Collect server URL that tests a form's draft (its test token's)."""
    form = quote(xml_form_id, safe="")
    return f"{origin.rstrip('/')}/v1/test/{token}/projects/{project_id}/forms/{form}/draft"
