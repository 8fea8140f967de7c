from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.table import Table


class Erasure(Table, tablename="jiesu_erasure"):
    """A case whose personal data was erased, when, and why (request or retention)."""

    case_id = Integer(unique=True)
    erased_at = Timestamptz()
    cause = Varchar(length=16)
