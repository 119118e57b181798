"""The UI's pages about access: the login form, logging in and out, the audit log and the
API tokens an admin makes and revokes."""

from __future__ import annotations

from typing import Any

import bottle

from ...access.audit import Actor, AuditAction
from ...errors import DeferredError, TooManyAttemptsError, UnauthorizedError
from ...interfaces import AccessStore
from ..auth import SESSION_COOKIE, Authenticator, client_address, current_actor
from ..listquery import parse_cursor
from .navigation import redirect, safe_next
from .renderer import PageRenderer

PAGE_SIZE = 50


class AccessPages:
    """Login, logout, the audit log and the tokens page, rendered by `renderer`."""

    def __init__(self, access: AccessStore, authenticator: Authenticator,
                 renderer: PageRenderer) -> None:
        self._access, self._auth, self._pages = access, authenticator, renderer

    def login_page(self, error: DeferredError | None, user: str = "",
                   next_path: str | None = None) -> bottle.HTTPResponse:
        """The login form (401, or the status of `error`), to come back to `next_path`
        (default: the page asked for)."""
        if next_path is None:
            request = bottle.request
            # The path within the app: `redirect()` puts the mount point in front again.
            next_path = request.path + (f"?{request.query_string}"
                                        if request.query_string else "")
            if request.method != "GET" or request.path.startswith("/ui/parts/"):
                next_path = "/"
        status = error.http_status if error is not None else 401
        return self._pages.render("login", status, viewer=None, error=error, user=user,
                                  next_path=safe_next(next_path))

    def login(self) -> Any:
        """`POST /login`: a user and password, or an API token; a session cookie and back
        to the page asked for. Refused (401) until the credentials are right."""
        fields = self._pages.posted_form()
        user, next_path = fields.get("user", "").strip(), safe_next(fields.get("next", "/"))
        if not self._auth.enabled:
            return redirect(next_path)
        address = client_address()
        try:
            attempt = self._auth.throttle.attempt(address)
        except TooManyAttemptsError as exc:
            return self.login_page(exc, user=user, next_path=next_path)
        try:
            principal = self._auth.check_login(token=fields.get("token", "").strip(),
                                               user=user, password=fields.get("password", ""))
        except UnauthorizedError as exc:
            self._access.record_audit(Actor(user or "(token)", "", address),
                                      AuditAction.LOGIN_FAILED, detail=exc.message)
            return self.login_page(exc, user=user, next_path=next_path)
        self._auth.throttle.succeeded(address, attempt)
        cookie, ttl_s = self._auth.open_session(principal)
        self._access.record_audit(Actor(principal.name, principal.role.label, address),
                                  AuditAction.LOGIN)
        response = redirect(next_path)
        response.set_cookie(SESSION_COOKIE, cookie, path="/", max_age=ttl_s, httponly=True,
                            samesite="strict", secure=self._pages.secure())
        return response

    def logout(self) -> Any:
        """`POST /logout`: end the session, forget its cookie."""
        self._pages.posted_form()
        if self._auth.close_session(bottle.request.get_cookie(SESSION_COOKIE) or ""):
            self._access.record_audit(current_actor(), AuditAction.LOGOUT)
        response = redirect("/")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=self._pages.secure())
        return response

    def audit_page(self) -> Any:
        """`GET /audit?cursor=`: the audit log, newest first."""
        before_id = parse_cursor((bottle.request.query.getunicode("cursor") or "").strip())
        entries = self._access.audit_entries(limit=PAGE_SIZE + 1, before_id=before_id)
        older = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
        return self._pages.render("audit", entries=entries[:PAGE_SIZE], older=older)

    def tokens_page(self, new_token: str = "", new_name: str = "",
                    error: DeferredError | None = None) -> Any:
        """`GET /tokens`: every API token by name and role; stored ones can be revoked, and
        a new one made (shown once, right after)."""
        return self._pages.render("tokens", 200 if error is None else error.http_status,
                                  tokens=self._auth.token_list(), new_token=new_token,
                                  new_name=new_name, error=error,
                                  auth_enabled=self._auth.enabled)

    def create_token(self) -> Any:
        """`POST /tokens`: make a token; the page again, showing it this once."""
        fields = self._pages.posted_form()
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
        self._pages.posted_form()
        self._auth.revoke_token(name, current_actor())
        return redirect("/tokens")
