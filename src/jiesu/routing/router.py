"""Immediate dispatch: find the unit a case belongs to, choose the least-loaded skilled worker on duty.

Runs inside the filing transaction, right after the system accepted the case, so a case the rules can
place is accepted, dispatched and assigned within the ``POST /api/cases`` request. The router decides;
its caller (the filing, in cases) records the decision. It reads its own data (the rules in force,
jurisdictions, workers on duty) as ``Statements`` the filing batch runs; what it needs of the cases
(open cases per worker) it is given at wiring (``OpenCases``), so routing imports nothing of cases.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jiesu.accounts.tables import Jurisdiction, User
from jiesu.audit.chain import append_event
from jiesu.batch_writer import Query, Rows, Statements, name, placeholders, run_statements, table_name
from jiesu.case_record import CaseRecord
from jiesu.errors import Conflict, field_error
from jiesu.routing.catalogue import Catalogue
from jiesu.routing.geo import contains
from jiesu.routing.rules import WILDCARD, Rule, RuleSet, unknown_categories
from jiesu.routing.tables import AddressArea, RoutingDecision, RuleVersion

# The open cases of these workers: rows of (assignee, priority, count), offered by the cases package.
OpenCases = Callable[[list[str]], Statements[Rows]]
RULES_EVENT_CASE_ID = 0  # audit events about the routing rules, not about one case


def path_codes(path: str | None) -> list[str]:
    return [part for part in (path or "").split("/") if part]


def normalise_address(text: str) -> str:
    return "".join(text.split()).casefold()


@dataclass(frozen=True)
class Placement:
    rule: Rule | None
    level: str | None
    unit: dict[str, Any] | None
    skills: tuple[str, ...]
    flagged: bool
    reason: str


class Router:
    """Placement and worker choice. The data they need (rules, jurisdictions, workers on duty, loads)
    is read by the caller inside its write transaction; only jurisdictions are cached, as they never
    change once created."""

    def __init__(self, default_rules: RuleSet, catalogue: Catalogue, open_cases: OpenCases) -> None:
        self.default_rules = default_rules
        self.catalogue = catalogue
        self.open_cases = open_cases
        self._parsed: tuple[int, RuleSet] = (0, default_rules)
        self._jurisdictions: dict[str, dict[str, Any]] = {}  # code -> {code, level, path}

    # ---- the rules in force ---------------------------------------------------------------------

    def rules_at(self, version: int, body: str | None) -> RuleSet:
        """The rule set of ``version`` (0: workflows/routing.yaml); ``body`` is needed on a cache miss."""
        if version == 0:
            return self.default_rules
        if self._parsed[0] != version:
            assert body is not None
            self._parsed = (version, RuleSet.model_validate_json(body))
        return self._parsed[1]

    def knows_rules(self, version: int) -> bool:
        return version == 0 or self._parsed[0] == version

    def read_rules(self) -> Statements[tuple[int, RuleSet]]:
        """(version, rules) in force; version 0 is workflows/routing.yaml, untouched by the admin.
        The body is read only when the version is not the one parsed last."""
        version_column, rules_table = name(RuleVersion.version), table_name(RuleVersion)
        rows = yield Query(f"SELECT MAX({version_column}) AS version FROM {rules_table}")
        version = rows[0]["version"] or 0
        body = None
        if not self.knows_rules(version):
            body_column = name(RuleVersion.body)
            found = yield Query(
                f"SELECT {body_column} FROM {rules_table} WHERE {version_column} = ?", [version]
            )
            body = found[0][body_column]
        return version, self.rules_at(version, body)

    async def current(self) -> tuple[int, RuleSet]:
        return await run_statements(self.read_rules())

    async def save(self, actor: str, rules: RuleSet, expected_version: int | None, now: datetime) -> int:
        """Store a new version and record it in the audit chain. Call inside a write transaction."""
        problems = unknown_categories(rules, self.catalogue)
        if problems:
            raise field_error(*problems[0])
        for index, rule in enumerate(rules.rules):
            known = await self._paths_of(rule.jurisdictions)
            for position, code in enumerate(rule.jurisdictions):
                if code not in known:
                    raise field_error(f"rules.{index}.jurisdictions.{position}", f"no jurisdiction {code!r}")
        version, previous = await self.current()
        if expected_version is not None and expected_version != version:
            raise Conflict(
                f"version: the rules are at version {version}, not {expected_version}",
            )
        body = rules.model_dump_json()
        digest = hashlib.sha256(body.encode()).hexdigest()
        new_version = version + 1
        await RuleVersion.insert(
            RuleVersion(version=new_version, body=body, sha256=digest, saved_by=actor, saved_at=now)
        )
        before = {rule.id: rule for rule in previous.rules}
        after = {rule.id: rule for rule in rules.rules}
        await append_event(
            case_id=RULES_EVENT_CASE_ID,
            actor=actor,
            actor_role="admin",
            action="routing_rules",
            from_state=f"v{version}",
            to_state=f"v{new_version}",
            fields={
                "version": new_version,
                "sha256": digest,
                "added": sorted(after.keys() - before.keys()),
                "removed": sorted(before.keys() - after.keys()),
                "changed": sorted(k for k in after.keys() & before.keys() if after[k] != before[k]),
                "backstop_level": rules.backstop_level,
            },
            at=now,
        )
        return new_version

    # ---- jurisdictions --------------------------------------------------------------------------

    def missing_jurisdictions(self, codes: Iterable[str]) -> list[str]:
        return sorted({code for code in codes if code not in self._jurisdictions})

    def read_jurisdictions(self, codes: Iterable[str]) -> Statements[None]:
        """Learn the jurisdictions among ``codes`` not known yet."""
        missing = self.missing_jurisdictions(codes)
        if missing:
            columns = ", ".join(name(c) for c in (Jurisdiction.code, Jurisdiction.level, Jurisdiction.path))
            self.remember_jurisdictions(
                (
                    yield Query(
                        f"SELECT {columns} FROM {table_name(Jurisdiction)}"
                        f" WHERE {name(Jurisdiction.code)} IN ({placeholders(len(missing))})",
                        missing,
                    )
                )
            )

    def remember_jurisdictions(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._jurisdictions[row["code"]] = {key: row[key] for key in ("code", "level", "path")}

    async def jurisdiction(self, code: str) -> dict[str, Any] | None:
        if code not in self._jurisdictions:
            row = (
                await Jurisdiction.select(Jurisdiction.code, Jurisdiction.level, Jurisdiction.path)
                .where(Jurisdiction.code == code)
                .first()
            )
            if row is None:
                return None
            self.remember_jurisdictions([row])
        return self._jurisdictions[code]

    async def _paths_of(self, codes: list[str]) -> dict[str, str]:
        missing = self.missing_jurisdictions(codes)
        if missing:
            self.remember_jurisdictions(
                await Jurisdiction.select(Jurisdiction.code, Jurisdiction.level, Jurisdiction.path).where(
                    Jurisdiction.code.is_in(missing)
                )
            )
        return {code: self._jurisdictions[code]["path"] for code in codes if code in self._jurisdictions}

    def codes_to_place(self, rules: RuleSet, paths: Iterable[str | None]) -> set[str]:
        """Every jurisdiction ``place`` looks at for cases with these paths."""
        codes = {code for rule in rules.rules for code in rule.jurisdictions}
        for path in paths:
            codes.update(path_codes(path))
        return codes

    # ---- where a case belongs -------------------------------------------------------------------

    async def locate(
        self, address: str, lat: float | None = None, lon: float | None = None
    ) -> tuple[dict[str, Any], str] | None:
        """The community or grid of an address: a boundary containing the point wins, then the longest
        matching address pattern; on a tie the deeper (grid) and then the first-registered area."""
        areas = await AddressArea.select().order_by(AddressArea.id)
        if not areas:
            return None
        chosen: tuple[str, str] | None = None
        if lat is not None and lon is not None:
            inside = [a for a in areas if a["boundary"] and contains(json.loads(a["boundary"]), lon, lat)]
            if inside:
                paths = await self._paths_of([a["jurisdiction_code"] for a in inside])
                best = max(inside, key=lambda a: len(paths.get(a["jurisdiction_code"], "")))
                chosen = (best["jurisdiction_code"], "boundary")
        if chosen is None:
            text = normalise_address(address)
            best_len, best_code = 0, None
            for area in areas:
                for pattern in json.loads(area["patterns"] or "[]"):
                    needle = normalise_address(pattern)
                    if needle and needle in text and len(needle) > best_len:
                        best_len, best_code = len(needle), area["jurisdiction_code"]
            if best_code is not None:
                chosen = (best_code, "address")
        if chosen is None:
            return None
        row = await self.jurisdiction(chosen[0])
        return (row, chosen[1]) if row else None

    def chain(self, path: str | None) -> dict[str, dict[str, Any]]:
        """The case's jurisdiction and its ancestors, by level (known after ``remember_jurisdictions``)."""
        rows = [self._jurisdictions[code] for code in path_codes(path) if code in self._jurisdictions]
        return {row["level"]: row for row in rows}

    def match(self, rules: RuleSet, category: str | None, case_path: str) -> Rule | None:
        best: tuple[int, int, int] | None = None
        chosen = None
        for order, rule in enumerate(rules.rules):
            if category not in rule.categories and WILDCARD not in rule.categories:
                continue
            depth = 0
            if rule.jurisdictions:
                paths = [
                    self._jurisdictions[c]["path"] for c in rule.jurisdictions if c in self._jurisdictions
                ]
                inside = [len(p) for p in paths if case_path.startswith(p)]
                if not inside:
                    continue
                depth = max(inside)
            score = (1 if category in rule.categories else 0, depth, -order)
            if best is None or score > best:
                best, chosen = score, rule
        return chosen

    def place(self, rules: RuleSet, case: CaseRecord) -> Placement:
        chain = self.chain(case.jurisdiction_path)
        category = self.catalogue.get(case.category)
        category_skills = tuple(category.skills) if category else ()
        rule = self.match(rules, case.category, case.jurisdiction_path or "")
        if rule is not None and rule.level in chain:
            skills = tuple(rule.skills) if rule.skills is not None else category_skills
            return Placement(rule, rule.level, chain[rule.level], skills, False, "rule")
        backstop = rules.backstop_level
        reason = "backstop" if rule is None else "backstop_level"
        if backstop in chain:
            return Placement(rule, backstop, chain[backstop], category_skills, True, reason)
        return Placement(rule, None, None, category_skills, True, "unplaced")

    # ---- who handles it -------------------------------------------------------------------------

    def homes(self, placement: Placement, case_path: str | None) -> list[str]:
        """The jurisdictions whose workers may take a case placed at ``placement``."""
        unit = placement.unit
        if unit is None:
            return []
        homes = [unit["code"]]
        grid = self.chain(case_path).get("grid")
        if unit["level"] == "community" and grid is not None:
            homes.append(grid["code"])
        return homes

    @staticmethod
    def qualifies(worker_skills: list[str], category: str | None, skills: tuple[str, ...]) -> bool:
        """A worker qualifies with every skill the rule needs, or with the category itself."""
        return category in worker_skills or (bool(skills) and set(skills) <= set(worker_skills))

    @staticmethod
    def read_workers(homes: list[str]) -> Statements[Rows]:
        """The active workers on duty at home in ``homes``, by name."""
        if not homes:
            return []
        columns = (User.username, User.categories, User.capacity, User.jurisdiction_code)
        rows: Rows = yield Query(
            f"SELECT {', '.join(name(c) for c in columns)} FROM {table_name(User)}"
            f" WHERE {name(User.role)} = 'worker' AND {name(User.active)} = ? AND {name(User.on_duty)} = ?"
            f" AND {name(User.jurisdiction_code)} IN ({placeholders(len(homes))})"
            f" ORDER BY {name(User.username)}",
            [True, True, *homes],
        )
        return rows

    def read_loads(self, workers: Rows, rules: RuleSet) -> Statements[dict[str, list[int]]]:
        """The loads of these workers (see ``loads``), counted from their open cases."""
        names = [worker["username"] for worker in workers]
        if not names:
            return {}
        rows = yield from self.open_cases(names)
        return self.loads(rows, rules)

    @staticmethod
    def loads(rows: Iterable[dict[str, Any]], rules: RuleSet) -> dict[str, list[int]]:
        """username -> [open cases weighted by priority, open cases], from ``OpenCases`` rows."""
        totals: dict[str, list[int]] = {}
        for row in rows:
            load = totals.setdefault(row["assignee"], [0, 0])
            load[0] += row["count"] * rules.weight(row["priority"])
            load[1] += row["count"]
        return totals

    async def worker_loads(self, usernames: list[str], rules: RuleSet) -> dict[str, list[int]]:
        """username -> [weighted, open] for these workers, read now (for the API, not the intake)."""
        if not usernames:
            return {}
        loads = self.loads(await run_statements(self.open_cases(usernames)), rules)
        return {username: loads.get(username, [0, 0]) for username in usernames}

    def choose_worker(
        self,
        case: CaseRecord,
        placement: Placement,
        workers: Iterable[dict[str, Any]],
        loads: dict[str, list[int]],
    ) -> str | None:
        """The skilled worker on duty in the unit with the fewest open cases weighted by priority."""
        homes = self.homes(placement, case.jurisdiction_path)
        skilled = [
            w
            for w in workers
            if w["jurisdiction_code"] in homes
            and self.qualifies(json.loads(w["categories"] or "[]"), case.category, placement.skills)
        ]
        free = [w for w in skilled if loads.get(w["username"], [0, 0])[1] < w["capacity"]]
        if not free:
            return None
        best = min(free, key=lambda w: (*loads.get(w["username"], [0, 0]), w["username"]))
        chosen: str | None = best["username"]
        return chosen


