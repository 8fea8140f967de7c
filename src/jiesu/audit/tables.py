from piccolo.columns import Integer, Text, Varchar
from piccolo.table import Table


class CaseEvent(Table, tablename="jiesu_case_event"):
    seq = Integer(unique=True)  # position in the chain, 1, 2, 3, …
    case_id = Integer(index=True)
    actor = Varchar(length=64)
    actor_role = Varchar(length=16)
    action = Varchar(length=32)
    from_state = Varchar(length=16, null=True, default=None)
    to_state = Varchar(length=16)
    fields = Text()  # canonical JSON; personal values are hashed through their seals (audit/seals.py)
    created_at = Varchar(length=40)  # ISO-8601 UTC, exactly as hashed
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)
    seals = Text(default="")  # JSON {field: {salt, digest}}; empty for events sealed before seals existed


class AuditHead(Table, tablename="jiesu_audit_head"):
    """One row: the last sequence number and hash. Locking it serialises appends to the chain."""

    seq = Integer(default=0)
    hash = Varchar(length=64)
