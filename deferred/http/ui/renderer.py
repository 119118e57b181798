"""`PageRenderer`: how every UI page is rendered and every UI form post is read, shared by
the task pages (`UiRoutes`) and the access pages (`AccessPages`)."""

from __future__ import annotations

from typing import Any

import bottle

from ...access.identity import Role
from ...config import HttpConfig
from ...errors import DeferredError
from ..auth import Authenticator, current_principal, is_secure_request
from ..jsonbody import read_body
from ..jsonerrors import error_headers
from ..security import CSRF_FIELD, check_csrf, check_same_origin, csrf_token, set_csrf_cookie
from .navigation import form_fields, root_path
from .templates import Templates, html_response


class PageRenderer:
    """Renders templates with the viewer, what they may do and the CSRF token of the page's
    forms; checks the origin and CSRF token of what a form posts."""

    def __init__(self, templates: Templates, config: HttpConfig,
                 authenticator: Authenticator) -> None:
        self._templates, self._config, self._auth = templates, config, authenticator

    def render(self, name: str, status: int = 200, **values: Any) -> bottle.HTTPResponse:
        """A page: the viewer and what they may do, and the CSRF token of its forms (the
        cookie too, when the browser had none); a page showing an `error` gets its headers."""
        viewer = current_principal()
        token, is_new = csrf_token(bottle.request.cookies)
        values.setdefault("viewer", viewer)
        response = html_response(self._templates.render(
            name, root_path(), auth_on=self._auth.enabled, csrf_token=token,
            csrf_field=CSRF_FIELD, can_submit=viewer is not None and viewer.may(Role.SUBMIT),
            can_admin=viewer is not None and viewer.may(Role.ADMIN), **values), status)
        if is_new:
            set_csrf_cookie(response, token, secure=self.secure())
        error = values.get("error")
        if isinstance(error, DeferredError):  # a page showing an error: its Retry-After
            for header, value in error_headers(error).items():
                response.set_header(header, value)
        return response

    def secure(self) -> bool:
        """True if the request came over HTTPS: cookies are then `Secure`."""
        return is_secure_request(self._config.public_url)

    def posted_form(self) -> dict[str, str]:
        """The fields of a UI post, once its origin and CSRF token are checked."""
        environ = bottle.request.environ
        check_same_origin(environ, self._config.public_url)
        fields = form_fields(read_body(environ, self._config.max_body_bytes))
        check_csrf(bottle.request.cookies, fields.get(CSRF_FIELD, ""))
        return fields
