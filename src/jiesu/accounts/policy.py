"""What a password must be (OWASP ASVS 5.0 V6.2): long enough, not too long to hash, and not one of the
passwords people pick most often.

``common-passwords.txt.gz`` beside this module is the list of 20,000 common passwords that Django ships
(``django/contrib/auth/common-passwords.txt.gz``, made by Royce Williams from breach corpora; BSD licence,
Copyright (c) Django Software Foundation and individual contributors). It is compared case-insensitively.
Every place that sets a password (registration, an admin creating a user, a password change or reset)
calls ``check_password_policy``.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from jiesu.errors import field_error

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def check_password_policy(password: str, field: str = "password") -> None:
    """Raise InvalidInput naming ``field`` when ``password`` may not be used."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise field_error(field, f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise field_error(field, f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password.strip().lower() in common_passwords():
        raise field_error(field, "is one of the most common passwords; choose another")
