"""The audit chain's HMAC keys, kept outside the database.

The keys come from ``JIESU_AUDIT_KEY`` (one key, or several separated by commas, oldest first) or, when
that is unset, from a key file under ``var/`` (``JIESU_AUDIT_KEY_FILE``, one key a line, oldest first),
created with one random key and mode 600 on first start. The last key is the one new events should be
written with; the older ones stay so that the events they signed still verify. Which key is *in force*
is recorded in the chain itself: the head row names it, and a rotation is an event naming the new key's
id (``audit.chain.rotate_to``). A key's id is an HMAC of a fixed text under the key, so it names the key
without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from jiesu.config import Settings

MIN_KEY_LENGTH = 32
_ID_TEXT = b"jiesu audit key id"


class AuditKeyError(Exception):
    """The audit key is missing, too short, or not the one the chain needs."""


def key_id(key: bytes) -> str:
    return hmac.new(key, _ID_TEXT, hashlib.sha256).hexdigest()[:16]


def _parse(texts: list[str], where: str) -> list[bytes]:
    keys = [text.strip().encode() for text in texts if text.strip()]
    if not keys:
        raise AuditKeyError(f"{where} holds no audit key")
    short = [i + 1 for i, key in enumerate(keys) if len(key) < MIN_KEY_LENGTH]
    if short:
        raise AuditKeyError(f"{where}: key {short[0]} is shorter than {MIN_KEY_LENGTH} characters")
    return keys


def new_key() -> str:
    return secrets.token_hex(32)


def create_key_file(path: Path) -> None:
    """A key file with one fresh key, readable by its owner only. Written aside and linked into place, so
    several workers starting at once all end up reading the one that won, never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(new_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(aside, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        aside.unlink(missing_ok=True)


@dataclass(frozen=True)
class Keyring:
    """The configured keys by id; ``current`` is the id of the last (newest) one."""

    keys: dict[str, bytes]
    current: str
    source: str  # "JIESU_AUDIT_KEY" or the key file's path
    file: Path | None = None

    @classmethod
    def from_keys(cls, keys: list[bytes], source: str, file: Path | None = None) -> Keyring:
        return cls({key_id(key): key for key in keys}, key_id(keys[-1]), source, file)

    @classmethod
    def load(cls, env_value: str, key_file: Path) -> Keyring:
        """The keys of ``JIESU_AUDIT_KEY`` when set, else of the key file (created when missing)."""
        if env_value.strip():
            return cls.from_keys(_parse(env_value.split(","), "JIESU_AUDIT_KEY"), "JIESU_AUDIT_KEY")
        if not key_file.exists():
            create_key_file(key_file)
        return cls.from_keys(
            _parse(key_file.read_text().splitlines(), str(key_file)), str(key_file), key_file
        )

    def reloaded(self) -> Keyring:
        """The key file read again (a rotation by ``jiesu audit rotate-key`` adds a line)."""
        if self.file is None:
            return self
        return Keyring.from_keys(
            _parse(self.file.read_text().splitlines(), self.source), self.source, self.file
        )

    def key(self, kid: str) -> bytes:
        if kid not in self.keys:
            raise AuditKeyError(f"audit key {kid} is not configured ({self.source})")
        return self.keys[kid]

    def mac(self, kid: str, message: str) -> str:
        return hmac.new(self.key(kid), message.encode(), hashlib.sha256).hexdigest()


_installed: list[Keyring] = []


def install(keyring: Keyring) -> None:
    """The keyring the chain signs and verifies with in this process (the app and the CLI install it)."""
    _installed[:] = [keyring]


def keyring() -> Keyring:
    if not _installed:
        raise AuditKeyError("no audit key is loaded (jiesu.audit.keys.install)")
    return _installed[0]


def keyring_with(kid: str) -> Keyring:
    """The installed keyring, read again from its file when it lacks ``kid`` (a rotation since start)."""
    ring = keyring()
    if kid not in ring.keys and ring.file is not None:
        ring = ring.reloaded()
        install(ring)
    return ring


def add_key_to_file(path: Path) -> str:
    """Append a fresh key to the key file; returns its id."""
    key = new_key()
    with path.open("a") as handle:
        handle.write(key + "\n")
    return key_id(key.encode())


def key_file_of(settings: Settings) -> Path:
    return settings.audit_key_file or Path(settings.var_dir) / "audit.key"


def checkpoint_file_of(settings: Settings) -> Path:
    return settings.audit_checkpoint_file or Path(settings.var_dir) / "audit-checkpoints.jsonl"


def install_from(settings: Settings) -> Keyring:
    """Load (creating the key file on first start) and install the keyring ``settings`` name."""
    ring = Keyring.load(settings.audit_key, key_file_of(settings))
    install(ring)
    return ring
