"""Configuration: defaults, then ``COLLECTOR_*`` environment, then flags or test config.

Only this room reads the environment; the domain gets plain values as arguments.
"""

from __future__ import annotations

import logging
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from collector import masterkey
from collector.db import (
    make_engine,
    migrate,
    schema_is_current,
    session_factory,
    sqlite_url,
    transaction,
)
from collector.errors import MasterKeyMismatch
from collector.worker import Decryptor
from keys import kek as kek_sources

ENV_PREFIX = "COLLECTOR_"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Every setting of an instance; secrets are kept out of the repr."""

    data_dir: Path = Path("data")
    database_url: str | None = None
    master_key: str | None = field(default=None, repr=False)
    master_key_file: Path | None = None
    master_passphrase: str | None = field(default=None, repr=False)
    rsa_bits: int = 3072
    max_request_bytes: int = 100 * 1024 * 1024
    in_process_workers: bool = True
    public_url: str | None = None
    worker_lease_seconds: float = 60.0
    #: Seconds an idle decryptor waits before it looks at the queue again (a server's own
    #: decryptors are also woken by each upload it receives).
    worker_poll_seconds: float = 0.5
    missing_media_grace_seconds: float | None = 24 * 3600.0
    session_ttl_seconds: float = 24 * 3600.0
    #: Seconds a connection may stay silent while its request is read or its answer sent.
    idle_timeout_seconds: float = 60.0

    @property
    def db_url(self) -> str:
        """Return the database URL (SQLite under the data dir by default)."""
        return self.database_url or sqlite_url(self.data_dir / "collector.db")

    @property
    def key_file(self) -> Path:
        """Return the master key file path (default ``<data dir>/keys/master.key``)."""
        return self.master_key_file or self.data_dir / "keys" / "master.key"


def _read_file_secret(path: str) -> str:
    text = Path(path).read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


def load_settings(
    overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Build settings from the environment, then apply explicit overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if env.get(ENV_PREFIX + "DATA_DIR"):
        values["data_dir"] = Path(env[ENV_PREFIX + "DATA_DIR"])
    if env.get(ENV_PREFIX + "DATABASE_URL"):
        values["database_url"] = env[ENV_PREFIX + "DATABASE_URL"]
    if env.get(ENV_PREFIX + "MASTER_KEY"):
        values["master_key"] = env[ENV_PREFIX + "MASTER_KEY"]
    if env.get(ENV_PREFIX + "MASTER_KEY_FILE"):
        values["master_key_file"] = Path(env[ENV_PREFIX + "MASTER_KEY_FILE"])
    if env.get(ENV_PREFIX + "MASTER_PASSPHRASE_FILE"):
        values["master_passphrase"] = _read_file_secret(env[ENV_PREFIX + "MASTER_PASSPHRASE_FILE"])
    elif env.get(ENV_PREFIX + "MASTER_PASSPHRASE"):
        values["master_passphrase"] = env[ENV_PREFIX + "MASTER_PASSPHRASE"]
    if env.get(ENV_PREFIX + "RSA_BITS"):
        values["rsa_bits"] = int(env[ENV_PREFIX + "RSA_BITS"])
    if env.get(ENV_PREFIX + "PUBLIC_URL"):
        values["public_url"] = env[ENV_PREFIX + "PUBLIC_URL"].rstrip("/")
    if env.get(ENV_PREFIX + "MAX_REQUEST_BYTES"):
        values["max_request_bytes"] = int(env[ENV_PREFIX + "MAX_REQUEST_BYTES"])
    values |= _worker_values(env)
    if env.get(ENV_PREFIX + "SESSION_TTL"):
        values["session_ttl_seconds"] = _seconds(env, "SESSION_TTL")
    if env.get(ENV_PREFIX + "IDLE_TIMEOUT"):
        values["idle_timeout_seconds"] = _seconds(env, "IDLE_TIMEOUT")
    settings = Settings(**values)
    if overrides:
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    return settings


def _worker_values(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if env.get(ENV_PREFIX + "WORKER_LEASE"):
        values["worker_lease_seconds"] = _seconds(env, "WORKER_LEASE")
    if env.get(ENV_PREFIX + "WORKER_POLL"):
        values["worker_poll_seconds"] = _seconds(env, "WORKER_POLL")
    grace = env.get(ENV_PREFIX + "MISSING_MEDIA_GRACE")
    if grace:
        # "never" keeps incomplete uploads waiting for their parts for ever.
        never = grace == "never"
        values["missing_media_grace_seconds"] = (
            None if never else _seconds(env, "MISSING_MEDIA_GRACE")
        )
    return values


def _seconds(env: Mapping[str, str], name: str) -> float:
    """Read a duration setting: a number of seconds above zero (a zero or negative poll would
    spin, a NaN lease would never end), or a ValueError that names the variable."""
    text = env[ENV_PREFIX + name]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        shown = text[:40]
        raise ValueError(f"{ENV_PREFIX}{name} must be a number of seconds above 0, not {shown!r}")
    return value


#: The umask of a process that opened an instance (``CLIState.instance``): owner only.
PRIVATE_UMASK = 0o077
#: What in the data dir is the owner's only: the directories, and the SQLite files.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_FILES = ("collector.db", "collector.db-wal", "collector.db-shm", "collector.db-journal")


def private_data_dir(settings: Settings) -> None:
    """Create the data dir 0700 (SQLite needs it); tighten an existing one of ours if looser.

    It holds the database (password hashes, the audit log, sealed keys), the master key file
    and the QR code with an app user's token. A directory that holds none of the project's
    files (and is not empty) is somebody else's: left as it is.
    """
    data_dir = settings.data_dir
    if settings.database_url is None:
        data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if os.name != "posix" or not data_dir.is_dir():
        return
    if not _is_ours(data_dir):
        return
    _tighten(data_dir, PRIVATE_DIR_MODE)
    if (data_dir / "keys").is_dir():
        _tighten(data_dir / "keys", PRIVATE_DIR_MODE)
    if settings.database_url is None:
        for name in SQLITE_FILES:
            if (data_dir / name).is_file():
                _tighten(data_dir / name, PRIVATE_FILE_MODE)


def _is_ours(data_dir: Path) -> bool:
    try:
        return not any(data_dir.iterdir()) or any(
            (data_dir / name).exists() for name in ("collector.db", "keys")
        )
    except OSError:
        return False


def _tighten(path: Path, mode: int) -> None:
    was = stat.S_IMODE(path.stat().st_mode)
    if not was & ~mode or was & stat.S_ISVTX:  # sticky: shared by design, as /tmp
        return
    try:
        path.chmod(was & mode)
    except OSError as exc:
        log.warning("could not tighten %s (mode %o) to %o: %s", path, was, mode, exc)
        return
    log.info("tightened %s from mode %o to %o", path, was, was & mode)


class Instance:
    """An opened instance: engine, session factory and the master key, resolved once."""

    def __init__(self, settings: Settings, *, create: bool = False):
        self.settings = settings
        private_data_dir(settings)
        self.engine = make_engine(settings.db_url)
        self._kek: bytes | None = None
        self._create = create
        try:
            if create:
                migrate(self.engine)
            elif not schema_is_current(self.engine):
                raise NoMasterKey(
                    f"the database at {settings.db_url.split('@')[-1]} is not initialised or "
                    "is out of date: run `collector init`"
                )
            self.sessions = session_factory(self.engine)
            self.kek  # noqa: B018 - a wrong master key is refused here, before any work.
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def kek(self) -> bytes:
        """Return the master key, checked against the database (adopted on first use)."""
        if self._kek is None:
            kek = resolve_kek(self.settings, self, create=self._create)
            with transaction(self.sessions) as session:
                try:
                    masterkey.verify_or_adopt(session, kek)
                except MasterKeyMismatch:
                    kek = self._finish_interrupted_rewrap(session) or _reraise()
            self._kek = kek
        return self._kek

    def decryptor(self) -> Decryptor:
        """Return a decryption worker configured by this instance's settings."""
        grace = self.settings.missing_media_grace_seconds
        return Decryptor(
            self.sessions,
            self.kek,
            lease=timedelta(seconds=self.settings.worker_lease_seconds),
            missing_media_grace=None if grace is None else timedelta(seconds=grace),
        )

    def _finish_interrupted_rewrap(self, session: Session) -> bytes | None:
        """Complete a rewrap that committed but died before swapping the key files."""
        if self.settings.master_key or self.settings.master_passphrase is not None:
            return None
        staged = staged_key_file(self.settings.key_file)
        if not staged.exists():
            return None
        kek = kek_sources.load_or_create_key_file(staged)
        try:
            masterkey.verify_or_adopt(session, kek)
        except MasterKeyMismatch:
            return None
        retired = promote_key_file(self.settings.key_file)
        log.warning(
            "finished an interrupted key rewrap: %s is the master key file now; the old one is %s",
            self.settings.key_file,
            retired,
        )
        return kek

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def _reraise() -> bytes:
    raise MasterKeyMismatch()


