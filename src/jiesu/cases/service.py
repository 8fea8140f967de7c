"""CaseService: the only code that changes a case.

Every change runs in ONE transaction: permission check, the trigger on the shared workflow machine, the
UPDATE guarded by the version the caller saw, the audit event and the outbox rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from jiesu.accounts.security import SYSTEM, Principal
from jiesu.accounts.service import require_jurisdiction
from jiesu.accounts.tables import Jurisdiction, User
from jiesu.audit.chain import append_prepared, prepare_event
from jiesu.batch_writer import batch_writer, run_in_current_transaction
from jiesu.case_record import CaseRecord
from jiesu.cases import effects, queries
from jiesu.cases.intake import ACCESS_CODE_ALPHABET, IntakeBatch, IntakePlan, new_case, tracking_number
from jiesu.cases.schemas import CaseCreate
from jiesu.cases.tables import Case
from jiesu.clock import Clock, system_clock
from jiesu.db import current_engine, in_write_transaction, write_transaction
from jiesu.errors import CaseConflict, Forbidden, NotFound, Unprocessable, field_error
from jiesu.keys import Keyring
from jiesu.notify.outbox import enqueue
from jiesu.routing.catalogue import Catalogue
from jiesu.routing.router import count_return
from jiesu.sla import extensions
from jiesu.sla.deadlines import current_due, feedback_deadline, initial_deadlines
from jiesu.sla.timers import track
from jiesu.workflow import STATES, IllegalTransition, Workflow, WorkflowError

if TYPE_CHECKING:
    from jiesu.routing.router import Router
    from jiesu.sla.calendar import SlaConfig

RELATION_ROLES = {"filer": "resident", "assignee": "worker"}
CLOSING_OUTCOMES = {"reject": "rejected", "merge": "merged", "withdraw": "withdrawn"}


def _code(digest: bytes) -> str:
    raw = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):
        raw, index = divmod(raw, len(ACCESS_CODE_ALPHABET))
        chars.append(ACCESS_CODE_ALPHABET[index])
    return "".join(chars)


@dataclass(frozen=True)
class FiledCase:
    case: CaseRecord
    access_code: str | None  # only in the answer that created the case, never in a replay
    created: bool
    routing: dict[str, Any] | None = None  # the router's decision, when this request made it


# The case columns the rates are computed from. Every event records the new values of those it set, so
# verification replays them against the case rows and the reports' copy is built from the chain.
RECORDED_COLUMNS = (
    "received_at",
    "jurisdiction_code",
    "jurisdiction_path",
    "category",
    "assignee",
    "response_due",
    "responded_at",
    "resolution_due",
    "resolved_at",
    "closed_at",
    "satisfaction",
    "filer_resolved",
    "reopen_count",
)


class CaseService:
    def __init__(
        self,
        workflow: Workflow,
        catalogue: Catalogue,
        keys: Keyring,
        clock: Clock = system_clock,
        router: Router | None = None,
        sla: SlaConfig | None = None,
    ) -> None:
        if workflow.states != STATES:
            raise WorkflowError("the case workflow must keep the states and groups of workflows/case.yaml")
        self.workflow = workflow
        self.states = workflow.states
        self.catalogue = catalogue
        self._keys = keys
        self.clock = clock
        self.router = router
        self.sla = sla
        # Domain areas that add checks and column changes to case actions (mediation/), batched or not.
        self.effect_hooks: list[effects.EffectHook] = []
        self.intake_batch = IntakeBatch(self)
        # Started with the app (``start_intake_writer``); without it each filing is its own transaction.
        self.intake_writer: Any = None

    async def start_intake_writer(self) -> None:
        self.intake_writer = batch_writer(current_engine(), self.intake_batch, "jiesu-intake-writer")
        self.intake_writer.start()

    async def stop_intake_writer(self) -> None:
        writer, self.intake_writer = self.intake_writer, None
        if writer is not None:
            await writer.stop()

    # ---- who may see and do what ------------------------------------------------------------

    def can_see(self, actor: Principal, case: CaseRecord) -> bool:
        return queries.can_see(actor, case)

    @staticmethod
    def in_scope(actor: Principal, jurisdiction_path: str | None) -> bool:
        return actor.in_scope(jurisdiction_path)

    def relations(self, actor: Principal, case: CaseRecord) -> set[str]:
        relations = {actor.role}
        if (actor.role == "filer" and actor.case_id == case.id) or (
            actor.role == "resident" and case.filer == actor.username
        ):
            relations.add("filer")
        if actor.role == "worker" and case.assignee == actor.username:
            relations.add("assignee")
        return relations

    def roles_that_may(self, action: str) -> set[str]:
        """The account roles that can ever fire ``action``; relations name the role they need."""
        return {RELATION_ROLES.get(role, role) for role in self.workflow.roles(action)} | (
            {"filer"} if "filer" in self.workflow.roles(action) else set()
        )

    def may_fire(self, actor: Principal, case: CaseRecord, action: str) -> bool:
        if not set(self.workflow.roles(action)) & self.relations(actor, case):
            return False
        if action == "claim":
            return case.assignee is None
        if action in extensions.EXTENSION_ACTIONS:
            return extensions.refusal(case, action) is None
        return True

    def allowed_actions(self, actor: Principal, case: CaseRecord) -> list[str]:
        return [
            action for action in self.workflow.actions_from(case.state) if self.may_fire(actor, case, action)
        ]

    # ---- reading ----------------------------------------------------------------------------

    async def get_visible(self, actor: Principal, case_id: int) -> CaseRecord:
        case = await queries.case_by_id(case_id)
        if case is None or not self.can_see(actor, case):
            raise NotFound(f"no case {case_id}")
        return case

    def visibility_clause(self, actor: Principal) -> Any:
        """The WHERE clause that limits a listing to the cases ``actor`` may see (``queries.visible_to``)."""
        return queries.visible_to(actor)

    # ---- filing -----------------------------------------------------------------------------

    def access_code(self, case: CaseRecord) -> str | None:
        """Derived from the access-codes key and a per-case nonce kept as ``<key id>:<nonce>``, so
        a rotated secret (kept as retired) does not change the codes made before."""
        codes = self._access_codes(case)
        return codes[0] if codes else None

    def _access_codes(self, case: CaseRecord) -> list[str]:
        stored = case.access_code_hash
        if not stored:
            return []
        kid, _, nonce = stored.rpartition(":")
        message = f"access:{case.tracking_no}:{nonce}".encode()
        if kid:
            key = self._keys.key("access-codes", kid)
            return [] if key is None else [_code(hmac.new(key, message, "sha256").digest())]
        # Filed before keys were derived: the code came from the secret itself (any of the keyring's).
        secrets_known = (self._keys.current, *self._keys.retired)
        return [_code(hmac.new(secret.encode(), message, "sha256").digest()) for secret in secrets_known]

    async def find_by_access_code(self, tracking_no: str, code: str) -> CaseRecord | None:
        case = await queries.case_by_tracking_no(tracking_no)
        if case is None:
            return None
        # bytes: compare_digest refuses str holding non-ASCII characters (a TypeError, once a 500)
        given = code.strip().upper().encode()
        matches = [hmac.compare_digest(expected.encode(), given) for expected in self._access_codes(case)]
        return case if any(matches) else None

    def _idempotency_scope(self, actor: Principal | None, key: str) -> str:
        owner = actor.username if actor else "anonymous"
        return hashlib.sha256(f"{owner}\x00{key}".encode()).hexdigest()

    async def file_case(
        self,
        actor: Principal | None,
        data: CaseCreate,
        idempotency_key: str | None = None,
        channel: str | None = None,
    ) -> FiledCase:
        """File, accept and (when the rules place it) dispatch a case, in one transaction.

        Outside a write transaction the filing joins the intake batch writer (group commit); inside
        one (a web form that also stores a photo) it is written in that transaction.
        """
        if actor is not None and actor.role not in ("resident", "dispatcher"):
            raise Forbidden("cases are filed by residents and dispatchers")
        scoped_key = self._idempotency_scope(actor, idempotency_key) if idempotency_key else None
        request_hash = hashlib.sha256(data.model_dump_json().encode()).hexdigest() if scoped_key else None
        plan = await self._plan(actor, data, scoped_key, request_hash, channel)
        if self.intake_writer is not None and not in_write_transaction():
            outcome = await self.intake_writer.submit(plan)
        else:
            async with write_transaction():
                (outcome,) = await run_in_current_transaction(self.intake_batch([plan]))
                if isinstance(outcome, Exception):
                    raise outcome
        if not outcome.created and outcome.case.request_hash != request_hash:
            raise Unprocessable(
                "Idempotency-Key: this key was already used with a different request body",
            )
        # A replay (the same key again) proves no more than the key: no access code in its answer.
        code = self.access_code(outcome.case) if outcome.created else None
        return FiledCase(outcome.case, code, outcome.created, outcome.routing)

    async def _contact_of(self, actor: Principal | None, data: CaseCreate) -> tuple[str, str]:
        if data.contact is not None:
            return data.contact.name, data.contact.phone
        if actor is not None and actor.role == "resident":
            user = (
                await User.select(User.display_name, User.phone)
                .where(User.username == actor.username)
                .first()
            )
            if user and user["phone"]:
                return user["display_name"], user["phone"]
        raise field_error("contact", "name and phone are needed to reach the filer")

    async def _jurisdiction(self, code: str) -> dict[str, Any]:
        row = await self.router.jurisdiction(code) if self.router else await require_jurisdiction(code)
        if row is None:
            raise field_error("jurisdiction_code", f"no jurisdiction with code {code!r}")
        return row

    async def _plan(
        self,
        actor: Principal | None,
        data: CaseCreate,
        scoped_key: str | None,
        request_hash: str | None,
        channel: str | None = None,
    ) -> IntakePlan:
        """Everything a filing needs that takes no write lock: checks, deadlines, the acceptance."""
        category = self.catalogue.get(data.category) if data.category else None
        if data.category and category is None:
            raise field_error("category", f"unknown category {data.category!r}")
        contact_name, contact_phone = await self._contact_of(actor, data)
        priority = data.priority or (category.default_priority if category else "normal")
        complexity = category.complexity if category else "ordinary"
        now = self.clock()
        resident = actor if actor is not None and actor.role == "resident" else None
        channel = channel or ("web" if resident else ("hotline" if actor is not None else "anonymous"))
        jurisdiction = await self._jurisdiction(data.jurisdiction_code) if data.jurisdiction_code else None
        located = None
        if jurisdiction is None and self.router is not None:
            located = await self.router.locate(data.address, data.lat, data.lon)
            jurisdiction = located[0] if located else None
        deadlines = initial_deadlines(
            self.workflow.spec.clocks, now, priority, complexity, self.sla.calendar if self.sla else None
        )
        case = new_case(
            tracking_no=tracking_number(now),
            kind=data.kind,
            category=data.category,
            title=data.title,
            description=data.description,
            address=data.address,
            jurisdiction_code=jurisdiction["code"] if jurisdiction else None,
            jurisdiction_path=jurisdiction["path"] if jurisdiction else None,
            priority=priority,
            complexity=complexity,
            state=self.states.initial,
            version=1,
            filer=resident.username if resident else None,
            channel=channel,
            contact_name=contact_name,
            contact_phone=contact_phone,
            access_code_hash=None if resident else f"{self._keys.kid}:{secrets.token_hex(8)}",
            idempotency_key=scoped_key,
            request_hash=request_hash,
            received_at=now,
            updated_at=now,
            due_at=deadlines["response_due"],
            **deadlines,
        )
        filer = actor or Principal(username="anonymous", role="anonymous")
        fields = {"kind": data.kind, "category": data.category, "channel": channel}
        plan = IntakePlan(case, [self.event(filer, None, case, "file", fields, now)], now)
        plan.key = scoped_key
        if category is not None and jurisdiction is not None:
            payload: dict[str, Any] = {"version": case.version}
            hooks = await effects.prepare(self.effect_hooks, SYSTEM, case, "accept", payload, now)
            changes = effects.decide(hooks, payload)
            plan.case = self.apply(case, self.workflow.fire(self.states.initial, "accept", {}), changes, now)
            plan.events.append(self.event(SYSTEM, case, plan.case, "accept", {}, now))
            plan.accepted = True
            if self.router is not None:
                plan.dispatch_state = self.workflow.fire(plan.case.state, "dispatch", {})
                plan.located_by = located[1] if located else None
                payload = {"version": plan.case.version, "assignee": None}  # the batch chooses
                plan.dispatch_effects = await effects.prepare(
                    self.effect_hooks, SYSTEM, plan.case, "dispatch", payload, now
                )
        return plan

    # ---- actions ----------------------------------------------------------------------------

    def validate_body(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        model = self.workflow.bodies[action]
        try:
            return model.model_validate(body).model_dump()
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "body"
            raise field_error(field, first["msg"]) from exc

    async def act(self, actor: Principal, case_id: int, action: str, body: dict[str, Any]) -> CaseRecord:
        if action not in self.workflow.spec.actions:
            raise NotFound(f"no action named {action!r}")
        payload = self.validate_body(action, body)
        async with write_transaction():
            case = await self.get_visible(actor, case_id)
            if actor.role not in self.roles_that_may(action):
                raise Forbidden(f"the role {actor.role} may not {action}")
            if payload["version"] != case.version:
                raise self._conflict(
                    actor,
                    case,
                    f"stale version {payload['version']}; the case is now at version {case.version}",
                )
            if action not in self.workflow.actions_from(case.state):
                raise self._conflict(actor, case, f"{action} is not allowed in state {case.state}")
            if not set(self.workflow.roles(action)) & self.relations(actor, case):
                raise Forbidden(f"you may not {action} this case")
            return await self._transition(actor, case, action, payload, self.clock())

    def _conflict(self, actor: Principal, case: CaseRecord, detail: str) -> CaseConflict:
        return CaseConflict(
            detail,
            state=case.state,
            version=case.version,
            allowed_actions=self.allowed_actions(actor, case),
        )

    async def _transition(
        self,
        actor: Principal,
        case: CaseRecord,
        action: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> CaseRecord:
        """Fire ``action`` and persist it. Runs inside the caller's write transaction."""
        changes, event_fields = await self._effects(actor, case, action, payload, now)
        try:
            new_state = self.workflow.fire(case.state, action, payload, reopen_count=case.reopen_count)
        except IllegalTransition as exc:
            raise self._conflict(actor, case, str(exc)) from exc
        updated = self.apply(case, new_state, changes, now)
        values: dict[Any, Any] = updated.changes_from(case)
        values["version"] = Case.version + 1
        written = (
            await Case.update(values)
            .where((Case.id == case.id) & (Case.version == case.version))
            .returning(Case.id)
        )
        if not written:
            fresh = await queries.case_by_id(case.id)
            raise self._conflict(actor, fresh or case, "the case was changed by someone else")
        append_prepared(self.event(actor, case, updated, action, event_fields, now))
        for topic, recipient, message in self.messages(action, updated, now):
            await enqueue(topic=topic, case_id=case.id, recipient=recipient, payload=message, at=now)
        await track(updated, now, self.sla)
        return updated

    def apply(self, case: CaseRecord, new_state: str, changes: dict[str, Any], now: datetime) -> CaseRecord:
        """The case after a transition to ``new_state`` that changes ``changes``, in memory."""
        updated = case.replace(**{**changes, **self._state_entry(case, new_state, now), "state": new_state})
        return updated.replace(due_at=current_due(updated), version=case.version + 1, updated_at=now)

    @staticmethod
    def event(
        actor: Principal,
        case: CaseRecord | None,
        updated: CaseRecord,
        action: str,
        fields: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        """The audit event of a transition from ``case`` (None: the filing) to ``updated``, for the chain; it
        records the new values of the ``RECORDED_COLUMNS`` the transition set."""
        changes = {
            column: getattr(updated, column)
            for column in RECORDED_COLUMNS
            if getattr(updated, column) != (getattr(case, column) if case else None)
        }
        return prepare_event(
            case_id=updated.id,
            actor=actor.username,
            actor_role=actor.role,
            action=action,
            from_state=case.state if case else None,
            to_state=updated.state,
            fields=fields,
            at=now,
            changes=changes,
        )

    async def system_action(
        self,
        case: CaseRecord,
        action: str,
        fields: dict[str, Any],
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> CaseRecord:
        """An action of jiesu itself (routing, the sweeper) inside the caller's write transaction;
        ``extra`` goes into the audit event only."""
        payload = self.validate_body(action, {**fields, "version": case.version})
        return await self._transition(SYSTEM, case, action, {**payload, **(extra or {})}, now)

    def _state_entry(self, case: CaseRecord, new_state: str, now: datetime) -> dict[str, Any]:
        """What entering ``new_state`` sets, whatever the action."""
        if new_state == case.state:  # staying in a state (e.g. record_performance) is not entering it
            return {}
        states = self.states
        if case.state == states.mediation and extensions.is_pending(case):  # the request lapses
            lapsed = case.replace(**extensions.NO_REQUEST)
            return {**extensions.NO_REQUEST, **self._state_entry(lapsed, new_state, now)}
        if not states.is_open(new_state):
            return {"closed_at": now}
        if new_state == states.feedback:
            calendar = self.sla.calendar if self.sla else None
            return {"feedback_due": feedback_deadline(self.workflow.spec.clocks, now, calendar)}
        if new_state == states.mediation and case.state in (states.resolution, states.feedback):
            reopened = case.state == states.feedback
            return {
                "resolved_at": None,
                "outcome": None,
                "feedback_due": None,
                "reopen_count": case.reopen_count + (1 if reopened else 0),
            }
        return {}

    async def _assignable_worker(self, case: CaseRecord, username: str) -> str:
        worker = (
            await User.select(User.role, User.active, User.jurisdiction_code)
            .where(User.username == username)
            .first()
        )
        if worker is None or worker["role"] != "worker" or not worker["active"]:
            raise field_error("assignee", f"{username!r} is not an active worker")
        home = (
            await Jurisdiction.select(Jurisdiction.path)
            .where(Jurisdiction.code == worker["jurisdiction_code"])
            .first()
        )
        case_path = case.jurisdiction_path or ""
        if home is None or not (
            case_path.startswith(home["path"]) or home["path"].startswith(case_path or "\x00")
        ):
            raise field_error("assignee", f"{username!r} does not work in this case's jurisdiction")
        return username

    async def _effects(
        self,
        actor: Principal,
        case: CaseRecord,
        action: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The columns ``action`` changes besides the state, and the fields its event records."""
        fields = {k: v for k, v in payload.items() if k != "version" and v is not None}
        changes: dict[str, Any] = {}
        if action == "accept":
            category = payload.get("category") or case.category
            if not category:
                raise field_error("category", "the case needs a category to be accepted")
            if self.catalogue.get(category) is None:
                raise field_error("category", f"unknown category {category!r}")
            code = payload.get("jurisdiction_code") or case.jurisdiction_code
            if not code:
                raise field_error("jurisdiction_code", "the case needs a jurisdiction")
            jurisdiction = await require_jurisdiction(code)
            changes.update(category=category, jurisdiction_code=code, jurisdiction_path=jurisdiction["path"])
        elif action in ("dispatch", "reassign"):
            if action == "reassign" and payload["assignee"] == case.assignee:
                raise field_error("assignee", "the case is already assigned to this worker")
            changes["assignee"] = await self._assignable_worker(case, payload["assignee"])
        elif action == "claim":
            if not self.in_scope(actor, case.jurisdiction_path):
                raise Forbidden("this case is outside your jurisdiction")
            changes["assignee"] = actor.username
        elif action == "contact":
            if case.responded_at is None:
                changes["responded_at"] = now
                fields["first_contact"] = True
        elif action == "escalate":
            if not payload.get("level") and not payload.get("department"):
                raise field_error("level", "give a level (street, district) or a department")
            changes["escalation_level"] = payload.get("level") or f"department:{payload['department']}"
        elif action in extensions.EXTENSION_ACTIONS:
            if refused := extensions.refusal(case, action):
                raise self._conflict(actor, case, refused)
            longest = self.workflow.spec.clocks.extension_max
            changes, more = extensions.effects(actor, case, action, payload, now, longest)
            fields.update(more)
        elif action == "resolve":
            changes.update(outcome=payload["outcome"], resolution_summary=payload["summary"], resolved_at=now)
        elif action == "rate":
            changes.update(filer_resolved=payload["resolved"], satisfaction=payload["satisfaction"])
        elif action == "transfer":
            if payload["jurisdiction_code"] == case.jurisdiction_code:
                raise field_error("jurisdiction_code", "the case is already in this jurisdiction")
            jurisdiction = await require_jurisdiction(payload["jurisdiction_code"])
            changes.update(
                jurisdiction_code=jurisdiction["code"],
                jurisdiction_path=jurisdiction["path"],
                assignee=None,
            )
            fields["from_jurisdiction"] = case.jurisdiction_code
        elif action == "merge":
            target = await queries.case_by_id(payload["into"])
            if target is None or target.id == case.id or not self.can_see(actor, target):
                raise field_error("into", "no other case with this id that you can see")
            if not self.states.is_open(target.state):
                raise field_error("into", "cannot merge into a closed case")
            changes["merged_into"] = target.id
        elif action == "return_order":
            changes["assignee"] = None
            fields.update(await count_return(case, now))
        elif action == "sla_escalate":
            changes["escalation_level"] = payload["level"]
        if action in CLOSING_OUTCOMES:
            changes["outcome"] = CLOSING_OUTCOMES[action]
        hooks = await effects.prepare(self.effect_hooks, actor, case, action, payload, now)
        changes.update(effects.decide(hooks, payload))
        return changes, fields

    @staticmethod
    def messages(
        action: str, case: CaseRecord, now: datetime
    ) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(topic, recipient, payload) for the people a change concerns; no phone or name in any."""
        filer = case.filer or f"case:{case.id}:filer"
        base = {"case_id": case.id, "tracking_no": case.tracking_no, "state": case.state}
        messages: list[tuple[str, str | None, dict[str, Any]]] = []
        if action == "accept":
            messages.append(("case.accepted", filer, base))
        if action in ("dispatch", "claim", "reassign") and case.assignee:
            messages.append(("case.assigned", case.assignee, base))
            messages.append(("case.handler", filer, {**base, "assignee": case.assignee}))
        if action == "approve":
            messages.append(("case.feedback_requested", filer, {**base, "outcome": case.outcome}))
        if not STATES.is_open(case.state) and case.closed_at == now:  # closed by this change
            messages.append(("case.closed", filer, {**base, "outcome": case.outcome}))
        return messages


def encode_cursor(case_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": case_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))["before"]
        if not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise field_error("cursor", "not a cursor returned by this API") from exc
