"""API fuzzing with schemathesis against the app's own OpenAPI schema, in-process over ASGI.

Shared by the suite (tests/reliability/test_fuzz.py, a short derandomized run), its long mode
(``JIESU_FUZZ_EXAMPLES``) and ``scripts/bench --fuzz`` (benchmarks/bench_fuzz.py). Every operation,
Open311 included, is fuzzed as every kind of caller with EVERY check schemathesis has (server errors,
response schema, content type, headers, status codes, positive and negative data, auth, methods and
Allow): first schemathesis's coverage cases (boundaries, missing and unexpected parts, other methods),
then random data that fits the schema (positive) and data that does not (negative); positive examples of
the case routes are pointed at real cases and real actions half of the time so they get past the 404s.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import load_all_checks
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from jiesu.app import create_app
from jiesu.config import Settings
from tests.conftest import ADMIN_PASSWORD, PASSWORD, WORLD_JURISDICTIONS, WORLD_USERS, test_settings

# What the input layer (the framework's validation, jiesu.limits, jiesu.contract) says when it refuses
# input: the document states these rules, so schema-valid input never hears them.
INPUT_LAYER_REFUSALS = (
    "NUL characters",
    "not valid Unicode",
    "integers here lie",
    "must not be empty",
    "not valid JSON",
    "Content-Type",
    "not an ISO-8601",
)


@schemathesis.check
def schema_valid_input_passes_the_input_layer(ctx: Any, response: Any, case: Any) -> bool | None:
    """positive_data_acceptance, for an API whose domain rules answer 400 too: schema-valid input may be
    refused by a rule the document cannot state (a grid under a community, "to" after "from", a code
    that must exist, ids unique in a list), naming the field, but never by the input layer: the
    framework's validation of types and constraints, or the limits the document states."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 400:
        return None
    text = response.text
    layer = next((fragment for fragment in INPUT_LAYER_REFUSALS if fragment in text), None)
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        extra = body.get("extra")
        items = [item for item in extra if isinstance(item, dict)] if isinstance(extra, list) else [{}]
        # a domain rule names the body's field (field_error) or is a model's own check ("Value error, ...")
        framework = [
            item
            for item in items
            if item.get("source") != "body" and not str(item.get("message", "")).startswith("Value error")
        ]
        if framework:
            layer = layer or "the framework's validation"
    if layer:
        raise AssertionError(f"schema-valid input refused by the input layer ({layer}): {text[:300]}")
    return None


load_all_checks()
# Every check schemathesis registers, with positive_data_acceptance in the form above.
CHECKS = [check for check in CHECK_REGISTRY.get_all() if check is not positive_data_acceptance]
# One caller of each kind; "filer" holds the access-code token of an anonymous filing.
ROLES = ("anonymous", "alice", "w1", "disp", "sup", "admin", "filer")
FUZZ_SEED = 20261123
Coverage = Literal["rotate", "every_role", "off"]
CASE_BODY = {
    "kind": "complaint",
    "category": "neighbour_noise",
    "title": "Noise at night",
    "description": "Music after midnight.",
    "address": "Building 3",
    "jurisdiction_code": "C1",
    "contact": {"name": "Fuzz Filer", "phone": "13800000000"},
}


@dataclass
class FuzzReport:
    requests: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)  # one example per distinct failure
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    case_ids: list[int]
    actions: list[str]
    # Logs the accounts in again: after an operation that may end their tokens (logout, password change).
    refresh: Callable[[], None] = lambda: None


# Operations that end the caller's (or another account's) tokens: the roles log in again after each call.
SESSION_ENDING_PATHS = ("/api/auth/logout", "/api/me/password", "/api/users/{username}")


def fuzz_settings(database_url: str, var_dir: Path) -> Settings:
    # the limiters stay in the path without refusing the fuzzer (per account, logins still lock)
    return test_settings(
        database_url, var_dir, anonymous_intake_per_minute=100_000, failed_attempts_per_address=100_000
    )


def _ok(response: Any, status: int) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def build_world(client: asgi.ASGIClient, actions: list[str]) -> World:
    """The conftest world, a few cases in several states, and a token for every role."""

    def token(username: str, password: str = PASSWORD) -> dict[str, str]:
        body = _ok(client.post("/api/auth/token", json={"username": username, "password": password}), 200)
        return {"Authorization": f"Bearer {body['access_token']}"}

    admin = token("admin", ADMIN_PASSWORD)
    for code, name, level, parent in WORLD_JURISDICTIONS:
        body = {"code": code, "name": name, "level": level, "parent_code": parent}
        _ok(client.post("/api/jurisdictions", json=body, headers=admin), 201)
    for username, role, jurisdiction in WORLD_USERS:
        body = {
            "username": username,
            "password": PASSWORD,
            "role": role,
            "display_name": username.title(),
            "phone": "13900000000",
            "jurisdiction_code": jurisdiction,
        }
        _ok(client.post("/api/users", json=body, headers=admin), 201)
    headers = {name: token(name) for name in ROLES if name not in ("anonymous", "filer", "admin")}
    headers["admin"], headers["anonymous"] = admin, {}
    anonymous = _ok(client.post("/api/cases", json=CASE_BODY), 201)
    tracked = client.post(
        "/api/track",
        json={"tracking_no": anonymous["tracking_no"], "access_code": anonymous["access_code"]},
    )
    headers["filer"] = {"Authorization": f"Bearer {_ok(tracked, 200)['access_token']}"}
    case_ids = [anonymous["id"]]
    for extra in ({}, {"category": None}, {"jurisdiction_code": "C3"}):
        filed = _ok(client.post("/api/cases", json={**CASE_BODY, **extra}, headers=headers["alice"]), 201)
        case_ids.append(filed["id"])
    dispatched = client.post(
        f"/api/cases/{case_ids[1]}/actions/dispatch",
        json={"version": 2, "assignee": "w1"},
        headers=headers["disp"],
    )
    _ok(dispatched, 200)

    def refresh() -> None:
        for name in [*headers]:
            if name in ("anonymous", "filer"):
                continue
            password = ADMIN_PASSWORD if name == "admin" else PASSWORD
            response = client.post("/api/auth/token", json={"username": name, "password": password})
            if response.status_code == 200:
                headers[name] = {"Authorization": f"Bearer {response.json()['access_token']}"}

    return World(headers=headers, case_ids=case_ids, actions=actions, refresh=refresh)


