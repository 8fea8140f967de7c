"""jiesu.keys: one key per use derived from the secret with HKDF, and key ids for rotation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jiesu.keys import SALT, USES, Keyring, key_id

SECRET = "a-secret-of-the-test-" * 3


def test_each_use_gets_its_own_key_none_of_them_the_secret() -> None:
    ring = Keyring(SECRET)
    keys = {use: ring.current_key(use) for use in USES}
    assert set(USES) >= {"tokens", "access-codes", "csrf", "sessions", "audit"}
    assert len(set(keys.values())) == len(USES)
    assert all(len(key) == 32 and SECRET.encode() not in key for key in keys.values())


def test_the_keys_are_hkdf_sha256_of_the_secret() -> None:
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=b"jiesu/tokens").derive(
        SECRET.encode()
    )
    assert Keyring(SECRET).current_key("tokens") == expected


def test_a_key_id_names_a_secret_and_finds_its_keys_after_a_rotation() -> None:
    old, new = SECRET, "another-secret-" * 3
    assert key_id(old) != key_id(new) and key_id(old) == key_id(old)
    rotated = Keyring(new, (old,))
    assert rotated.kid == key_id(new) and rotated.kids() == [key_id(new), key_id(old)]
    assert rotated.key("access-codes", key_id(old)) == Keyring(old).current_key("access-codes")
    assert rotated.key("access-codes", "0" * 12) is None
    assert Keyring(new).key("tokens", key_id(old)) is None
    with pytest.raises(ValueError):
        rotated.key("something-else")
