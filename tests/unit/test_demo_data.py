"""scripts/serve loads the demo data on a fresh machine: `jiesu demo` must work on a new database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

JIESU = Path(sys.executable).parent / "jiesu"


def test_the_demo_data_loads_on_a_fresh_database_with_its_own_admin(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    env = {key: value for key, value in os.environ.items() if not key.startswith("JIESU_")} | {
        "JIESU_DATABASE_URL": f"sqlite:///{database}",
        "JIESU_VAR_DIR": str(tmp_path),
        "JIESU_SECRET_KEY": "demo-secret-key-demo-secret-key-0123456789",
        "JIESU_PASSWORD_HASH_PROFILE": "fast",
    }
    loaded = subprocess.run([str(JIESU), "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    with sqlite3.connect(database) as connection:
        roles = dict(connection.execute("SELECT username, role FROM jiesu_user").fetchall())
    assert roles["admin"] == "admin"
    assert {"resident", "worker", "dispatcher", "supervisor"} <= set(roles.values())
