from piccolo.columns import Integer, Serial, Text, Varchar
from piccolo.table import Table


class CaseEvent(Table, tablename="jiesu_case_event"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    seq = Integer(unique=True)  # position in the chain, 1, 2, 3, …
    case_id = Integer(index=True)
    actor = Varchar(length=64)
    actor_role = Varchar(length=16)
    action = Varchar(length=32)
    from_state = Varchar(length=16, null=True, default=None)
    to_state = Varchar(length=16)
    fields = Text()  # canonical JSON, exactly as hashed; personal text appears as its seal (audit/seals.py)
    created_at = Varchar(length=40)  # ISO-8601 UTC, exactly as hashed
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)  # HMAC-SHA256 under the key ``key_id`` (plain SHA-256 when it is NULL)
    key_id = Varchar(length=16, null=True, default=None)  # NULL: written before the chain was keyed
    # the report columns of the case this event set (canonical JSON), what verification replays
    changes = Text(null=True, default=None)


class AuditHead(Table, tablename="jiesu_audit_head"):
    """One row: the last sequence number and hash. Locking it serialises appends to the chain."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    seq = Integer(default=0)
    hash = Varchar(length=64)
    key_id = Varchar(length=16, null=True, default=None)  # the audit key in force for the next event


class EventText(Table, tablename="jiesu_event_text"):
    """Personal text of an event, kept beside the append-only log so it can be erased.

    The event holds ``sealed:<digest>`` in its place; the digest is SHA-256 over salt and value.
    """

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    event_seq = Integer(index=True)
    field = Varchar(length=64)  # a key of the event's fields, or "@actor"
    value = Text()
    salt = Varchar(length=32, null=True, default=None)  # None once erased
