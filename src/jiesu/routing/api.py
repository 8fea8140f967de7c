from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, get, patch, post, put
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException, PermissionDeniedException
from piccolo.columns import Column
from piccolo.query.functions.aggregate import Count, Sum

from jiesu.accounts.auth import require_roles
from jiesu.accounts.queries import active_workers, jurisdiction_paths
from jiesu.accounts.security import Principal
from jiesu.accounts.tables import Jurisdiction, User
from jiesu.clock import Clock
from jiesu.db import write_transaction
from jiesu.errors import field_error
from jiesu.routing.router import Router
from jiesu.routing.rules import RuleSet
from jiesu.routing.schemas import (
    AreaOut,
    AreaUpdate,
    DutyUpdate,
    LocateOut,
    LocateRequest,
    RulesOut,
    RuleStats,
    RulesUpdate,
    WorkerOut,
    WorkerUpdate,
)
from jiesu.routing.tables import AddressArea, RoutingDecision, RuleVersion

DISPATCH_ROLES = ("dispatcher", "supervisor", "admin")


def provide_router(state: State) -> Router:
    router: Router = state.router
    return router


def provide_clock(state: State) -> Clock:
    clock: Clock = state.clock
    return clock


async def rules_out(router: Router) -> RulesOut:
    version, rules = await router.current()
    saved = await RuleVersion.select(RuleVersion.saved_by, RuleVersion.saved_at).where(
        RuleVersion.version == version
    )
    meta = saved[0] if saved else {"saved_by": None, "saved_at": None}
    return RulesOut(**rules.model_dump(), version=version, **meta)


class RoutingRulesController(Controller):
    path = "/api/routing-rules"
    tags = ["routing"]
    dependencies = {
        "router": Provide(provide_router, sync_to_thread=False),
        "clock": Provide(provide_clock, sync_to_thread=False),
    }

    @get("/", guards=[require_roles(*DISPATCH_ROLES)], summary="The routing rules in force, with version")
    async def show(self, router: Router) -> RulesOut:
        return await rules_out(router)

    @put(
        "/",
        guards=[require_roles("admin")],
        summary="Replace the routing rules (admin); each version is kept and recorded in the audit chain",
    )
    async def replace(
        self, request: Request[Principal, Any, Any], data: RulesUpdate, router: Router, clock: Clock
    ) -> RulesOut:
        rules = data.model_dump(exclude={"version"})
        async with write_transaction():
            await router.save(request.user.username, RuleSet.model_validate(rules), data.version, clock())
        return await rules_out(router)

    @get("/stats", guards=[require_roles(*DISPATCH_ROLES)], summary="Per rule: routed, assigned, returned")
    async def stats(self) -> list[RuleStats]:
        rows = (
            await RoutingDecision.select(
                RoutingDecision.rule_id,
                Count(RoutingDecision.id, alias="routed"),
                Count(RoutingDecision.assignee, alias="assigned"),
                Sum(RoutingDecision.returns, alias="returns"),
            )
            .group_by(RoutingDecision.rule_id)
            .order_by(RoutingDecision.rule_id)
        )
        flagged = {
            row["rule_id"]: row["count"]
            for row in await RoutingDecision.select(RoutingDecision.rule_id, Count())
            .where(RoutingDecision.flagged == True)  # noqa: E712
            .group_by(RoutingDecision.rule_id)
        }
        return [
            RuleStats(
                rule_id=row["rule_id"],
                routed=row["routed"],
                assigned=row["assigned"],
                flagged=flagged.get(row["rule_id"], 0),
                returns=int(row["returns"] or 0),
            )
            for row in rows
        ]


