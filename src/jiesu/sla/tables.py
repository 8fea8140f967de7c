from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class SlaTimer(Table, tablename="jiesu_sla_timer"):
    """One row per open case: the clock that runs now and the next moment the sweeper must act.

    stage: remind (80% of the clock) -> due (mark overdue and escalate, or close unrated feedback)
    -> again (escalate one more level) -> done.
    """

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    case_id = Integer(unique=True)
    clock = Varchar(length=16)
    started_at = Timestamptz()
    due_at = Timestamptz()
    stage = Varchar(length=16)
    next_at = Timestamptz(index=True)
    reminded_at = Timestamptz(null=True, default=None)
    overdue_at = Timestamptz(null=True, default=None)
    escalations = Integer(default=0)
