from piccolo.columns import Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class Jurisdiction(Table, tablename="jiesu_jurisdiction"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    code = Varchar(length=32, unique=True)
    name = Varchar(length=100)
    level = Varchar(length=16)
    parent_code = Varchar(length=32, null=True, default=None)
    # "/district/street/community/" — a subtree is every path with this prefix.
    path = Varchar(length=400, index=True)


class User(Table, tablename="jiesu_user"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    username = Varchar(length=64, unique=True)
    password_hash = Varchar(length=200)
    role = Varchar(length=16)
    display_name = Varchar(length=100)
    phone = Varchar(length=32, null=True, default=None)
    jurisdiction_code = Varchar(length=32, null=True, default=None)
    categories = Text(default="[]")  # JSON list of category codes (a worker's skills)
    on_duty = Boolean(default=True)
    capacity = Integer(default=20)
    active = Boolean(default=True)
    created_at = Timestamptz()
    # Raised by every change that must end the account's earlier tokens and sessions (they carry it).
    token_version = Integer(default=0)
    # Set by an admin's password reset: until changed, the account may only change its password.
    must_change_password = Boolean(default=False)


class UsernameTombstone(Table, tablename="jiesu_username_tombstone"):
    """A username an erased account had: never given again. Kept as a hash of the folded name."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    name_key = Varchar(length=64, unique=True)
    created_at = Timestamptz()


class LoginFailure(Table, tablename="jiesu_login_failure"):
    """One failed login. Kept per username, known or not, so a lockout does not reveal who exists."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    username = Varchar(length=64, index=True)
    failed_at = Timestamptz()
