"""Immediate dispatch: find the unit a case belongs to, choose the least-loaded skilled worker on duty.

Runs inside the filing transaction, right after the system accepted the case, so a case the rules can
place is accepted, dispatched and assigned within the ``POST /api/cases`` request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_409_CONFLICT
from piccolo.query.functions.aggregate import Count

from jiesu.accounts.tables import Jurisdiction, User
from jiesu.audit.chain import append_event
from jiesu.cases.tables import Case
from jiesu.errors import field_error
from jiesu.routing.catalogue import Catalogue
from jiesu.routing.geo import contains
from jiesu.routing.rules import WILDCARD, Rule, RuleSet, unknown_categories
from jiesu.routing.tables import AddressArea, RoutingDecision, RuleVersion

if TYPE_CHECKING:
    from jiesu.cases.service import CaseService

OPEN_STATES = ("triage", "mediation", "resolution")
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
    def __init__(self, default_rules: RuleSet, catalogue: Catalogue) -> None:
        self.default_rules = default_rules
        self.catalogue = catalogue
        self._cached: tuple[int, RuleSet] | None = None
        self._paths: dict[str, str] = {}  # jurisdiction code -> path; paths never change

    # ---- the rules in force ---------------------------------------------------------------------

    async def current(self) -> tuple[int, RuleSet]:
        """(version, rules); version 0 is workflows/routing.yaml, untouched by the admin."""
        latest = await RuleVersion.select(RuleVersion.version).order_by(RuleVersion.version, ascending=False)
        if not latest:
            return 0, self.default_rules
        version = latest[0]["version"]
        if self._cached is None or self._cached[0] != version:
            row = await RuleVersion.select(RuleVersion.body).where(RuleVersion.version == version).first()
            assert row is not None
            self._cached = (version, RuleSet.model_validate_json(row["body"]))
        return self._cached

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
            raise HTTPException(
                status_code=HTTP_409_CONFLICT,
                detail=f"version: the rules are at version {version}, not {expected_version}",
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

    # ---- where a case belongs -------------------------------------------------------------------

    async def _paths_of(self, codes: list[str]) -> dict[str, str]:
        missing = [code for code in codes if code not in self._paths]
        if missing:
            rows = await Jurisdiction.select(Jurisdiction.code, Jurisdiction.path).where(
                Jurisdiction.code.is_in(missing)
            )
            self._paths.update({row["code"]: row["path"] for row in rows})
        return {code: self._paths[code] for code in codes if code in self._paths}

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
        row = await Jurisdiction.select().where(Jurisdiction.code == chosen[0]).first()
        return (row, chosen[1]) if row else None

    async def _chain(self, path: str | None) -> dict[str, dict[str, Any]]:
        """The case's jurisdiction and its ancestors, by level."""
        codes = path_codes(path)
        if not codes:
            return {}
        rows = await Jurisdiction.select(Jurisdiction.code, Jurisdiction.level, Jurisdiction.path).where(
            Jurisdiction.code.is_in(codes)
        )
        return {row["level"]: row for row in rows}

    async def match(self, rules: RuleSet, category: str, case_path: str) -> Rule | None:
        best: tuple[int, int, int] | None = None
        chosen = None
        for order, rule in enumerate(rules.rules):
            if category not in rule.categories and WILDCARD not in rule.categories:
                continue
            depth = 0
            if rule.jurisdictions:
                paths = await self._paths_of(rule.jurisdictions)
                inside = [len(p) for p in paths.values() if case_path.startswith(p)]
                if not inside:
                    continue
                depth = max(inside)
            score = (1 if category in rule.categories else 0, depth, -order)
            if best is None or score > best:
                best, chosen = score, rule
        return chosen

    async def place(
        self, rules: RuleSet, case: dict[str, Any], chain: dict[str, dict[str, Any]]
    ) -> Placement:
        category = self.catalogue.get(case["category"])
        category_skills = tuple(category.skills) if category else ()
        rule = await self.match(rules, case["category"], case["jurisdiction_path"] or "")
        if rule is not None and rule.level in chain:
            skills = tuple(rule.skills) if rule.skills is not None else category_skills
            return Placement(rule, rule.level, chain[rule.level], skills, False, "rule")
        backstop = rules.backstop_level
        reason = "backstop" if rule is None else "backstop_level"
        if backstop in chain:
            return Placement(rule, backstop, chain[backstop], category_skills, True, reason)
        return Placement(rule, None, None, category_skills, True, "unplaced")

    # ---- who handles it -------------------------------------------------------------------------

    @staticmethod
    def qualifies(worker_skills: list[str], category: str, skills: tuple[str, ...]) -> bool:
        """A worker qualifies with every skill the rule needs, or with the category itself."""
        return category in worker_skills or (bool(skills) and set(skills) <= set(worker_skills))

    async def loads(self, usernames: list[str], rules: RuleSet) -> dict[str, tuple[int, int]]:
        """username -> (open cases weighted by priority, open cases)."""
        if not usernames:
            return {}
        rows = (
            await Case.select(Case.assignee, Case.priority, Count())
            .where(Case.assignee.is_in(usernames) & Case.state.is_in(list(OPEN_STATES)))
            .group_by(Case.assignee, Case.priority)
        )
        totals = {name: (0, 0) for name in usernames}
        for row in rows:
            weighted, count = totals[row["assignee"]]
            totals[row["assignee"]] = (
                weighted + row["count"] * rules.weight(row["priority"]),
                count + row["count"],
            )
        return totals

    async def choose_worker(
        self, rules: RuleSet, case: dict[str, Any], placement: Placement, chain: dict[str, dict[str, Any]]
    ) -> str | None:
        unit = placement.unit
        if unit is None:
            return None
        homes = [unit["code"]]
        grid = chain.get("grid")
        if unit["level"] == "community" and grid is not None:
            homes.append(grid["code"])
        workers = await User.select(User.username, User.categories, User.capacity).where(
            (User.role == "worker")
            & (User.active == True)  # noqa: E712
            & (User.on_duty == True)  # noqa: E712
            & User.jurisdiction_code.is_in(homes)
        )
        skilled = [
            w
            for w in workers
            if self.qualifies(json.loads(w["categories"] or "[]"), case["category"], placement.skills)
        ]
        load = await self.loads([w["username"] for w in skilled], rules)
        free = [w for w in skilled if load[w["username"]][1] < w["capacity"]]
        if not free:
            return None
        best = min(free, key=lambda w: (*load[w["username"]], w["username"]))
        return best["username"]

    async def route(
        self, service: CaseService, case: dict[str, Any], now: datetime, located_by: str | None = None
    ) -> dict[str, Any]:
        """Dispatch an accepted case when the rules place it; record the decision either way."""
        version, rules = await self.current()
        chain = await self._chain(case["jurisdiction_path"])
        placement = await self.place(rules, case, chain)
        worker = await self.choose_worker(rules, case, placement, chain)
        reason = placement.reason
        if worker is not None:
            extra = {
                "rule": placement.rule.id if placement.rule else None,
                "unit": placement.unit["code"] if placement.unit else None,
                "responsible": placement.unit["code"] if placement.unit else None,
                "assist": list(placement.rule.assist) if placement.rule else [],
                "flagged": placement.flagged,
            }
            case = await service.system_action(case, "dispatch", {"assignee": worker}, now, extra)
        elif placement.unit is not None:
            reason = "no_worker" if not placement.flagged else reason
        await RoutingDecision.insert(
            RoutingDecision(
                case_id=case["id"],
                rule_id=placement.rule.id if placement.rule else None,
                rules_version=version,
                level=placement.level,
                unit_code=placement.unit["code"] if placement.unit else None,
                assignee=worker,
                located_by=located_by,
                flagged=placement.flagged or worker is None,
                reason=reason,
                created_at=now,
                updated_at=now,
            )
        )
        return case


