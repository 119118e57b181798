"""Browser-facing safety: the headers every answer carries, the same-origin check for posts,
and the CSRF token of the UI's launch form."""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
from collections.abc import Mapping
from typing import Any

import bottle

from ..errors import CrossOriginError

# No inline script or style anywhere: every script and sheet is a file under /static/.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; form-action 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")
_SAFETY_HEADERS = (("Content-Security-Policy", PAGE_POLICY), ("X-Content-Type-Options", "nosniff"),
                   ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
                   ("Cross-Origin-Opener-Policy", "same-origin"))
CSRF_COOKIE = "deferred_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN_BYTES = 32


def add_security_headers() -> None:
    """bottle `after_request` hook: headers for every answer, pages, JSON and errors alike.
    A route that set its own Content-Security-Policy (result files) keeps it."""
    headers = bottle.response.headers
    for name, value in _SAFETY_HEADERS:
        if name not in headers:  # (setdefault would raise and catch a KeyError each time)
            headers[name] = value


def own_origins(environ: Mapping[str, Any], public_url: str | None) -> set[str]:
    """The origins this server answers as: the one the client addressed (Host) and the one
    of `http.public_url`, lowercased, as `scheme://host[:port]`."""
    origins = set()
    host = environ.get("HTTP_HOST")
    if host:
        origins.add(f"{environ.get('wsgi.url_scheme', 'http')}://{host}".lower())
    if public_url:
        parts = urllib.parse.urlsplit(public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def check_same_origin(environ: Mapping[str, Any], public_url: str | None) -> None:
    """Refuse a request a browser sent from another site. Raises `CrossOriginError`.

    Browsers send `Origin` on every cross-origin post (and `Sec-Fetch-Site`); curl and
    scripts send neither, and pass. A form on another site can post a JSON-looking body as
    `text/plain` without a preflight: this check is what stops it.
    """
    if environ.get("HTTP_SEC_FETCH_SITE", "") in ("cross-site", "same-site"):
        raise CrossOriginError("requests from another site are refused",
                               where="Sec-Fetch-Site")
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return
    if origin.lower() not in own_origins(environ, public_url):
        raise CrossOriginError(f"requests from origin {origin!r} are refused; send them "
                               "from this server's own pages, or without a browser",
                               where="Origin")


def csrf_token(cookies: Mapping[str, str]) -> tuple[str, bool]:
    """The browser's CSRF token from its cookie, or a new one: (token, is_new)."""
    token = cookies.get(CSRF_COOKIE, "")
    if len(token) == 2 * _TOKEN_BYTES and all(char in "0123456789abcdef" for char in token):
        return token, False
    return secrets.token_hex(_TOKEN_BYTES), True


def set_csrf_cookie(response: bottle.BaseResponse, token: str, secure: bool) -> None:
    """Send the token as a cookie scripts cannot read and other sites never send along."""
    response.set_cookie(CSRF_COOKIE, token, path="/", httponly=True, samesite="strict",
                        secure=secure)


def check_csrf(cookies: Mapping[str, str], submitted: str) -> None:
    """The form's token must equal the cookie's (double submit). Raises `CrossOriginError`."""
    expected = cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise CrossOriginError("the form's security token is missing or out of date; reload "
                               "the page and send the form again", where=CSRF_FIELD)
