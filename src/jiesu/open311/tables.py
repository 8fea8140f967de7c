from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class Open311Key(Table, tablename="jiesu_open311_key"):
    """An API key for an Open311 client. Only the SHA-256 of the key is kept."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    name = Varchar(length=100)
    key_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    # Fixed-window rate limit, kept in the database so every app process shares it.
    window_start = Timestamptz(null=True, default=None)
    window_count = Integer(default=0)
