from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class Exclusion(Table, tablename="jiesu_report_exclusion"):
    """A case a supervisor marked "unreasonable demand": left out of the rates, listed in every report.

    Rows are never changed or removed; the case's audit chain records who excluded it, when and why.
    """

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    case_id = Integer(unique=True)
    reason = Text()
    excluded_by = Varchar(length=64)
    excluded_at = Timestamptz()
