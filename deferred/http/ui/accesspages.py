"""The UI's pages about access: the login form, logging in and out, the audit log and the
API tokens an admin makes and revokes. A mixin of `UiRoutes`, which renders the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bottle

from ...access.audit import Actor, AuditAction
from ...config import HttpConfig
from ...errors import DeferredError, TooManyAttemptsError, UnauthorizedError
from ...interfaces import AccessStore
from ..auth import SESSION_COOKIE, Authenticator, client_address, current_actor
from ..jsonbody import read_body
from ..listquery import parse_cursor
from .navigation import form_fields, redirect, safe_next
from ..security import CSRF_FIELD, check_csrf, check_same_origin

PAGE_SIZE = 50


class AccessPages:
    """Login, logout, the audit log and the tokens page (needs `UiRoutes`' `_access`,
    `_config`, `_auth`, `_render` and `_secure`)."""

    _access: AccessStore
    _config: HttpConfig
    _auth: Authenticator
    _render: Callable[..., bottle.HTTPResponse]
    _secure: Callable[[], bool]

    def _posted_form(self) -> dict[str, str]:
        """The fields of a UI post, once its origin and CSRF token are checked."""
        environ = bottle.request.environ
        check_same_origin(environ, self._config.public_url)
        fields = form_fields(read_body(environ, self._config.max_body_bytes))
        check_csrf(bottle.request.cookies, fields.get(CSRF_FIELD, ""))
        return fields

    def _login_page(self, error: DeferredError | None, user: str = "",
                    next_path: str | None = None) -> bottle.HTTPResponse:
        if next_path is None:
            request = bottle.request
            # The path within the app: `redirect()` puts the mount point in front again.
            next_path = request.path + (f"?{request.query_string}"
                                        if request.query_string else "")
            if request.method != "GET" or request.path.startswith("/ui/parts/"):
                next_path = "/"
        status = error.http_status if error is not None else 401
        return self._render("login", status, viewer=None, error=error, user=user,
                            next_path=safe_next(next_path))

    def login(self) -> Any:
        """`POST /login`: a user and password, or an API token; a session cookie and back
        to the page asked for. Refused (401) until the credentials are right."""
        fields = self._posted_form()
        user, next_path = fields.get("user", "").strip(), safe_next(fields.get("next", "/"))
        if not self._auth.enabled:
            return redirect(next_path)
        address = client_address()
        try:
            attempt = self._auth.throttle.attempt(address)
        except TooManyAttemptsError as exc:
            return self._login_page(exc, user=user, next_path=next_path)
        try:
            principal = self._auth.check_login(token=fields.get("token", "").strip(),
                                               user=user, password=fields.get("password", ""))
        except UnauthorizedError as exc:
            self._access.record_audit(Actor(user or "(token)", "", address),
                                       AuditAction.LOGIN_FAILED, detail=exc.message)
            return self._login_page(exc, user=user, next_path=next_path)
        self._auth.throttle.succeeded(address, attempt)
        cookie, ttl_s = self._auth.open_session(principal)
        self._access.record_audit(Actor(principal.name, principal.role.label, address),
                                   AuditAction.LOGIN)
        response = redirect(next_path)
        response.set_cookie(SESSION_COOKIE, cookie, path="/", max_age=ttl_s, httponly=True,
                            samesite="strict", secure=self._secure())
        return response

    def logout(self) -> Any:
        """`POST /logout`: end the session, forget its cookie."""
        self._posted_form()
        if self._auth.close_session(bottle.request.get_cookie(SESSION_COOKIE) or ""):
            self._access.record_audit(current_actor(), AuditAction.LOGOUT)
        response = redirect("/")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=self._secure())
        return response

    def audit_page(self) -> Any:
        """`GET /audit?cursor=`: the audit log, newest first."""
        before_id = parse_cursor((bottle.request.query.getunicode("cursor") or "").strip())
        entries = self._access.audit_entries(limit=PAGE_SIZE + 1, before_id=before_id)
        older = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
        return self._render("audit", entries=entries[:PAGE_SIZE], older=older)

    def tokens_page(self, new_token: str = "", new_name: str = "",
                    error: DeferredError | None = None) -> Any:
        """`GET /tokens`: every API token by name and role; stored ones can be revoked, and
        a new one made (shown once, right after)."""
        return self._render("tokens", 200 if error is None else error.http_status,
                            tokens=self._auth.token_list(), new_token=new_token,
                            new_name=new_name, error=error, auth_enabled=self._auth.enabled)

    def create_token(self) -> Any:
        """`POST /tokens`: make a token; the page again, showing it this once."""
        fields = self._posted_form()
        name, role = fields.get("name", "").strip(), fields.get("role", "")
        try:
            token = self._auth.create_token(name, role, current_actor())
        except DeferredError as exc:
            return self.tokens_page(new_name=name, error=exc)
        response = self.tokens_page(new_token=token, new_name=name)
        response.set_header("Cache-Control", "no-store")
        return response

    def revoke_token(self, name: str) -> Any:
        """`POST /tokens/{name}/revoke`: the token stops working at once."""
        self._posted_form()
        self._auth.revoke_token(name, current_actor())
        return redirect("/tokens")
