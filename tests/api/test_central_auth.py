"""Sessions: log in, who am I, log out, expiry, and failed logins audited and rate-limited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from api.openrosa import redact
from collector import sessions
from collector.models import LoginFailure, User, UserSession, utcnow
from tests.support.central import Central, make_central

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(central: Central) -> int:
    user_id, _token = central.user("Admin@Example.org", "admin", password=PASSWORD)
    return user_id


def login(central: Central, email: str, password: str, remote: str = "10.0.0.1") -> object:
    return central.api().post(
        "/v1/sessions",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": remote},
    )


def test_login_answers_200_with_a_token_stored_only_hashed(central: Central, admin: int) -> None:
    response = login(central, "admin@example.org", PASSWORD)
    assert response.status_code == 200  # pyodk treats anything else, 201 included, as failure
    body = response.get_json()
    assert set(body) == {"token", "createdAt", "expiresAt"}
    token = body["token"]
    assert len(token) == 64
    assert body["expiresAt"].endswith("Z")
    with central.session() as session:
        stored = session.scalars(select(UserSession.token_hash)).all()
        hashes = session.scalars(select(User.password_hash)).all()
    assert sessions.token_hash(token) in stored
    assert token not in stored
    assert all(h and h.startswith("$argon2id$") for h in hashes)
    me = central.api(token).get("/v1/users/current")
    assert me.status_code == 200
    assert me.get_json()["email"] == "admin@example.org"
    assert "password" not in json.dumps(me.get_json()).lower()


def test_logout_current_and_by_token(central: Central, admin: int) -> None:
    first = login(central, "admin@example.org", PASSWORD).get_json()["token"]
    second = login(central, "admin@example.org", PASSWORD).get_json()["token"]
    assert central.api(first).delete("/v1/sessions/current").get_json() == {"success": True}
    assert central.api(first).get("/v1/users/current").status_code == 401
    assert central.api(second).delete(f"/v1/sessions/{second}").status_code == 200
    assert central.api(second).get("/v1/users/current").status_code == 401
    assert "user.session.end" in central.audit_actions()


def test_a_user_cannot_end_another_users_session(central: Central, admin: int) -> None:
    admin_token = login(central, "admin@example.org", PASSWORD).get_json()["token"]
    _id, manager = central.user("m@example.org", "data-manager")
    response = central.api(manager).delete(f"/v1/sessions/{admin_token}")
    assert response.status_code == 403
    assert central.api(admin_token).get("/v1/users/current").status_code == 200
    assert central.audit_actions()[-1] == "auth.denied"


def test_expired_sessions_are_refused(central: Central, admin: int) -> None:
    with central.session() as session, session.begin():
        user = session.get_one(User, admin)
        past = utcnow() - timedelta(days=2)
        token = sessions.issue(session, user, ttl=timedelta(hours=1), now=past).token
    response = central.api(token).get("/v1/users/current")
    assert response.status_code == 401
    assert response.get_json()["code"] == 401.2


def test_session_lifetime_is_configurable(tmp_path: Path, database_url: str) -> None:
    central = make_central(tmp_path, database_url, session_ttl_seconds=60.0)
    try:
        central.user("admin@example.org", "admin", password=PASSWORD)
        body = login(central, "admin@example.org", PASSWORD).get_json()
        with central.session() as session:
            row = session.scalars(select(UserSession).order_by(UserSession.id.desc())).first()
        assert row is not None
        assert (row.expires_at - row.created_at).total_seconds() == pytest.approx(60)
        assert body["expiresAt"] > body["createdAt"]
    finally:
        central.close()


@pytest.mark.parametrize(
    ("case", "headers", "code"),
    [
        ("no credentials", {}, 401.2),
        ("unknown token", {"Authorization": "Bearer " + "x" * 64}, 401.2),
        ("not bearer", {"Authorization": "Basic YWRtaW46cGFzcw=="}, 401.2),
    ],
)
def test_requests_without_a_live_session_are_401(
    central: Central, case: str, headers: dict[str, str], code: float
) -> None:
    response = central.api().get("/v1/users/current", headers=headers)
    assert response.status_code == 401, case
    assert response.get_json()["code"] == code


def test_an_app_user_token_is_refused_and_audited(central: Central) -> None:
    project = central.project("P")
    _id, token = central.app_user(project, "Tablet")
    response = central.api(token).get("/v1/users/current")
    assert response.status_code == 403
    assert response.get_json()["code"] == 403.1
    assert central.audit_actions()[-1] == "auth.denied"


def test_failed_logins_are_audited_without_the_password(central: Central, admin: int) -> None:
    response = login(central, "admin@example.org", "wrong password 123")
    assert response.status_code == 401
    assert response.get_json()["code"] == 401.2
    unknown = login(central, "nobody@example.org", "wrong password 123")
    assert unknown.status_code == 401
    with central.session() as session:
        rows = session.execute(
            text("SELECT actor_name, details FROM audit_log WHERE action = 'user.session.failed'")
        ).all()
    assert [r[0] for r in rows] == ["admin@example.org", "nobody@example.org"]
    assert all("wrong password" not in r[1] and "10.0.0.1" in r[1] for r in rows)


def test_failed_logins_are_rate_limited_per_email_and_address(central: Central, admin: int) -> None:
    for _ in range(sessions.MAX_FAILURES):
        assert login(central, "admin@example.org", "wrong password 123").status_code == 401
    limited = login(central, "admin@example.org", PASSWORD)
    assert limited.status_code == 429
    body = limited.get_json()
    assert body["code"] == 429.1
    assert body["details"]["retryAfter"] > 0
    assert "user.session.limited" in central.audit_actions()
    # Another address, or another account, is not held back.
    assert login(central, "admin@example.org", PASSWORD, remote="10.0.0.2").status_code == 200
    # The counter is in the database: once its window has passed, the right password works.
    with central.session() as session, session.begin():
        for row in session.scalars(select(LoginFailure)):
            row.first_at = utcnow() - sessions.FAILURE_WINDOW - timedelta(seconds=1)
    assert login(central, "admin@example.org", PASSWORD).status_code == 200
    with central.session() as session:
        assert session.scalars(select(LoginFailure)).all() == []


@pytest.mark.parametrize(
    ("case", "body", "code"),
    [
        ("no password", {"email": "admin@example.org"}, 400.2),
        ("no email", {"password": PASSWORD}, 400.2),
        ("email not a string", {"email": 5, "password": PASSWORD}, 400.8),
        ("unknown field", {"email": "a@b.c", "password": "x", "extra": 1}, 400.8),
    ],
)
def test_login_bodies_are_validated(
    central: Central, case: str, body: dict[str, object], code: float
) -> None:
    response = central.api().post("/v1/sessions", json=body)
    assert response.status_code == 400, case
    problem = response.get_json()
    assert problem["code"] == code, case
    assert problem["details"], case
    assert PASSWORD not in response.get_data(as_text=True)


def test_login_needs_json(central: Central) -> None:
    response = central.api().post("/v1/sessions", data=b"email=a", content_type="text/plain")
    assert response.status_code == 400
    assert response.get_json()["code"] == 400.1


def test_session_tokens_in_urls_are_redacted_for_logs() -> None:
    token = "a" * 64
    line = f'"DELETE /v1/sessions/{token} HTTP/1.1" 200'
    assert redact(line) == '"DELETE /v1/sessions/*** HTTP/1.1" 200'
    assert redact("/v1/projects/1") == "/v1/projects/1"
