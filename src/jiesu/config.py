"""Settings from JIESU_* environment variables, gathered in one object.

Every environment variable jiesu reads is read here (the README's configuration table lists them); this
module imports nothing of jiesu, so any part may use it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEB_TIMEZONE = "Asia/Shanghai"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _load_or_create_secret(var_dir: Path) -> str:
    """Keep a generated key under var/ so tokens survive restarts when none is configured."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def database_url_from_env() -> str:
    var_dir = Path(os.environ.get("JIESU_VAR_DIR", PROJECT_ROOT / "var"))
    return os.environ.get("JIESU_DATABASE_URL") or f"sqlite:///{var_dir / 'jiesu.db'}"


def web_timezone_from_env() -> str:
    """The name of the time zone the pages show times in."""
    return os.environ.get("JIESU_WEB_TIMEZONE", DEFAULT_WEB_TIMEZONE)


def prometheus_multiproc_dir_from_env() -> str | None:
    """prometheus-client's own variable: where several workers' metrics are summed (unset: one process)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = field(default="", repr=False)
    admin_password: str | None = field(default=None, repr=False)
    demo: bool = False
    var_dir: Path = PROJECT_ROOT / "var"
    workflows_dir: Path = PROJECT_ROOT / "workflows"
    token_ttl_minutes: int = 60
    # argon2 parameters: "default" for real use; "fast" only for the test suite.
    password_hash_profile: str = "default"
    migrate_on_start: bool = True
    # The page session and CSRF cookies are sent over HTTPS only (set it behind TLS).
    web_secure_cookies: bool = False
    web_timezone: str = DEFAULT_WEB_TIMEZONE
    # The SLA sweeper and the outbox delivery run inside the server; 0 turns a loop off.
    sweep_interval_seconds: float = 60.0
    delivery_interval_seconds: float = 5.0
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 30.0
    webhook_timeout_seconds: float = 10.0
    # Anonymous filings allowed per client address and minute (0: no limit); see jiesu.limits.rate.
    anonymous_intake_per_minute: int = 20
    open311_rate_per_minute: int = 60
    # Cases closed longer ago than this are anonymised; 0 turns automatic anonymisation off.
    retention_days: int = 0
    retention_interval_seconds: float = 3600.0
    log_level: str = "INFO"

    @property
    def is_sqlite(self) -> bool:
        return not self.database_url.startswith(("postgres://", "postgresql://"))

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        env = os.environ
        settings = cls(
            database_url=database_url_from_env(),
            host=env.get("JIESU_HOST", "127.0.0.1"),
            port=int(env.get("JIESU_PORT", "8000")),
            admin_password=env.get("JIESU_ADMIN_PASSWORD") or None,
            demo=_flag(env.get("JIESU_DEMO"), False),
            var_dir=Path(env.get("JIESU_VAR_DIR", PROJECT_ROOT / "var")),
            workflows_dir=Path(env.get("JIESU_WORKFLOWS_DIR", PROJECT_ROOT / "workflows")),
            token_ttl_minutes=int(env.get("JIESU_TOKEN_TTL_MINUTES", "60")),
            password_hash_profile=env.get("JIESU_PASSWORD_HASH_PROFILE", "default"),
            migrate_on_start=_flag(env.get("JIESU_MIGRATE_ON_START"), True),
            web_secure_cookies=_flag(env.get("JIESU_WEB_SECURE_COOKIES"), False),
            web_timezone=web_timezone_from_env(),
            sweep_interval_seconds=float(env.get("JIESU_SWEEP_INTERVAL", "60")),
            delivery_interval_seconds=float(env.get("JIESU_DELIVERY_INTERVAL", "5")),
            webhook_url=env.get("JIESU_WEBHOOK_URL") or None,
            webhook_secret=env.get("JIESU_WEBHOOK_SECRET") or None,
            webhook_max_attempts=int(env.get("JIESU_WEBHOOK_MAX_ATTEMPTS", "8")),
            webhook_backoff_seconds=float(env.get("JIESU_WEBHOOK_BACKOFF", "30")),
            webhook_timeout_seconds=float(env.get("JIESU_WEBHOOK_TIMEOUT", "10")),
            anonymous_intake_per_minute=int(env.get("JIESU_ANONYMOUS_INTAKE_PER_MINUTE", "20")),
            open311_rate_per_minute=int(env.get("JIESU_OPEN311_RATE_PER_MINUTE", "60")),
            retention_days=int(env.get("JIESU_RETENTION_DAYS", "0")),
            retention_interval_seconds=float(env.get("JIESU_RETENTION_INTERVAL_SECONDS", "3600")),
            log_level=env.get("JIESU_LOG_LEVEL", "INFO"),
        )
        settings = replace(settings, **overrides)
        secret = overrides.get("secret_key") or env.get("JIESU_SECRET_KEY")
        return replace(settings, secret_key=secret or _load_or_create_secret(Path(settings.var_dir)))


def skip_migrations_in_workers() -> None:
    """``jiesu serve`` migrated before starting its workers: they inherit this environment and read
    JIESU_MIGRATE_ON_START off, so none of them migrates again."""
    os.environ["JIESU_MIGRATE_ON_START"] = "0"
