from piccolo.columns import Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class RuleVersion(Table, tablename="jiesu_routing_rules"):
    """Every version of the routing rules the admin saved; the highest is in force."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    version = Integer(unique=True)
    body = Text()  # JSON of RuleSet
    sha256 = Varchar(length=64)
    saved_by = Varchar(length=64)
    saved_at = Timestamptz()


class AddressArea(Table, tablename="jiesu_address_area"):
    """How a resident's address finds a community or grid: text patterns and an optional boundary."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    jurisdiction_code = Varchar(length=32, unique=True)
    patterns = Text(default="[]")  # JSON list of address fragments (street and building names)
    boundary = Text(null=True, default=None)  # JSON ring of [lon, lat]
    updated_at = Timestamptz()


class RoutingDecision(Table, tablename="jiesu_routing_decision"):
    """What the router did with a case at intake, and how often its choice was returned."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    case_id = Integer(unique=True)
    rule_id = Varchar(length=64, null=True, default=None)
    rules_version = Integer(default=0)
    level = Varchar(length=16, null=True, default=None)
    unit_code = Varchar(length=32, null=True, default=None)
    assignee = Varchar(length=64, null=True, default=None)
    located_by = Varchar(length=16, null=True, default=None)
    flagged = Boolean(default=False, index=True)
    reason = Varchar(length=32)
    returns = Integer(default=0)
    created_at = Timestamptz()
    updated_at = Timestamptz()
