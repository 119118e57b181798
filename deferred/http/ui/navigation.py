"""Small helpers of the UI's posts: the app's mount point, redirects after a post, where a
login may lead, and the fields of a posted form."""

from __future__ import annotations

import urllib.parse

import bottle


def root_path() -> str:
    """The mount point of the app ("" at the top), quoted for a URL."""
    return urllib.parse.quote(bottle.request.environ.get("SCRIPT_NAME", "").rstrip("/"))


def redirect(path: str) -> bottle.HTTPResponse:
    """303 to `path` under the app's mount point (after a post: the browser then GETs it)."""
    return bottle.HTTPResponse(status=303, headers={"Location": f"{root_path()}{path}"})


def safe_next(path: str) -> str:
    """Where to go after logging in: a path on this server, never another site."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(
            ord(char) < 0x20 or ord(char) == 0x7f for char in path):
        return "/"  # browsers drop tabs and newlines: "/\t/evil.example" is "//evil..."
    return path


def form_fields(body: bytes) -> dict[str, str]:
    """A posted form's fields (url-encoded), the first value of each, blanks kept."""
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}