class RoutingController(Controller):
    path = "/api/routing"
    tags = ["routing"]
    dependencies = {
        "router": Provide(provide_router, sync_to_thread=False),
        "clock": Provide(provide_clock, sync_to_thread=False),
    }

    @get("/areas", guards=[require_roles(*DISPATCH_ROLES)], summary="Address patterns and grid boundaries")
    async def areas(self) -> list[AreaOut]:
        rows = await AddressArea.select().order_by(AddressArea.jurisdiction_code)
        levels = {
            r["code"]: r["level"] for r in await Jurisdiction.select(Jurisdiction.code, Jurisdiction.level)
        }
        return [
            AreaOut(
                jurisdiction_code=row["jurisdiction_code"],
                level=levels.get(row["jurisdiction_code"], ""),
                patterns=json.loads(row["patterns"]),
                boundary=json.loads(row["boundary"]) if row["boundary"] else None,
            )
            for row in rows
        ]

    @put(
        "/areas/{code:str}",
        guards=[require_roles("admin")],
        summary="Set how addresses find a community or grid (admin)",
    )
    async def set_area(self, code: str, data: AreaUpdate, clock: Clock) -> AreaOut:
        async with write_transaction():
            jurisdiction = await Jurisdiction.select().where(Jurisdiction.code == code).first()
            if jurisdiction is None:
                raise NotFoundException(f"no jurisdiction {code!r}")
            if jurisdiction["level"] not in ("community", "grid"):
                raise field_error("code", "addresses map to a community or a grid")
            values: dict[Column | str, Any] = {
                AddressArea.patterns: json.dumps(data.patterns, ensure_ascii=False),
                AddressArea.boundary: json.dumps(data.boundary) if data.boundary else None,
                AddressArea.updated_at: clock(),
            }
            if await AddressArea.exists().where(AddressArea.jurisdiction_code == code):
                await AddressArea.update(values).where(AddressArea.jurisdiction_code == code)
            else:
                await AddressArea.insert(
                    AddressArea(
                        jurisdiction_code=code,
                        patterns=values[AddressArea.patterns],
                        boundary=values[AddressArea.boundary],
                        updated_at=values[AddressArea.updated_at],
                    )
                )
        return AreaOut(
            jurisdiction_code=code,
            level=jurisdiction["level"],
            patterns=data.patterns,
            boundary=data.boundary,
        )

    @post(
        "/locate",
        status_code=200,
        guards=[require_roles(*DISPATCH_ROLES)],
        summary="Which community or grid an address (and point) belongs to",
    )
    async def locate(self, data: LocateRequest, router: Router) -> LocateOut:
        found = await router.locate(data.address, data.lat, data.lon)
        if found is None:
            return LocateOut(jurisdiction_code=None, level=None, located_by=None)
        return LocateOut(jurisdiction_code=found[0]["code"], level=found[0]["level"], located_by=found[1])


class WorkerController(Controller):
    path = "/api/workers"
    tags = ["routing"]
    dependencies = {
        "router": Provide(provide_router, sync_to_thread=False),
        "clock": Provide(provide_clock, sync_to_thread=False),
    }

    @get("/", guards=[require_roles(*DISPATCH_ROLES)], summary="Workers in scope: duty, capacity, load")
    async def list_workers(self, request: Request[Principal, Any, Any], router: Router) -> list[WorkerOut]:
        rows = await active_workers()
        homes = await jurisdiction_paths()
        visible = [r for r in rows if request.user.in_scope(homes.get(r["jurisdiction_code"] or ""))]
        _, rules = await router.current()
        loads = await router.worker_loads([r["username"] for r in visible], rules)
        return [worker_out(row, loads[row["username"]]) for row in visible]

    @put(
        "/{username:str}/duty",
        guards=[require_roles("worker", "admin")],
        summary="Go on or off duty (the worker themself, or an admin)",
    )
    async def set_duty(
        self, request: Request[Principal, Any, Any], username: str, data: DutyUpdate, router: Router
    ) -> WorkerOut:
        if request.user.role != "admin" and request.user.username != username:
            raise PermissionDeniedException("a worker changes only their own duty")
        return await update_worker(router, username, {User.on_duty: data.on_duty})

    @patch("/{username:str}", guards=[require_roles("admin")], summary="Skills, capacity, duty (admin)")
    async def update(self, username: str, data: WorkerUpdate, router: Router) -> WorkerOut:
        values: dict[Any, Any] = {}
        if data.skills is not None:
            values[User.categories] = json.dumps(data.skills)
        if data.capacity is not None:
            values[User.capacity] = data.capacity
        if data.on_duty is not None:
            values[User.on_duty] = data.on_duty
        return await update_worker(router, username, values)


def worker_out(row: dict[str, Any], load: list[int]) -> WorkerOut:
    return WorkerOut(
        username=row["username"],
        jurisdiction_code=row["jurisdiction_code"],
        skills=json.loads(row["categories"] or "[]"),
        on_duty=row["on_duty"],
        capacity=row["capacity"],
        open_cases=load[1],
        weighted_load=load[0],
    )


async def update_worker(router: Router, username: str, values: dict[Any, Any]) -> WorkerOut:
    async with write_transaction():
        row = await User.select().where((User.username == username) & (User.role == "worker")).first()
        if row is None:
            raise NotFoundException(f"no worker {username!r}")
        if values:
            await User.update(values).where(User.id == row["id"])
            row = {**row, **{column._meta.name: value for column, value in values.items()}}
    _, rules = await router.current()
    loads = await router.worker_loads([username], rules)
    return worker_out(row, loads[username])
