from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class OutboxMessage(Table, tablename="jiesu_outbox"):
    case_id = Integer(null=True, default=None, index=True)
    topic = Varchar(length=64)
    recipient = Varchar(length=64, null=True, default=None)
    payload = Text()  # JSON
    status = Varchar(length=16, default="pending", index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    created_at = Timestamptz()
