"""The set-up commands: quickstart, users, projects, forms publish, app users, submissions.

These hold the CLI contract of issue #4 (what each command prints) that scripts rely on.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import segno
from sqlalchemy import func, select

from api.config import Instance, load_settings
from collector import appusers, collectqr, erasure, users
from collector.db import transaction
from collector.errors import Forbidden
from collector.models import (
    AppUser,
    AuditEntry,
    Form,
    FormAssignment,
    FormVersion,
    Project,
    Submission,
    SubmissionPart,
    SubmissionRecord,
    User,
    utcnow,
)
from tests.api.conftest import Invoke
from tests.support.collect import CollectClient
from tests.support.qrpng import modules
from tests.support.site import Sealer, Site
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx

URL = re.compile(r"^Collect server URL: (\S+)$", re.MULTILINE)


def open_instance(env: dict[str, str]) -> Instance:
    return Instance(load_settings(env=env))


def assert_qr_png(png: Path, server_url: str, project_name: str) -> None:
    """The PNG draws exactly the Collect settings payload for this server URL and project."""
    payload = collectqr.settings_payload(server_url, project_name)
    expected = segno.make_qr(payload, error="l").matrix
    assert modules(png, scale=6, border=4) == [[bool(m) for m in row] for row in expected]
    settings = collectqr.decode_payload(payload)
    assert settings["general"] == {
        "server_url": server_url,
        "form_update_mode": "match_exactly",
        "autosend": "wifi_and_cellular",
    }
    assert (settings["project"], settings["admin"]) == ({"name": project_name}, {})


def test_quickstart_sets_up_a_working_instance(cli: Invoke, cli_env: dict[str, str]) -> None:
    surveys = pytest.importorskip("forms.surveys")
    result = cli("quickstart", "--no-serve", "--port", "8123")
    assert result.exit_code == 0, result.output
    password = re.search(r"password \(shown once\): (\S+)", result.output)
    url = URL.search(result.output)
    assert password
    assert url
    assert url.group(1).startswith("http://127.0.0.1:8123/v1/key/")
    png = Path(cli_env["COLLECTOR_DATA_DIR"]) / "collect-qr.png"
    assert_qr_png(png, url.group(1), "Migration field work")
    instance = open_instance(cli_env)
    try:
        with instance.sessions() as session:
            assert session.scalars(select(Project.name)).all() == ["Migration field work"]
            forms = session.scalars(select(Form.xml_form_id).order_by(Form.xml_form_id)).all()
            assert forms == sorted(surveys.SURVEYS)
            for xml in session.scalars(select(FormVersion.xml)):
                assert b"base64RsaPublicKey=" in xml
            assert users.verify(session, "admin@example.org", password.group(1)) is not None
            assert session.scalars(select(User.role)).all() == ["admin"]
            assert len(session.scalars(select(FormAssignment)).all()) == len(forms)
    finally:
        instance.close()
    again = cli("quickstart", "--no-serve")
    assert again.exit_code == 0, again.output
    assert "already set up" in again.output
    assert "password" not in again.output


def test_users_create_reads_the_password_from_stdin(
    initialised: Invoke, cli_env: dict[str, str]
) -> None:
    result = initialised(
        "users", "create", "Ada@Example.org", "--role", "data-manager", "--password-stdin",
        input="correct horse battery\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == "user 1 ada@example.org (data-manager)\n"
    generated = initialised("users", "create", "root@example.org", "--role", "admin")
    assert generated.exit_code == 0
    secret = re.search(r"password \(shown once\): (\S+)", generated.output)
    assert secret
    instance = open_instance(cli_env)
    try:
        with instance.sessions() as session:
            assert users.verify(session, "ada@example.org", "correct horse battery")
            assert users.verify(session, "root@example.org", secret.group(1))
            assert not users.verify(session, "ada@example.org", "wrong password!")
    finally:
        instance.close()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("x@example.org", "--role", "admin", "--password-stdin"), "short\n", "at least 10"),
        (("not-an-email", "--role", "admin"), None, "not an email"),
        (("x@example.org", "--role", "owner"), None, "Invalid value for '--role'"),
    ],
)
def test_users_create_refuses_clearly(
    initialised: Invoke, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    result = initialised("users", "create", *args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def project_with_form(initialised: Invoke, tmp_path: Path) -> str:
    created = initialised("projects", "create", "Field")
    assert created.exit_code == 0, created.output
    project = created.output.strip()
    xlsx = tmp_path / "field_visit.xlsx"
    xlsx.write_bytes(md_to_xlsx(FIELD_VISIT))
    published = initialised("forms", "publish", str(xlsx), "--project", project)
    assert published.exit_code == 0, published.output
    assert published.output == "field_visit 2026112301\n"
    return project


def test_app_users_create_list_revoke(
    initialised: Invoke, cli_env: dict[str, str], project_with_form: str, tmp_path: Path
) -> None:
    project, png = project_with_form, tmp_path / "tablet.png"
    created = initialised(
        "app-users", "create", "--project", project, "Tablet 1", "--forms", "field_visit",
        "--origin", "https://collect.example.org/", "--qr", str(png),
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    token = re.search(r"^token: (\S+)$", created.output, re.MULTILINE)
    url = URL.search(created.output)
    assert token
    assert url
    assert appusers.TOKEN_PATTERN.fullmatch(token.group(1))
    assert url.group(1) == f"https://collect.example.org/v1/key/{token.group(1)}/projects/{project}"
    assert_qr_png(png, url.group(1), "Field")
    listed = initialised("app-users", "list", "--project", project, "--json")
    [row] = json.loads(listed.output)
    assert (row["displayName"], row["revoked"], row["expiresAt"]) == ("Tablet 1", False, None)
    assert token.group(1) not in listed.output
    revoked = initialised("app-users", "revoke", "--project", project, str(row["id"]))
    assert revoked.exit_code == 0, revoked.output
    [row] = json.loads(initialised("app-users", "list", "--project", project, "--json").output)
    assert row["revoked"] is True
    instance = open_instance(cli_env)
    try:
        with instance.sessions() as session:
            with pytest.raises(Forbidden):
                appusers.authenticate(session, token.group(1), int(project))
            assert session.scalars(select(AppUser.token_hash)).all() == [None]
    finally:
        instance.close()


def test_app_user_expiry_and_unknown_forms(
    initialised: Invoke, cli_env: dict[str, str], project_with_form: str
) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    created = initialised(
        "app-users", "create", "--project", project_with_form, "Old", "--expires", past
    )
    assert created.exit_code == 0, created.output
    token = re.search(r"^token: (\S+)$", created.output, re.MULTILINE)
    assert token
    unknown = initialised(
        "app-users", "create", "--project", project_with_form, "Bad", "--forms", "nope"
    )
    assert unknown.exit_code == 1
    assert "nope" in unknown.output
    instance = open_instance(cli_env)
    try:
        with instance.sessions() as session:
            with pytest.raises(Forbidden, match="expired"):
                appusers.authenticate(session, token.group(1), int(project_with_form))
            names = session.scalars(select(AppUser.display_name)).all()
            assert names == ["Old"]
    finally:
        instance.close()


def test_submissions_list_json_filters_and_process(site: Site, sealer: Sealer, cli: Invoke) -> None:
    uploads = [sealer() for _ in range(3)]
    for upload in uploads:
        assert sealer.client.post(upload).status_code == 201
    project = str(site.project_id)
    rows = json.loads(cli("submissions", "list", "--project", project, "--json").output)
    assert [r["instanceId"] for r in rows] == [u.instance_id for u in uploads]
    for row in rows:
        assert {"instanceId", "formId", "state", "reason"} <= set(row)
        assert (row["formId"], row["state"], row["reason"], row["parts"]) == (
            "field_visit",
            "received",
            None,
            "2/2",
        )
    processed = cli("submissions", "process")
    assert processed.exit_code == 0, processed.output
    assert processed.output == "3 submissions processed or failed\n"
    done = cli("submissions", "list", "--project", project, "--state", "processed", "--json")
    assert len(json.loads(done.output)) == 3
    for args in (("--state", "failed"), ("--form", "other_form")):
        empty = cli("submissions", "list", "--project", project, "--json", *args)
        assert json.loads(empty.output) == []
    text = cli("submissions", "list", "--project", project)
    assert text.output.count("\tprocessed") == 3
    retried = cli("submissions", "retry", "--project", project)
    assert retried.output == "0 submissions re-queued\n"


def test_submissions_commands_refuse_an_unknown_project(initialised: Invoke) -> None:
    for args in (("list", "--project", "9"), ("retry", "--project", "9")):
        result = initialised("submissions", *args)
        assert result.exit_code == 1
        assert "Traceback" not in result.output


def test_collect_client_from_the_printed_url(site: Site, cli: Invoke) -> None:
    created = cli(
        "app-users", "create", "--project", str(site.project_id), "Tablet 9",
        "--forms", "field_visit", "--origin", site.origin,
    )  # fmt: skip
    url = URL.search(created.output)
    assert url
    sealer = Sealer(CollectClient(url.group(1)))
    upload = sealer()
    assert sealer.client.post(upload).status_code == 201
    site.drain()
    assert site.submission(upload.instance_id).state == "processed"


def test_purge_envelopes_destroys_only_old_processed_ones(
    site: Site, sealer: Sealer, cli: Invoke
) -> None:
    """Retention: the envelopes of submissions processed before the cut-off go (their records
    stay, a re-send is a retry); recent, waiting and failed ones keep theirs."""
    old = [sealer() for _ in range(2)]
    recent = sealer()
    for upload in (*old, recent):
        assert sealer.client.post(upload).status_code == 201
    site.drain()
    waiting = sealer()
    assert sealer.client.post(waiting).status_code == 201
    with transaction(site.instance.sessions) as session:
        for upload in old:
            sub = session.scalars(
                select(Submission).where(Submission.instance_id == upload.instance_id)
            ).one()
            sub.processed_at = utcnow() - timedelta(days=40)
    project = str(site.project_id)
    before = site.counts()
    dry = cli("submissions", "purge-envelopes", "--project", project, "--older-than", "30",
              "--dry-run")  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert dry.output == "2 processed submissions keep an envelope older than 30 days\n"
    refused = cli("submissions", "purge-envelopes", "--project", project, "--older-than", "30",
                  input="n\n")  # fmt: skip
    assert refused.exit_code == 1
    assert site.counts() == before
    done = cli("submissions", "purge-envelopes", "--project", project, "--older-than", "30",
               "--yes")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.output.endswith("2 envelopes destroyed\n")
    with site.instance.sessions() as session:
        parts = {
            sub.instance_id: count
            for sub, count in session.execute(
                select(Submission, func.count(SubmissionPart.id))
                .outerjoin(SubmissionPart, SubmissionPart.submission_id == Submission.id)
                .group_by(Submission.id)
            )
        }
        records = session.scalar(select(func.count()).select_from(SubmissionRecord))
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "envelope.purge")
        ).all()
    assert {u.instance_id: parts[u.instance_id] for u in old} == {u.instance_id: 0 for u in old}
    assert parts[recent.instance_id] == parts[waiting.instance_id] == 2
    assert records == 3  # the pseudonymised records stay
    assert [json.loads(a.details)["count"] for a in audited] == [2]
    assert site.submission(old[0].instance_id).manifest == erasure.ERASED_MANIFEST
    # A tablet sending a purged submission again gets its 201; nothing is stored again.
    after = site.counts()
    assert sealer.client.post(old[0]).status_code == 201
    assert site.counts() == after
    again = cli("submissions", "purge-envelopes", "--project", project, "--older-than", "30")
    assert again.output == "0 processed submissions keep an envelope older than 30 days\n"


def test_purge_envelopes_refuses_bad_input(site: Site, cli: Invoke) -> None:
    before = site.counts()
    unknown = cli("submissions", "purge-envelopes", "--project", "99", "--older-than", "1")
    assert unknown.exit_code == 1
    assert "Traceback" not in unknown.output
    negative = cli("submissions", "purge-envelopes", "--project", str(site.project_id),
                   "--older-than", "-1", "--yes")  # fmt: skip
    assert negative.exit_code == 2
    assert site.counts() == before
