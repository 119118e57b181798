"""Who may do what: roles, principals, API tokens and passwords, stored only as hashes.

An API token is 32 random bytes, so one SHA-256 of it is as hard to reverse as the token is to
guess; it is looked up by that hash. A password is chosen by a person, so it is stretched with
scrypt (a memory-hard KDF in the standard library) at OWASP's parameters and a random salt,
and compared in constant time. `python -m deferred.credentials` makes both for `config.json`.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import hmac
import ipaddress
import re
import secrets
import socket

TOKEN_PREFIX = "dfr_"  # makes a leaked token easy to recognise (and to scan for)
# OWASP's Password Storage Cheat Sheet: N=2^17, r=8, p=1, 128 MiB per hash or check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# OpenSSL's scrypt needs 128*r*(N+2) + 128*r*p bytes: just over 128 MiB at the default.
# Twice 128*N*r is room to spare for it, and refuses a stored hash needing more.
SCRYPT_MAXMEM_BYTES = 2 * 128 * SCRYPT_N * SCRYPT_R
# N*r*p is the time a check takes: a stored hash may cost at most 4 times the default, so
# that no config entry (p=10000 needs little memory) makes each login take minutes.
MAX_SCRYPT_WORK = 4 * SCRYPT_N * SCRYPT_R * SCRYPT_P
_HASH_BYTES = 32
_DIGITS = re.compile("[0-9]+", re.ASCII)
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
    """How a password is stored: `scrypt$N$r$p$salt$hash` (N=131072, r=8, p=1), salt and
    hash in base64. The parameters are in the text, so hashes made at a lower cost by
    earlier versions (N=16384) still verify."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """True if `password` matches the stored `hash_password()` text (False, without trying,
    for a text `password_hash_problem()` refuses)."""
    if password_hash_problem(stored) is not None:
        return False
    _, n, r, p, salt, digest = stored.split("$")
    actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(actual, base64.b64decode(digest))


def is_password_hash(text: str) -> bool:
    """True if `text` is a hash `hash_password()` could have written and this version can
    check (for checking a config)."""
    return password_hash_problem(text) is None


def password_hash_problem(text: str) -> str | None:
    """Why `text` is no password hash this version can check, or None if it is one: not
    the shape `hash_password()` writes, or scrypt parameters that are invalid or cost more
    than `SCRYPT_MAXMEM_BYTES` of memory or `MAX_SCRYPT_WORK` of time to check."""
    parts = text.split("$")
    if (len(parts) != 6 or parts[0] != "scrypt"
            or not all(_DIGITS.fullmatch(part) for part in parts[1:4])):
        return "not a password hash"
    if any(len(part) > 12 for part in parts[1:4]):
        return "scrypt parameters of more than 12 digits are beyond any limit"
    try:
        salt, digest = (base64.b64decode(part, validate=True) for part in parts[4:])
    except ValueError:
        return "not a password hash (its salt or hash is not base64)"
    if not salt or len(digest) != _HASH_BYTES:
        return f"not a password hash (it needs a salt and a {_HASH_BYTES}-byte hash)"
    n, r, p = (int(part) for part in parts[1:4])
    shown = f"scrypt N={n}, r={r}, p={p}"
    # RFC 7914: N a power of 2 above 1 and below 2^(16*r); r and p at least 1.
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or n.bit_length() > 16 * r:
        return (f"{shown} is not valid (N must be a power of 2 above 1 and below 2^(16*r), "
                "r and p at least 1)")
    memory_bytes = 128 * r * (n + 2) + 128 * r * p
    if memory_bytes > SCRYPT_MAXMEM_BYTES:
        return (f"{shown} needs {-(-memory_bytes // 2**20)} MiB to check, over the limit "
                f"of {SCRYPT_MAXMEM_BYTES // 2**20} MiB")
    if n * r * p > MAX_SCRYPT_WORK:
        return (f"{shown} costs {n * r * p // (SCRYPT_N * SCRYPT_R * SCRYPT_P)} times the "
                f"default (N={SCRYPT_N}, r={SCRYPT_R}, p={SCRYPT_P}) to check, over the "
                f"limit of {MAX_SCRYPT_WORK // (SCRYPT_N * SCRYPT_R * SCRYPT_P)}")
    return None


def dummy_password_check() -> None:
    """Spend the time a password check takes, so an unknown user name answers as slowly as
    a wrong password and names cannot be told apart by timing."""
    _scrypt("", b"\0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                          maxmem=SCRYPT_MAXMEM_BYTES, dklen=_HASH_BYTES)


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
