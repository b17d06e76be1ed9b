"""CLI fixtures: the real ``collector`` command on a fresh data dir and database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from api.cli import main
from api.config import Instance, Settings
from tests.support.central import Central, World, build_world, make_central
from tests.support.collect import CollectClient
from tests.support.site import Sealer, Site, instance_of, make_app, served_site

Invoke = Callable[..., Result]


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The environment a deployment would set: data dir, database, a fast RSA size."""
    return {
        "COLLECTOR_DATA_DIR": str(tmp_path / "data"),
        "COLLECTOR_DATABASE_URL": database_url,
        "COLLECTOR_RSA_BITS": "2048",
        "COLLECTOR_MASTER_KEY": "",
        "COLLECTOR_MASTER_PASSPHRASE": "",
        "COLLECTOR_MASTER_PASSPHRASE_FILE": "",
        "COLLECTOR_MASTER_KEY_FILE": "",
    }


@pytest.fixture
def cli_instance(cli_env: dict[str, str]) -> Iterator[Instance]:
    """The instance the ``cli`` fixture's commands run on, open for setting up data."""
    settings = Settings(
        data_dir=Path(cli_env["COLLECTOR_DATA_DIR"]),
        database_url=cli_env["COLLECTOR_DATABASE_URL"],
        rsa_bits=2048,
    )
    with Instance(settings, create=True) as instance:
        yield instance


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Invoke:
    """Run ``collector ARGS…`` in-process; returns click's Result (exit code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(main, list(args), env={**cli_env, **(env or {})}, input=input)

    return invoke


@pytest.fixture
def initialised(cli: Invoke) -> Invoke:
    """A ``cli`` whose instance was initialised."""
    result = cli("init")
    assert result.exit_code == 0, result.output
    return cli


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    """The app on a fresh, initialised instance (2048-bit keys, no worker thread)."""
    app = make_app(tmp_path, database_url)
    yield app
    instance_of(app).close()


@pytest.fixture
def site(app: Flask) -> Iterator[Site]:
    """``app`` served over loopback HTTP, with a project, FIELD_VISIT and an app user."""
    with served_site(app) as site:
        yield site


@pytest.fixture
def collect(site: Site) -> CollectClient:
    """A Collect-equivalent client configured with the site's app user."""
    return CollectClient(site.server_url)


@pytest.fixture
def sealer(collect: CollectClient) -> Sealer:
    """Seals FIELD_VISIT submissions with the key of the form as Collect downloaded it."""
    return Sealer(collect)


@pytest.fixture
def central(tmp_path: Path, database_url: str) -> Iterator[Central]:
    """One app on a fresh database, as the REST API tests drive it (no background worker)."""
    found = make_central(tmp_path, database_url)
    yield found
    found.close()


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    """The role tests' cast on a fresh app: two projects, three web users, an app user, the
    SIMPLE form and one processed submission (a module may define its own ``world``)."""
    central = make_central(tmp_path, database_url)
    found = build_world(central)
    central.drain()
    yield found
    central.instance.close()
