"""The pages: residents file and follow cases, workers work the queue, supervisors read the dashboard.

Every change goes through CaseService (the same permission checks, transitions and audit as the API);
the buttons on a case page are the service's ``allowed_actions`` for the person looking at it.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, UploadFile
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.response import Redirect, Template

from jiesu.accounts.queries import active_workers
from jiesu.accounts.security import Principal
from jiesu.accounts.tables import Jurisdiction, User
from jiesu.case_record import CaseRecord
from jiesu.cases.api import case_out
from jiesu.cases.queries import filed_by, work_queue
from jiesu.cases.service import CaseService
from jiesu.clock import Clock
from jiesu.db import write_transaction
from jiesu.errors import CaseConflict, InvalidInput, NotFound
from jiesu.web import dashboard as dash
from jiesu.web import mediation as mediation_labels
from jiesu.web.chart import response_chart
from jiesu.web.forms import (
    FormErrors,
    action_body,
    filing_body,
    service_errors,
    typed_action,
    typed_filing,
)
from jiesu.web.i18n import LANG_COOKIE, LOCALES, N_
from jiesu.web.mediation import (
    FORMS,
    agreement_values,
    apply_mediation,
    mediation_view,
    typed_mediation,
)
from jiesu.web.messages import NOT_A_DATE, Msg, from_conflict
from jiesu.web.pages import PREFIX, display_tz, gettext, render, safe_next, see_other, when
from jiesu.web.session import (
    TRACKED_LIMIT,
    LoginRequired,
    filer_principal,
    login_required,
    principal_to_session,
    roles_required,
    session_user,
    tracked_ids,
)
from jiesu.web.tables import Attachment
from jiesu.web.timeline import build_timeline, names_of, place_names
from jiesu.web.uploads import Photo, UploadRejected, read_photo, save_photo, stored_photo, upload_dir

FILERS = ("resident", "dispatcher")
QUEUE_ROLES = ("worker", "dispatcher", "supervisor", "admin")
PAGE_QUEUE_LIMIT = 200
DASHBOARD_ROLES = ("supervisor", "dispatcher", "admin")
HOME_BY_ROLE = {
    "resident": f"{PREFIX}/my",
    "worker": f"{PREFIX}/work",
    "dispatcher": f"{PREFIX}/work",
    "supervisor": f"{PREFIX}/dashboard",
    "admin": f"{PREFIX}/dashboard",
}
WRONG_LOGIN = N_("The user name or the password is not right.")
NO_SUCH_CASE = N_("No case has this number and access code.")
CHANGED_MEANWHILE = N_("Someone changed this case in the meantime. Please look at it again and retry.")
PHOTO_RETRY = N_("Please choose the photo again.")
BAD_DATE = NOT_A_DATE
PERIOD_ORDER = N_("The start must not be after the end.")


def _cases(request: Request[Any, Any, Any]) -> CaseService:
    return request.app.state.cases


def _upload_dir(request: Request[Any, Any, Any]) -> Path:
    return upload_dir(Path(request.app.state.settings.var_dir))


def _remember_tracked(request: Request[Any, Any, Any], case_id: int) -> None:
    session = dict(request.session) if isinstance(request.session, dict) else {}
    ids = [i for i in tracked_ids(request) if i != case_id]
    session["tracked"] = [*ids, case_id][-TRACKED_LIMIT:]
    request.set_session(session)


async def _viewer(request: Request[Any, Any, Any], case_id: int) -> tuple[Principal, CaseRecord]:
    """Who looks at the case: the logged-in user, or the holder of its access code. 404 for others."""
    cases = _cases(request)
    user = session_user(request)
    candidates = [user] if user else []
    if case_id in tracked_ids(request):
        candidates.append(filer_principal(case_id))
    if not candidates:
        raise LoginRequired
    for actor in candidates:
        try:
            return actor, await cases.get_visible(actor, case_id)
        except NotFound:
            continue
    raise NotFoundException(f"no case {case_id}")


async def _attach(request: Request[Any, Any, Any], case_id: int, photo: Photo, by: str) -> Path:
    """Write the file, then its row; the caller's transaction covers the row."""
    path = save_photo(_upload_dir(request), photo)
    await Attachment.insert(
        Attachment(
            case_id=case_id,
            stored_name=path.name,
            content_type=photo.content_type,
            size=len(photo.data),
            uploaded_by=by,
            created_at=_cases(request).clock(),
        )
    )
    return path


async def _upload(form: Any) -> UploadFile | None:
    value = form.get("photo")
    return value if isinstance(value, UploadFile) else None


