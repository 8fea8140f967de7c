"""PostgreSQL's application role: the grants of ``app_role.sql``, applied by ``jiesu db app-role``.

The servers connect as a role that owns no table, so it can neither drop nor disable the audit log's
triggers nor alter, truncate or drop the audit tables, and on those tables it may only append events,
move the head and write or erase sealed texts (README, "Running in production").
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

GRANTS = Path(__file__).with_name("app_role.sql")
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
AUDIT_TABLES = ("jiesu_case_event", "jiesu_audit_head", "jiesu_event_text")


class RoleError(Exception):
    """The role cannot be made the application role (a message for the operator)."""


def grant_statements(role: str) -> list[str]:
    if not ROLE_NAME.match(role):
        raise RoleError(f"role name {role!r}: lower-case letters, digits and _ only")
    text = "\n".join(line for line in GRANTS.read_text().splitlines() if not line.startswith("--"))
    return [s.strip().replace("{role}", f'"{role}"') for s in text.split(";") if s.strip()]


async def apply_app_role(url: str, role: str) -> list[str]:
    """Grant ``role`` what the servers need and nothing of the audit tables' structure; run as the owner.

    Refuses a role that is a superuser, may bypass row security, or owns an audit table: such a role
    could drop the triggers whatever it is granted.
    """
    statements = grant_statements(role)
    connection = await asyncpg.connect(url)
    try:
        found = await connection.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", role
        )
        if found is None:
            raise RoleError(f"no role {role!r}: CREATE ROLE {role} LOGIN PASSWORD '…' first")
        if found["rolsuper"] or found["rolbypassrls"]:
            raise RoleError(f"role {role!r} is a superuser or bypasses row security: use a plain role")
        owned = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1"
            " AND tablename = ANY($2::text[])",
            role,
            list(AUDIT_TABLES),
        )
        if owned:
            raise RoleError(
                f"role {role!r} owns {owned[0]['tablename']}: migrate as another role (the owner)"
            )
        async with connection.transaction():
            for statement in statements:
                await connection.execute(statement)
    finally:
        await connection.close()
    return statements
