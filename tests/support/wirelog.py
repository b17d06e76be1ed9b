"""Replaying pyodk's recorded requests against a live server, with real ids and bodies.

``../shared/reference/pyodk_wire_log.json`` holds every request pyodk 1.3.0 makes, as sent to a
recording server, whose ids (project 1, form ``simple``, ``uuid:1``, app user 10, entities
``e1``/``e2``) and some bodies (a bare XForm, a 101-byte "XLSX", the login) are placeholders.
``Replay`` sets up what the calls refer to, sends each request with its method, path, query,
headers and body, substitutes this server's ids and real bodies where the recording has
placeholders, and learns the ids the server hands back (app user, entities, form ids).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from forms.build import build_xform
from tests.conftest import ROOT
from tests.support.central import SIMPLE, simple_instance
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx

WIRE_LOG = ROOT.parent / "shared" / "reference" / "pyodk_wire_log.json"


def calls() -> list[dict[str, Any]]:
    """The recorded calls, in order."""
    found: list[dict[str, Any]] = json.loads(WIRE_LOG.read_text(encoding="utf-8"))
    return found


XFORM_WITH_FRUITS = (
    '<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
    "<h:head><h:title>Fruit</h:title><model>"
    '<instance><data id="fruit" version="1"><pick/><meta><instanceID/></meta></data></instance>'
    '<instance id="fruits" src="jr://file-csv/fruits.csv"/>'
    '<bind nodeset="/data/pick" type="string"/><bind nodeset="/data/meta/instanceID" '
    'type="string"/></model></h:head><h:body><input ref="/data/pick"><label>Pick</label>'
    "</input></h:body></h:html>"
)


@dataclass
class Replay:
    """Sends recorded requests with this server's ids and real bodies, and learns ids back."""

    origin: str
    email: str
    password: str = field(repr=False)
    http: requests.Session = field(default_factory=requests.Session)
    token: str = ""
    project: int = 0
    sent: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.token = self._login()
        self.project = self._post("projects", {"name": "Replay"})["id"]
        api = f"projects/{self.project}"
        self._upload_form(md_to_xlsx(SIMPLE))
        self.ids["existing"] = f"uuid:{uuid.uuid4()}"
        self._raw("POST", f"{api}/forms/simple/submissions", simple_instance(self.ids["existing"]))
        self.ids["new"], self.ids["edit"] = f"uuid:{uuid.uuid4()}", f"uuid:{uuid.uuid4()}"
        self._post(f"{api}/datasets", {"name": "trees"})
        self._post(f"{api}/datasets/trees/properties", {"name": "a"})
        self.ids["e2"] = self._post(f"{api}/datasets/trees/entities", {"label": "D", "data": {}})[
            "uuid"
        ]

    def _login(self) -> str:
        answer = self.http.post(
            f"{self.origin}/v1/sessions", json={"email": self.email, "password": self.password}
        )
        assert answer.status_code == 200
        token: str = answer.json()["token"]
        return token

    def _raw(self, method: str, path: str, body: bytes) -> requests.Response:
        return self.http.request(
            method,
            f"{self.origin}/v1/{path}",
            data=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/xml"},
        )

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.http.post(
            f"{self.origin}/v1/{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def _upload_form(self, xlsx: bytes) -> None:
        answer = self.http.post(
            f"{self.origin}/v1/projects/{self.project}/forms?publish=true&ignoreWarnings=true",
            data=xlsx,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            },
        )
        assert answer.status_code == 200, answer.text

    def _form_for(self, call: str) -> str:
        return {
            "forms.create(xml str, attachments)": "fruit",
            "forms.create(xlsx path)": self.ids.get("xlsx form", "field_visit"),
        }.get(call, "simple")

    def _instance_for(self, call: str) -> str:
        return self.ids["existing"] if call == "submissions.get" else self.ids["new"]

    def _entity_for(self, call: str, name: str) -> str:
        if name == "e2":
            return self.ids["e2"]
        return self.ids["merge e1"] if call == "entities.merge" else self.ids["A"]

    def path(self, call: str, path: str) -> str:
        path = path.replace("/v1/projects/1", f"/v1/projects/{self.project}", 1)
        path = path.replace("/forms/simple", f"/forms/{self._form_for(call)}")
        path = path.replace("uuid%3A1", self._instance_for(call).replace(":", "%3A"))
        path = path.replace("/assignments/2/10", f"/assignments/2/{self.ids.get('app user')}")
        for name in ("e1", "e2"):
            if path.endswith(f"/entities/{name}"):
                path = path[: -len(name)] + self._entity_for(call, name)
        return path

    def body(self, call: str, request: dict[str, Any]) -> bytes:
        recorded: bytes = request["body"].encode("utf-8", "surrogateescape")
        method, path = request["method"], request["path"]
        if call.startswith("Client.__enter__"):
            return json.dumps({"email": self.email, "password": self.password}).encode()
        if path.endswith("/v1/projects/1/forms") and call == "forms.create(xml str, attachments)":
            return XFORM_WITH_FRUITS.encode()
        if path.endswith("/v1/projects/1/forms"):
            return md_to_xlsx(FIELD_VISIT)
        if call == "forms.update(definition)" and path.endswith("/draft"):
            return build_xform(md_to_xlsx(SIMPLE), version="2").xml
        if call == "submissions.create" and path.endswith("/submissions"):
            return simple_instance(self.ids["new"], names=("Ayşe",), photo="photo.jpg")
        if call == "submissions.edit" and method == "PUT":
            return simple_instance(self.ids["edit"], deprecated=self.ids["new"])
        if call == "entity_lists.create":
            return json.dumps({"name": "saplings", "approvalRequired": False}).encode()
        return recorded

    def send(self, call: str, request: dict[str, Any]) -> requests.Response:
        headers = {k: v for k, v in request["headers"].items() if k != "Content-Length"}
        headers["Authorization"] = f"Bearer {self.token}"
        body = self.body(call, request)
        chunked = headers.pop("Transfer-Encoding", None) == "chunked"
        url = self.origin + self.path(call, request["path"])
        if request["raw_query"]:
            url += "?" + request["raw_query"]
        data: Any = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
        self.sent += 1
        return self.http.request(request["method"], url, data=data or None, headers=headers)

    def learn(self, call: str, request: dict[str, Any], response: requests.Response) -> None:
        if call.startswith("Client.__enter__"):
            self.token = response.json()["token"]
        elif (
            call == "projects.create_app_users"
            and request["method"] == "POST"
            and "app-users" in request["path"]
        ):
            self.ids["app user"] = str(response.json()["id"])
        elif call == "forms.create(xlsx path)" and request["path"].endswith("/forms"):
            self.ids["xlsx form"] = response.json()["xmlFormId"]
        elif call == "entities.create":
            self.ids["A"] = response.json()["uuid"]
        elif call == "entities.create_many":
            listed = self.http.get(
                f"{self.origin}/v1/projects/{self.project}/datasets/trees/entities",
                headers={"Authorization": f"Bearer {self.token}"},
            ).json()
            self.ids["merge e1"] = next(
                e["uuid"] for e in listed if e["currentVersion"]["label"] == "B"
            )
