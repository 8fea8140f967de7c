from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class Erasure(Table, tablename="jiesu_erasure"):
    """A case whose personal data was erased, when, and why (request or retention)."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    case_id = Integer(unique=True)
    erased_at = Timestamptz()
    cause = Varchar(length=16)