@contextmanager
def running_app(database_url: str, var_dir: Path) -> Iterator[tuple[Any, World]]:
    """The app with its lifespan running in schemathesis's ASGI portal, and the world built."""
    app = create_app(fuzz_settings(database_url, var_dir))
    actions = sorted(app.state.workflow.spec.actions)
    try:
        with asgi.get_client(app) as client:
            world = build_world(client, actions)
            yield app, world
    finally:
        asgi.shutdown_lifespans()


def _rare_password(case: Any) -> Any:
    if isinstance(case.body, dict) and "password" in case.body:
        known = {k: v for k, v in case.body.items() if k in ("username", "display_name", "phone")}
        case.body = {**known, "password": f"fuzz-{uuid.uuid4().hex[:12]}"}
    return case


def _aimed(operation: Any, world: World) -> st.SearchStrategy[Any]:
    """Positive cases, half of them pointed at a real case id and a real action."""
    plain = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if operation.path.rstrip("/") == "/api/residents":
        # The schema's shortest password ("00000000") is on the common-password list, which no schema
        # can state: give half the registrations a rare one (and only the known fields), so they can succeed.
        plain = st.one_of(plain, plain.map(_rare_password))
    names = {p.name for p in operation.path_parameters}
    if "case_id" not in names:
        return plain

    def aim(parts: tuple[Any, int, str]) -> Any:
        case, case_id, action = parts
        case.path_parameters = {**(case.path_parameters or {}), "case_id": case_id}
        if "action" in names:
            case.path_parameters["action"] = action
        return case

    aimed = st.tuples(plain, st.sampled_from(world.case_ids), st.sampled_from(world.actions)).map(aim)
    return st.one_of(plain, aimed)


def fuzz(
    database_url: str,
    var_dir: Path,
    examples: int,
    roles: tuple[str, ...] = ROLES,
    coverage: Coverage = "rotate",
) -> FuzzReport:
    """Fuzz every operation, Open311 included: schemathesis's coverage cases, each sent as the next
    role in turn (``"rotate"``) or as every role (``"every_role"``), then ``examples`` random cases per
    operation AND role, derandomized (a fixed seed: the same cases on every run)."""
    report = FuzzReport()
    started = time.perf_counter()
    with running_app(database_url, var_dir) as (app, world):
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        feedback = FeedbackSources()
        turn = itertools.count()
        for result in schema.get_all_operations():
            operation = result.ok()
            if coverage != "off":
                for case in _coverage_cases(operation, feedback):
                    chosen = roles if coverage == "every_role" else (roles[next(turn) % len(roles)],)
                    for role in chosen:
                        _check(operation, case, role, world, report)
            for role in roles:
                if examples:
                    _fuzz_operation(operation, world, role, examples, report)
    report.seconds = time.perf_counter() - started
    return report


def _auth_headers(operation: Any, case: Any, role_headers: dict[str, str]) -> dict[str, str]:
    """The role's token in place of the generated one; none when a negative case dropped a required one."""
    auth_optional = operation.definition.raw.get("security") == [{}]
    generated = {name.lower() for name in (case.headers or {})}
    if auth_optional or "authorization" in generated:
        return role_headers
    return {}


def _check(operation: Any, case: Any, role: str, world: World, report: FuzzReport) -> None:
    """Send ``case`` as ``role`` and run every check on the answer; failures are collected by kind."""
    headers = _auth_headers(operation, case, world.headers[role])
    response = case.call(headers=headers)
    if operation.path.startswith(SESSION_ENDING_PATHS):
        world.refresh()  # a fuzzed logout or account change ends the role's token: log in again
    report.requests += 1
    report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers or None)
    except (Exception, BaseExceptionGroup) as exc:  # collected: one run shows every failure
        key = f"{operation.label} as {role}: {type(exc).__name__}: {str(exc).splitlines()[0:3]}"
        report.failures.setdefault(key[:300], f"{case.as_curl_command()}\n{exc}"[:3000])


def _coverage_cases(operation: Any, feedback: FeedbackSources) -> list[Any]:
    """schemathesis's coverage phase: deterministic boundary, missing-part and wrong-method cases."""
    generation = operation.schema.config.generation_for(operation=operation, phase="coverage")
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=generation,
        auth_storage=None,
        override=Override(),
        feedback=feedback,
    )
    return list(generator)


def _fuzz_operation(operation: Any, world: World, role: str, examples: int, report: FuzzReport) -> None:
    cases = st.one_of(
        _aimed(operation, world), operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )

    @seed(FUZZ_SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=["generate"],
    )
    @given(case=cases)
    def run(case: Any) -> None:
        _check(operation, case, role, world, report)

    run()