async def count_return(case: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A returned order is the router's miss (or the dispatcher's), never the worker's."""
    decision = await RoutingDecision.select().where(RoutingDecision.case_id == case["id"]).first()
    if decision is None:
        await RoutingDecision.insert(
            RoutingDecision(
                case_id=case["id"],
                assignee=case["assignee"],
                flagged=True,
                reason="returned",
                returns=1,
                created_at=now,
                updated_at=now,
            )
        )
        return {"counts_against": "dispatcher", "returned_by": case["assignee"]}
    await RoutingDecision.update(
        {
            RoutingDecision.returns: RoutingDecision.returns + 1,
            RoutingDecision.flagged: True,
            RoutingDecision.reason: "returned",
            RoutingDecision.updated_at: now,
        }
    ).where(RoutingDecision.id == decision["id"])
    routed_here = decision["assignee"] is not None and decision["assignee"] == case["assignee"]
    against = "router" if routed_here else "dispatcher"
    return {"counts_against": against, "rule": decision["rule_id"], "returned_by": case["assignee"]}


async def routing_summary(case_id: int) -> dict[str, Any] | None:
    """What the router decided for a case, for the filing answer and the dispatchers."""
    row = (
        await RoutingDecision.select(
            RoutingDecision.rule_id,
            RoutingDecision.level,
            RoutingDecision.unit_code,
            RoutingDecision.assignee,
            RoutingDecision.located_by,
            RoutingDecision.flagged,
            RoutingDecision.reason,
            RoutingDecision.returns,
        )
        .where(RoutingDecision.case_id == case_id)
        .first()
    )
    return dict(row) if row else None
