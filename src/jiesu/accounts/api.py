from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from jiesu.accounts.auth import issue_token, optional_principal, require_roles
from jiesu.accounts.lockout import LOGIN, REGISTER, Throttle
from jiesu.accounts.schemas import (
    JurisdictionCreate,
    JurisdictionOut,
    LoginRequest,
    PasswordChange,
    PasswordReset,
    ResidentRegister,
    TokenResponse,
    UserCreate,
    UserOut,
    UserUpdate,
)
from jiesu.accounts.security import STAFF, Principal
from jiesu.accounts.service import AccountService, user_out
from jiesu.accounts.tables import Jurisdiction, User
from jiesu.http_errors import OPEN_TO_ANONYMOUS, AccountLocked, AlreadyExists, Conflict
from jiesu.limits.http import client_address

STAFF_ONLY = [NotAuthorizedException, PermissionDeniedException]


def provide_accounts(state: State) -> AccountService:
    accounts: AccountService = state.accounts
    return accounts


class AuthController(Controller):
    path = "/api/auth"
    tags = ["accounts"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post(
        "/token",
        status_code=200,
        summary="Log in: exchange username and password for a bearer token",
        security=OPEN_TO_ANONYMOUS,
        raises=[NotAuthorizedException, AccountLocked],
    )
    async def token(
        self, request: Request[Any, Any, Any], data: LoginRequest, accounts: AccountService
    ) -> TokenResponse:
        throttle: Throttle = request.app.state.throttle
        principal = await throttle.guard(
            LOGIN,
            data.username,
            client_address(request),
            lambda: accounts.authenticate(data.username, data.password),
        )
        if principal is None:
            raise NotAuthorizedException("username or password is wrong")
        return token_response(request, principal)

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        summary="Log out: end every token and page session of the caller's account, on the server",
        security=OPEN_TO_ANONYMOUS,
        raises=[NotAuthorizedException],
    )
    async def logout(self, request: Request[Any, Any, Any], accounts: AccountService) -> None:
        try:
            principal = await optional_principal(request)
        except NotAuthorizedException:
            return None  # already ended (or never valid): nothing left to end
        if principal is not None:
            await accounts.logout(principal)
        return None


def token_response(request: Request[Any, Any, Any], principal: Principal) -> TokenResponse:
    auth = request.app.state.jwt_auth
    return TokenResponse(
        access_token=issue_token(auth, principal),
        expires_in=int(auth.default_token_expiration.total_seconds()),
        must_change_password=principal.must_change_password,
    )


class JurisdictionController(Controller):
    path = "/api/jurisdictions"
    tags = ["accounts"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post(
        "/",
        guards=[require_roles("admin")],
        summary="Create a jurisdiction (admin)",
        raises=[*STAFF_ONLY, AlreadyExists],
    )
    async def create(self, data: JurisdictionCreate, accounts: AccountService) -> JurisdictionOut:
        return await accounts.create_jurisdiction(data)

    @get("/", guards=[require_roles(*STAFF)], summary="The jurisdiction tree", raises=STAFF_ONLY)
    async def list_all(self) -> list[JurisdictionOut]:
        rows = await Jurisdiction.select().order_by(Jurisdiction.path)
        return [JurisdictionOut(**{k: r[k] for k in JurisdictionOut.model_fields}) for r in rows]


class UserController(Controller):
    path = "/api/users"
    tags = ["accounts"]
    guards = [require_roles("admin")]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post("/", summary="Create a user (admin)", raises=[*STAFF_ONLY, AlreadyExists])
    async def create(self, data: UserCreate, accounts: AccountService) -> UserOut:
        return await accounts.create_user(data)

    @get("/", summary="All users (admin)", raises=STAFF_ONLY)
    async def list_all(self) -> list[UserOut]:
        return [user_out(r) for r in await User.select().order_by(User.username)]

    @patch(
        "/{username:str}",
        summary="Change an account (admin): disabling it or changing its role or jurisdiction ends its "
        "tokens and sessions; recorded in the audit chain",
        raises=[*STAFF_ONLY, NotFoundException, Conflict],
    )
    async def update(
        self, request: Request[Principal, Any, Any], username: str, data: UserUpdate, accounts: AccountService
    ) -> UserOut:
        return await accounts.update_user(request.user, username, data)

    @post(
        "/{username:str}/password-reset",
        status_code=HTTP_200_OK,
        summary="Give an account a one-time password (admin): it can do nothing but change it",
        raises=[*STAFF_ONLY, NotFoundException, Conflict],
    )
    async def reset_password(
        self, request: Request[Principal, Any, Any], username: str, accounts: AccountService
    ) -> PasswordReset:
        return await accounts.reset_password(request.user, username)


class MyPasswordController(Controller):
    path = "/api/me"
    tags = ["accounts"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post(
        "/password",
        status_code=HTTP_200_OK,
        summary="Change one's own password: every earlier token and session ends; the answer is a new token",
        raises=[NotAuthorizedException, Conflict],
    )
    async def change_password(
        self, request: Request[Principal, Any, Any], data: PasswordChange, accounts: AccountService
    ) -> TokenResponse:
        principal = await accounts.change_password(request.user, data.old_password, data.new_password)
        return token_response(request, principal)


class ResidentController(Controller):
    path = "/api/residents"
    tags = ["accounts"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post(
        "/",
        summary="Register as a resident",
        security=OPEN_TO_ANONYMOUS,
        raises=[AlreadyExists, AccountLocked],
    )
    async def register(
        self, request: Request[Any, Any, Any], data: ResidentRegister, accounts: AccountService
    ) -> UserOut:
        throttle: Throttle = request.app.state.throttle
        registered = await throttle.guard(
            REGISTER, None, client_address(request), lambda: accounts.register_resident(data)
        )
        assert registered is not None  # register_resident returns the user or raises
        return registered
