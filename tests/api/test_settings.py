"""Durations from the environment: a clear error for anything but seconds above zero."""

from __future__ import annotations

import pytest

from api.config import load_settings
from tests.api.conftest import Invoke

DURATIONS = {
    "WORKER_POLL": "worker_poll_seconds",
    "WORKER_LEASE": "worker_lease_seconds",
    "SESSION_TTL": "session_ttl_seconds",
    "IDLE_TIMEOUT": "idle_timeout_seconds",
    "MISSING_MEDIA_GRACE": "missing_media_grace_seconds",
}


@pytest.mark.parametrize("name", sorted(DURATIONS))
def test_durations_read_as_seconds(name: str) -> None:
    settings = load_settings(env={f"COLLECTOR_{name}": "2.5"})
    assert getattr(settings, DURATIONS[name]) == 2.5


@pytest.mark.parametrize("name", sorted(DURATIONS))
@pytest.mark.parametrize("text", ["soon", "0", "-1", "nan", "inf", "1e400", "2s"])
def test_a_duration_that_is_not_seconds_above_zero_is_refused(name: str, text: str) -> None:
    with pytest.raises(ValueError, match=f"COLLECTOR_{name} must be a number of seconds"):
        load_settings(env={f"COLLECTOR_{name}": text})


def test_the_cli_names_the_bad_variable_and_changes_nothing(initialised: Invoke) -> None:
    before = initialised("projects", "list", "--json")
    assert before.exit_code == 0, before.output
    result = initialised("projects", "create", "Mülteci", env={"COLLECTOR_WORKER_POLL": "-1"})
    assert result.exit_code == 1
    assert "COLLECTOR_WORKER_POLL must be a number of seconds above 0, not '-1'" in result.output
    assert "Traceback" not in result.output
    assert initialised("projects", "list", "--json").output == before.output