def dispatch_fields(placement: Placement) -> dict[str, Any]:
    """What the dispatch event records of the placement, besides the assignee."""
    return {
        "rule": placement.rule.id if placement.rule else None,
        "unit": placement.unit["code"] if placement.unit else None,
        "responsible": placement.unit["code"] if placement.unit else None,
        "assist": list(placement.rule.assist) if placement.rule else [],
        "flagged": placement.flagged,
    }


def decision_row(
    placement: Placement, worker: str | None, version: int, located_by: str | None, now: datetime
) -> dict[str, Any]:
    """The routing decision of a new case (its ``case_id`` is filled in once the case has an id)."""
    reason = placement.reason
    if worker is None and placement.unit is not None and not placement.flagged:
        reason = "no_worker"
    return {
        "case_id": None,
        "rule_id": placement.rule.id if placement.rule else None,
        "rules_version": version,
        "level": placement.level,
        "unit_code": placement.unit["code"] if placement.unit else None,
        "assignee": worker,
        "located_by": located_by,
        "flagged": placement.flagged or worker is None,
        "reason": reason,
        "returns": 0,
        "created_at": now,
        "updated_at": now,
    }


async def count_return(case: CaseRecord, now: datetime) -> dict[str, Any]:
    """A returned order is the router's miss (or the dispatcher's), never the worker's."""
    decision = await RoutingDecision.select().where(RoutingDecision.case_id == case.id).first()
    if decision is None:
        await RoutingDecision.insert(
            RoutingDecision(
                case_id=case.id,
                assignee=case.assignee,
                flagged=True,
                reason="returned",
                returns=1,
                created_at=now,
                updated_at=now,
            )
        )
        return {"counts_against": "dispatcher", "returned_by": case.assignee}
    await RoutingDecision.update(
        {
            RoutingDecision.returns: RoutingDecision.returns + 1,
            RoutingDecision.flagged: True,
            RoutingDecision.reason: "returned",
            RoutingDecision.updated_at: now,
        }
    ).where(RoutingDecision.id == decision["id"])
    routed_here = decision["assignee"] is not None and decision["assignee"] == case.assignee
    against = "router" if routed_here else "dispatcher"
    return {"counts_against": against, "rule": decision["rule_id"], "returned_by": case.assignee}


# What the filing answer and the dispatchers are told of a routing decision.
SUMMARY_COLUMNS = ("rule_id", "level", "unit_code", "assignee", "located_by", "flagged", "reason", "returns")


def decision_summary(decision: dict[str, Any]) -> dict[str, Any]:
    return {key: decision[key] for key in SUMMARY_COLUMNS}


def flagged_case_ids() -> Any:
    """The ids of the cases the router could not place or that came back (a subquery)."""
    return RoutingDecision.select(RoutingDecision.case_id).where(RoutingDecision.flagged == True)  # noqa: E712


async def routing_summary(case_id: int) -> dict[str, Any] | None:
    """What the router decided for a case, for the filing answer and the dispatchers."""
    row = (
        await RoutingDecision.select(*(getattr(RoutingDecision, key) for key in SUMMARY_COLUMNS))
        .where(RoutingDecision.case_id == case_id)
        .first()
    )
    return dict(row) if row else None