async def _workers_for(case: CaseRecord, jurisdictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Active workers who may take the case (the service's rule: same branch of the tree), for a picker."""
    paths = {j["code"]: j["path"] for j in jurisdictions}
    case_path = case.jurisdiction_path or ""
    rows = await active_workers(User.username, User.display_name, User.jurisdiction_code)
    return [
        row
        for row in rows
        if (home := paths.get(row["jurisdiction_code"] or ""))
        and (case_path.startswith(home) or (case_path and home.startswith(case_path)))
    ]


class AccountPages(Controller):
    path = "/"

    @get("/", name="web_home")
    async def home(self, request: Request) -> Template:
        return render(request, "home.html")

    @get("/login")
    async def login_form(self, request: Request, next_path: str | None = None) -> Template:
        return render(request, "login.html", next_path=safe_next(next_path, ""))

    @post("/login")
    async def login(self, request: Request) -> Template | Redirect:
        form = await request.form()
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        next_path = safe_next(str(form.get("next_path") or ""), "")
        errors = {}
        if not username:
            errors["username"] = N_("Please fill in this field.")
        if not password:
            errors["password"] = N_("Please fill in this field.")
        principal = None
        if not errors:
            principal = await request.app.state.accounts.authenticate(username, password)
            if principal is None:
                errors["password"] = WRONG_LOGIN
        if principal is None:
            return render(
                request,
                "login.html",
                status_code=400,
                errors=errors,
                values={"username": username},
                next_path=next_path,
            )
        request.set_session({"user": principal_to_session(principal), "tracked": []})
        return see_other(next_path or HOME_BY_ROLE.get(principal.role, f"{PREFIX}/"))

    @post("/logout")
    async def logout(self, request: Request) -> Redirect:
        request.clear_session()
        return see_other(f"{PREFIX}/")

    @get("/lang/{code:str}")
    async def switch_language(self, code: str, next_path: str | None = None) -> Redirect:
        if code not in LOCALES:
            raise NotFoundException(f"no language {code}")
        response = see_other(safe_next(next_path))
        response.cookies.append(
            Cookie(key=LANG_COOKIE, value=code, max_age=365 * 86400, samesite="lax", path="/")
        )
        return response


class ResidentPages(Controller):
    path = "/"

    async def _file_context(self, request: Request) -> dict[str, Any]:
        communities = (
            await Jurisdiction.select(Jurisdiction.code, Jurisdiction.name)
            .where(Jurisdiction.level == "community")
            .order_by(Jurisdiction.path)
        )
        return {
            "categories": _cases(request).catalogue.categories,
            "communities": communities,
            "needs_contact": (session_user(request) or Principal("", "")).role != "resident",
        }

    def _may_file(self, request: Request) -> None:
        user = session_user(request)
        if user is not None and user.role not in FILERS:
            raise PermissionDeniedException("role")

    @get("/file")
    async def file_form(self, request: Request) -> Template:
        self._may_file(request)
        context = await self._file_context(request)
        return render(
            request, "file.html", idempotency_key=secrets.token_urlsafe(16), values={"kind": ""}, **context
        )

    @post("/file")
    async def file(self, request: Request) -> Template:
        self._may_file(request)
        cases = _cases(request)
        actor = session_user(request)
        form = await request.form()
        typed = typed_filing(form)
        context = await self._file_context(request)
        key = str(form.get("idempotency_key") or "")[:100] or secrets.token_urlsafe(16)
        errors: dict[str, str] = {}
        photo = None
        try:
            photo = await read_photo(await _upload(form))
        except UploadRejected as exc:
            errors["photo"] = str(exc)
        try:
            data = filing_body(typed, context["needs_contact"])
        except FormErrors as exc:
            errors = {**exc.errors, **errors}
        if errors:
            if photo is not None:
                errors.setdefault("photo", PHOTO_RETRY)
            return render(
                request, "file.html", 400, errors=errors, values=typed, idempotency_key=key, **context
            )
        stored: Path | None = None
        try:
            async with write_transaction():
                filed = await cases.file_case(actor, data, idempotency_key=key)
                if photo is not None and filed.created:
                    stored = await _attach(
                        request, filed.case.inserted_id, photo, actor.username if actor else ""
                    )
        except InvalidInput as exc:
            if stored is not None:
                stored.unlink(missing_ok=True)
            return render(
                request,
                "file.html",
                400,
                errors=service_errors(exc),
                values=typed,
                idempotency_key=key,
                **context,
            )
        except BaseException:
            if stored is not None:
                stored.unlink(missing_ok=True)
            raise
        if actor is None:
            _remember_tracked(request, filed.case.inserted_id)
        return render(request, "filed.html", case=filed.case, access_code=filed.access_code)

    @get("/track")
    async def track_form(self, request: Request) -> Template:
        return render(request, "track.html")

    @post("/track")
    async def track(self, request: Request) -> Template | Redirect:
        form = await request.form()
        values = {name: str(form.get(name) or "").strip() for name in ("tracking_no", "access_code")}
        errors = {name: N_("Please fill in this field.") for name, value in values.items() if not value}
        case = None
        if not errors:
            case = await _cases(request).find_by_access_code(values["tracking_no"], values["access_code"])
            if case is None:
                errors["access_code"] = NO_SUCH_CASE
        if case is None:
            return render(request, "track.html", 400, errors=errors, values=values)
        _remember_tracked(request, case.inserted_id)
        return see_other(f"{PREFIX}/cases/{case.id}")

    @get("/my", guards=[roles_required("resident")])
    async def my_cases(self, request: Request) -> Template:
        user = session_user(request)
        assert user is not None
        rows = await filed_by(user.username)
        return render(request, "my.html", cases=rows)


class CasePages(Controller):
    path = "/cases"

    async def _page(
        self,
        request: Request,
        actor: Principal,
        case: CaseRecord,
        status_code: int = 200,
        failed: str | None = None,
        errors: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        notice: str | Msg | None = None,
    ) -> Template:
        cases = _cases(request)
        body = case_out(cases, actor, case, cases.clock())
        staff = actor.is_staff
        timeline = await build_timeline(case, actor, gettext(request), when)
        people = await names_of({case.assignee} if case.assignee else set())
        places = await place_names({case.jurisdiction_code} if case.jurisdiction_code else set())
        photos = await Attachment.select(Attachment.id, Attachment.created_at).where(
            Attachment.case_id == case.id
        )
        jurisdictions = await Jurisdiction.select(
            Jurisdiction.code, Jurisdiction.name, Jurisdiction.path
        ).order_by(Jurisdiction.path)
        category = cases.catalogue.get(case.category or "")
        mediation = await mediation_view(request.app.state.mediation, actor, case, when) if staff else None
        disputed = case.kind == "dispute" or bool(category and category.dispute)
        if mediation and not disputed and not mediation["summary"].parties:
            mediation = None  # a complaint about a lamp post needs no mediation forms
        draft = agreement_values(mediation["summary"] if mediation else None)
        return render(
            request,
            "case.html",
            status_code,
            case=body,
            staff=staff,
            timeline=timeline,
            handler=people.get(case.assignee or "", case.assignee),
            place=places.get(case.jurisdiction_code or "", ""),
            category=category,
            photos=photos,
            actions=[(name, cases.workflow.spec.actions[name].fields) for name in body["allowed_actions"]],
            jurisdictions=jurisdictions,
            workers=await _workers_for(case, jurisdictions) if staff else [],
            failed=failed,
            errors=errors or {},
            values=values or {},
            notice=notice,
            mediation=mediation,
            mediation_labels=mediation_labels,
            draft=draft,
        )

    @get("/{case_id:int}")
    async def show(self, request: Request, case_id: int) -> Template:
        actor, case = await _viewer(request, case_id)
        return await self._page(request, actor, case)

    @post("/{case_id:int}/actions/{action:str}")
    async def act(self, request: Request, case_id: int, action: str) -> Template | Redirect:
        cases = _cases(request)
        spec = cases.workflow.spec.actions.get(action)
        if spec is None:
            raise NotFoundException(f"no action {action}")
        actor, case = await _viewer(request, case_id)
        form = await request.form()
        typed = typed_action(spec.fields, form)
        try:
            body, _ = action_body(spec.fields, form, display_tz())
            photo = await read_photo(await _upload(form)) if action == "add_info" else None
            version = int(str(form.get("version") or "0"))
            await self._apply(request, actor, case_id, action, {**body, "version": version}, photo)
        except FormErrors as exc:
            return await self._page(request, actor, case, 400, action, exc.errors, typed)
        except UploadRejected as exc:
            return await self._page(request, actor, case, 400, action, {"photo": str(exc)}, typed)
        except InvalidInput as exc:
            return await self._page(request, actor, case, 400, action, service_errors(exc), typed)
        except CaseConflict:
            _, fresh = await _viewer(request, case_id)
            return await self._page(request, actor, fresh, 409, notice=CHANGED_MEANWHILE)
        return see_other(f"{PREFIX}/cases/{case_id}")

    @post("/{case_id:int}/mediation/{form_name:str}")
    async def mediate(self, request: Request, case_id: int, form_name: str) -> Template | Redirect:
        """The mediation forms: the mediation rooms check who may do what, as for the API."""
        if form_name not in FORMS:
            raise NotFoundException(f"no mediation form {form_name}")
        actor, case = await _viewer(request, case_id)
        typed = typed_mediation(form_name, await request.form())
        failed = f"m-{form_name}"
        try:
            await apply_mediation(request.app.state.mediation, actor, case_id, form_name, typed, display_tz())
        except FormErrors as exc:
            return await self._page(request, actor, case, 400, failed, exc.errors, typed)
        except InvalidInput as exc:
            return await self._page(request, actor, case, 400, failed, service_errors(exc), typed)
        except CaseConflict as exc:
            _, fresh = await _viewer(request, case_id)
            return await self._page(request, actor, fresh, 409, notice=from_conflict(str(exc.detail)))
        return see_other(f"{PREFIX}/cases/{case_id}#mediation-h")

    async def _apply(
        self,
        request: Request,
        actor: Principal,
        case_id: int,
        action: str,
        body: dict[str, Any],
        photo: Photo | None,
    ) -> None:
        stored: Path | None = None
        try:
            async with write_transaction():
                await _cases(request).act(actor, case_id, action, body)
                if photo is not None:
                    stored = await _attach(request, case_id, photo, actor.username)
        except BaseException:
            if stored is not None:
                stored.unlink(missing_ok=True)
            raise

    @get("/{case_id:int}/photos/{photo_id:int}")
    async def photo(self, request: Request, case_id: int, photo_id: int) -> Response[bytes]:
        await _viewer(request, case_id)
        row = (
            await Attachment.select()
            .where((Attachment.id == photo_id) & (Attachment.case_id == case_id))
            .first()
        )
        path = stored_photo(_upload_dir(request), row["stored_name"]) if row else None
        if row is None or path is None:
            raise NotFoundException("no such photo")
        return Response(
            content=path.read_bytes(),
            media_type=row["content_type"],
            headers={"Cache-Control": "private, max-age=3600", "Content-Disposition": "inline"},
        )


class StaffPages(Controller):
    path = "/"

    @get("/work", guards=[roles_required(*QUEUE_ROLES)])
    async def queue(self, request: Request) -> Template:
        cases = _cases(request)
        actor = session_user(request)
        assert actor is not None
        now = cases.clock()
        rows = await work_queue(actor, PAGE_QUEUE_LIMIT, with_claimable=True)
        items = [case_out(cases, actor, row, now) for row in rows]
        soon = now + timedelta(hours=24)
        counters = {
            "total": len(items),
            "urgent": sum(1 for i in items if i["priority"] == "urgent"),
            "overdue": sum(1 for i in items if i["overdue"]),
            "due_soon": sum(
                1 for i in items if not i["overdue"] and (i["deadlines"]["current"] or soon) < soon
            ),
        }
        return render(request, "work.html", items=items, counters=counters)


def _parse_day(raw: str | None, default: date, field: str, errors: dict[str, str]) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = BAD_DATE
        return default


async def _dashboard(
    request: Request, start: str | None, end: str | None
) -> tuple[dash.Dashboard, dict[str, str], dict[str, str]]:
    clock: Clock = _cases(request).clock
    now = clock()
    today = now.astimezone(display_tz()).date()
    errors: dict[str, str] = {}
    first = _parse_day(start, today - timedelta(days=29), "start", errors)
    last = _parse_day(end, today, "end", errors)
    if not errors and first > last:
        errors["end"] = PERIOD_ORDER
    if errors:
        first, last = today - timedelta(days=29), today
    actor = session_user(request)
    assert actor is not None
    board = await dash.build(request.app.state.reports, actor, first, last, display_tz())
    return board, errors, {"start": start or first.isoformat(), "end": end or last.isoformat()}


class DashboardPages(Controller):
    path = "/"
    guards = [roles_required(*DASHBOARD_ROLES)]

    @get("/dashboard")
    async def dashboard(self, request: Request, start: str | None = None, end: str | None = None) -> Template:
        board, errors, values = await _dashboard(request, start, end)
        _ = gettext(request)
        chart = response_chart(
            board.days,
            _("Response time per day, in hours"),
            (_("hours"), _("minutes")),
            _("Median"),
            _("90th percentile"),
        )
        categories = {c.code: c for c in _cases(request).catalogue.categories}
        return render(
            request,
            "dashboard.html",
            400 if errors else 200,
            board=board,
            chart=chart,
            errors=errors,
            values=values,
            categories=categories,
        )

    @get("/dashboard.csv")
    async def dashboard_csv(
        self, request: Request, start: str | None = None, end: str | None = None
    ) -> Response[str]:
        board, errors, _ = await _dashboard(request, start, end)
        if errors:
            field, message = next(iter(errors.items()))
            raise ValidationException(detail=f"{field}: {message}")
        return Response(
            content=dash.rates_csv(board),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="rates-{board.start}-{board.end}.csv"',
                "Cache-Control": "no-store",
            },
        )


PAGE_CONTROLLERS = [AccountPages, ResidentPages, CasePages, StaffPages, DashboardPages]
__all__ = ["PAGE_CONTROLLERS", "login_required"]
