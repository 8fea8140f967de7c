from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class OutboxMessage(Table, tablename="jiesu_outbox"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    case_id = Integer(null=True, default=None, index=True)
    topic = Varchar(length=64)
    recipient = Varchar(length=64, null=True, default=None)
    payload = Text()  # JSON
    # pending -> sending (leased until next_attempt_at) -> delivered | pending (retry) | dead
    status = Varchar(length=16, default="pending", index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)
    last_error = Varchar(length=200, null=True, default=None)
