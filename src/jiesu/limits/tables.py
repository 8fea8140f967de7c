from piccolo.columns import Integer, Serial, Varchar
from piccolo.table import Table


class RateWindow(Table, tablename="jiesu_rate_window"):
    """Requests counted per caller and fixed time window, shared by every app process."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    key = Varchar(length=200, unique=True)  # "<scope>:<caller>:<window start>"
    window_start = Integer(index=True)  # Unix seconds
    count = Integer(default=0)


class AttemptWindow(Table, tablename="jiesu_attempt_window"):
    """Attempts that may fail (logins, tracking codes, registrations) per account or client address, in a
    window that starts at the first attempt; counted before any password is hashed (jiesu.limits.rate)."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    key = Varchar(length=200, unique=True)  # "<kind>:<account|address>:<who>"
    window_start = Integer(index=True)  # Unix seconds of the first attempt of this window
    count = Integer(default=0)