def staged_key_file(current: Path) -> Path:
    """Where ``keys rewrap`` writes the next key file before the database commits to it."""
    return current.with_name(current.name + ".next")


def promote_key_file(current: Path) -> Path:
    """Put the staged key file in place; keep the old one beside it, dated. Return that."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    retired = current.with_name(f"{current.name}.retired-{stamp}")
    os.replace(current, retired)
    os.replace(staged_key_file(current), current)
    return retired


class NoMasterKey(Exception):
    """The instance cannot open: no master key configured, or the database is not initialised."""


def resolve_kek(settings: Settings, instance: Instance, *, create: bool) -> bytes:
    """Return the KEK from the env key, the passphrase, or the key file (in that order)."""
    if settings.master_key:
        return kek_sources.kek_from_base64(settings.master_key)
    if settings.master_passphrase is not None:
        with transaction(instance.sessions) as session:
            found = masterkey.passphrase_kdf(session, create=create)
        if found is None:
            raise NoMasterKey(
                "this database has no passphrase settings: run `collector init` with the passphrase"
            )
        salt, params = found
        return kek_sources.kek_from_passphrase(settings.master_passphrase, salt, params)
    path = settings.key_file
    if path.exists() or create:
        return kek_sources.load_or_create_key_file(path)
    raise NoMasterKey(
        f"no master key: set COLLECTOR_MASTER_KEY, COLLECTOR_MASTER_PASSPHRASE(_FILE), or run "
        f"`collector init` to create {path}"
    )
