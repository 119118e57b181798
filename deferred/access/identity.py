"""Who may do what: roles, principals, API tokens and passwords, stored only as hashes.

An API token is 32 random bytes, so one SHA-256 of it is as hard to reverse as the token is to
guess; it is looked up by that hash. A password is chosen by a person, so it is stretched with
scrypt (a memory-hard KDF in the standard library) and a random salt, and compared in constant
time. `python -m deferred.credentials` makes both for `config.json`.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import hmac
import ipaddress
import secrets
import socket

TOKEN_PREFIX = "dfr_"  # makes a leaked token easy to recognise (and to scan for)
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1  # 16 MiB and about 50 ms per check
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_HASH_BYTES = 32
MAX_PASSWORD_CHARS = 512


class Role(enum.IntEnum):
    """What a token, user or session may do; each role may do all a lower one may."""

    READ = 1  # view tasks, results, task types and metrics
    SUBMIT = 2  # also launch, cancel and retry tasks
    ADMIN = 3  # also read the audit log

    @property
    def label(self) -> str:
        """The role's name as the config and the UI write it: `read`, `submit`, `admin`."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Role:
        """The role named `label`. Raises `KeyError`."""
        return cls[label.upper()]


ROLE_LABELS = tuple(role.label for role in Role)


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who a request comes from: a token's or user's name and role, and the credential it
    showed (`user:NAME`, `token:HASH`), which a login session keeps to check it again."""

    name: str
    role: Role
    credential: str = ""

    def may(self, needed: Role) -> bool:
        """True if this principal's role allows what `needed` allows."""
        return self.role >= needed


# On a loopback address with no credentials configured, every request acts as this.
LOCAL_PRINCIPAL = Principal("local", Role.ADMIN)


def new_token() -> str:
    """A new random API token (shown once; only its hash is kept)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_HASH_BYTES)


def token_hash(token: str) -> str:
    """How an API token is stored: `sha256:` and the hex digest."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    """How a password is stored: `scrypt$N$r$p$salt$hash`, salt and hash in base64."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P),
                     _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """True if `password` matches the stored `hash_password()` text."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r),
                         int(p))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def is_password_hash(text: str) -> bool:
    """True if `text` has the shape `hash_password()` writes (for checking a config)."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(part.isdigit() for part in parts[1:4]):
        return False
    try:
        return all(base64.b64decode(part, validate=True) for part in parts[4:])
    except ValueError:
        return False


def dummy_password_check() -> None:
    """Spend the time a password check takes, so an unknown user name answers as slowly as
    a wrong password and names cannot be told apart by timing."""
    _scrypt("", b"\0" * 16, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                          maxmem=_SCRYPT_MAXMEM, dklen=_HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def is_loopback(host: str) -> bool:
    """True if listening on `host` reaches this machine only: a loopback address, or a name
    whose every address is one. `0.0.0.0`, `::` and names of real interfaces are not."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)
