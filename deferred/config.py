"""The configuration: read once from `config.json`, checked against a schema, then frozen.

`load_config(path)` and `parse_config(raw)` return a `Config` of frozen dataclasses; defaults
live here and nowhere else. Every key is optional; an unknown key is an error.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import types
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .access.identity import ROLE_LABELS, Role, password_hash_problem
from .addresses import ascii_address
from .errors import ConfigError, InvalidJsonError
from .formats import make_format_checker
from .jsontext import parse_json


def config_schema() -> dict[str, Any]:
    """The JSON Schema every configuration is checked against (a new copy each call)."""
    positive_int = {"type": "integer", "minimum": 1}
    seconds = {"type": "number", "minimum": 0}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "db": {"type": "object", "additionalProperties": False, "properties": {
                "url": {"type": "string", "minLength": 1},
                "lease_s": {"type": "number", "exclusiveMinimum": 0},
                "heartbeat_s": {"type": "number", "exclusiveMinimum": 0}}},
            "limits": {"type": "object", "additionalProperties": False, "properties": {
                "global": positive_int,
                "names": {"type": "object", "additionalProperties": positive_int},
                "workers": positive_int,
                "prefetch": {"type": "integer", "minimum": 0}}},
            "http": {"type": "object", "additionalProperties": False, "properties": {
                "host": {"type": "string", "minLength": 1},
                "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                "public_url": {"type": "string", "format": "uri", "pattern": "^https?://"},
                "sync_wait_s": seconds,
                "max_body_bytes": positive_int,
                "trusted_proxy": {"type": "string"}}},
            "smtp": {"type": "object", "additionalProperties": False,
                     "dependentRequired": {"password": ["username"], "username": ["password"]},
                     "properties": {
                         "host": {"type": "string", "minLength": 1},
                         "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                         "sender": {"type": "string", "format": "email"},
                         "username": {"type": "string"},
                         "password": {"type": "string"},
                         "security": {"enum": ["none", "starttls", "ssl"]},
                         "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                         "max_attempts": positive_int,
                         "retry_backoff_s": {"type": "number", "exclusiveMinimum": 0},
                         "retry_max_delay_s": {"type": "number", "exclusiveMinimum": 0},
                         "max_attachment_bytes": {"type": "integer", "minimum": 0}}},
            "auth": _auth_schema(),
            "recovery": {"type": "object", "additionalProperties": False, "properties": {
                "max_interrupted_runs": positive_int,
                "backoff_s": seconds,
                "max_backoff_s": seconds}},
            "shutdown_grace_s": seconds,
            "retention_s": {"type": "number", "exclusiveMinimum": 0},
            "max_result_bytes": positive_int,
        },
    }


def _auth_schema() -> dict[str, Any]:
    name = {"type": "string", "minLength": 1, "maxLength": 100}
    role = {"enum": list(ROLE_LABELS)}
    return {"type": "object", "additionalProperties": False, "properties": {
        "tokens": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "hash"],
            "properties": {"name": name, "role": role,
                           "hash": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}}}},
        "users": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "password"],
            "properties": {"name": name, "role": role,
                           "password": {"type": "string"}}}},
        "session_ttl_s": {"type": "number", "minimum": 60}}}


@dataclasses.dataclass(frozen=True)
class DbConfig:
    """`db`: where tasks are stored. A relative SQLite path is relative to the working
    directory."""

    url: str = "sqlite+pysqlite:///deferred.db"
    # Several servers on one PostgreSQL database: each writes a heartbeat every
    # `heartbeat_s`; one silent for `lease_s` is dead and its running tasks run again.
    lease_s: float = 30.0
    heartbeat_s: float = 5.0


@dataclasses.dataclass(frozen=True)
class LimitsConfig:
    """`limits`: how many tasks run at once, in total and per task name."""

    global_limit: int = 8
    names: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({}))
    # This server's thread pool; None: `global_limit`. With several servers on one
    # database, `global_limit` and `names` count all of them together, `workers` each alone.
    workers: int | None = None
    # Records this server claims ahead of its free workers, so that a worker that is done
    # starts its next task without waiting for a claim; None: the pool size.
    prefetch: int | None = None

    @property
    def pool_size(self) -> int:
        """How many tasks this server runs at once at most."""
        return min(self.workers or self.global_limit, self.global_limit)

    @property
    def prefetch_size(self) -> int:
        """How many records this server may hold claimed ahead of its free workers."""
        return self.pool_size if self.prefetch is None else self.prefetch


@dataclasses.dataclass(frozen=True)
class RecoveryConfig:
    """`recovery`: what happens to a run that its server's stop or death interrupted. It
    runs again after a back-off (`backoff_s`, doubling each time up to `max_backoff_s`,
    give or take a quarter so that tasks interrupted together do not start together again),
    and ends FAILED once it has been interrupted `max_interrupted_runs` times: a task that
    kills its server cannot crash-loop it."""

    max_interrupted_runs: int = 3
    backoff_s: float = 5.0
    max_backoff_s: float = 300.0

    def backoff_after_s(self, interruptions: int) -> float:
        """The back-off, before jitter, after a run's `interruptions`-th interruption."""
        return min(self.backoff_s * 2.0 ** max(interruptions - 1, 0), self.max_backoff_s)


@dataclasses.dataclass(frozen=True)
class HttpConfig:
    """`http`: where the server listens and how it answers."""

    host: str = "127.0.0.1"
    port: int = 5000
    public_url: str | None = None
    sync_wait_s: float = 30.0
    max_body_bytes: int = 1024 * 1024
    # The address of a reverse proxy whose X-Forwarded-For and -Proto are believed.
    trusted_proxy: str | None = None


@dataclasses.dataclass(frozen=True)
class SmtpConfig:
    """`smtp`: how results are emailed. `port` None means the default for `security`."""

    host: str = "localhost"
    port: int | None = None
    sender: str = "deferred@localhost"
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    security: str = "none"
    timeout_s: float = 30.0
    max_attempts: int = 10
    retry_backoff_s: float = 5.0
    retry_max_delay_s: float = 600.0
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ApiToken:
    """`auth.tokens[]`: an API token, by the hash `token_hash()` makes of it."""

    name: str
    role: Role
    hash: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class UserAccount:
    """`auth.users[]`: a user who logs in to the UI, by the hash of their password."""

    name: str
    role: Role
    password_hash: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """`auth`: who may use the server. With no token and no user, auth is off, which is
    allowed on a loopback address only (or with `insecure`, set by `runserver --insecure`)."""

    tokens: tuple[ApiToken, ...] = ()
    users: tuple[UserAccount, ...] = ()
    session_ttl_s: float = 12 * 3600.0
    insecure: bool = False  # never read from the file: only the command line sets it

    @property
    def enabled(self) -> bool:
        """True when requests must carry credentials."""
        return bool(self.tokens or self.users)


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole configuration."""

    db: DbConfig = dataclasses.field(default_factory=DbConfig)
    limits: LimitsConfig = dataclasses.field(default_factory=LimitsConfig)
    http: HttpConfig = dataclasses.field(default_factory=HttpConfig)
    smtp: SmtpConfig = dataclasses.field(default_factory=SmtpConfig)
    auth: AuthConfig = dataclasses.field(default_factory=AuthConfig)
    recovery: RecoveryConfig = dataclasses.field(default_factory=RecoveryConfig)
    shutdown_grace_s: float = 10.0
    # Finished tasks (with their files) are deleted this long after they finish; None keeps
    # them for ever. A task's own `ttl_s` overrides it.
    retention_s: float | None = None
    max_result_bytes: int = 100 * 1024 * 1024


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read and check a configuration file; `None` gives the defaults.

    Raises `ConfigError` naming the file and the key (`config.json: $.limits.global: -1 is
    less than the minimum of 1`), or the line and column of bad JSON.
    """
    if path is None:
        return Config()
    source = os.fspath(path)
    try:
        with open(source, "rb") as file:
            text = file.read()
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration: {exc.strerror or exc}",
                          where=source) from None
    try:
        raw = parse_json(text, where=source)
    except InvalidJsonError as exc:
        raise ConfigError(exc.message, where=source) from None
    return parse_config(raw, source=source)


def parse_config(raw: Any, *, source: str = "config") -> Config:
    """Check a parsed configuration and freeze it. Raises `ConfigError` naming the key."""
    validator = Draft202012Validator(
        config_schema(), format_checker=make_format_checker(Draft202012Validator.FORMAT_CHECKER))
    error = best_match(validator.iter_errors(raw))
    if error is not None:
        raise ConfigError(_describe(error), where=source)
    limits, http, smtp = raw.get("limits", {}), raw.get("http", {}), raw.get("smtp", {})
    db = DbConfig(**raw.get("db", {}))
    _check_proxy(http.get("trusted_proxy"), source)
    _check_sender(smtp.get("sender"), source)
    if db.heartbeat_s >= db.lease_s:
        raise ConfigError(f"$.db.heartbeat_s: {db.heartbeat_s} must be shorter than "
                          f"db.lease_s ({db.lease_s}), or live servers would count as dead",
                          where=source)
    return Config(
        db=dataclasses.replace(db, lease_s=float(db.lease_s), heartbeat_s=float(db.heartbeat_s)),
        limits=LimitsConfig(
            global_limit=int(limits.get("global", LimitsConfig.global_limit)),
            names=types.MappingProxyType(
                {name: int(limit) for name, limit in limits.get("names", {}).items()}),
            workers=int(limits["workers"]) if "workers" in limits else None,
            prefetch=int(limits["prefetch"]) if "prefetch" in limits else None),
        http=_with_ints(HttpConfig(**http), "port", "max_body_bytes"),
        smtp=_with_ints(SmtpConfig(**smtp), "port", "max_attempts", "max_attachment_bytes"),
        auth=_auth(raw.get("auth", {}), source),
        recovery=_recovery(raw.get("recovery", {}), source),
        shutdown_grace_s=float(raw.get("shutdown_grace_s", Config.shutdown_grace_s)),
        retention_s=float(raw["retention_s"]) if "retention_s" in raw else None,
        max_result_bytes=int(raw.get("max_result_bytes", Config.max_result_bytes)),
    )


def _recovery(raw: Mapping[str, Any], source: str) -> RecoveryConfig:
    recovery = RecoveryConfig(**{key: (int(value) if key == "max_interrupted_runs"
                                       else float(value)) for key, value in raw.items()})
    if recovery.max_backoff_s < recovery.backoff_s:
        raise ConfigError(f"$.recovery.max_backoff_s: {recovery.max_backoff_s:g} is shorter "
                          f"than recovery.backoff_s ({recovery.backoff_s:g})", where=source)
    return recovery


def _check_proxy(address: str | None, source: str) -> None:
    if address is None or address == "*":
        return
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError(f"$.http.trusted_proxy: {address!r} is not an IP address (or '*' "
                          "for any: only when nothing but the proxy can reach the server)",
                          where=source) from None


def _check_sender(sender: str | None, source: str) -> None:
    if sender is None or (sender.isascii() and "xn--" not in sender.lower()):
        return  # nothing for IDNA 2008 to check
    import email.utils  # here: a CLI run imports this module, and seldom needs it

    address = email.utils.parseaddr(sender)[1] or sender
    try:
        ascii_address(address)
    except ValueError as exc:
        raise ConfigError(f"$.smtp.sender: {exc}", where=source) from None


def _auth(raw: Mapping[str, Any], source: str) -> AuthConfig:
    tokens = tuple(ApiToken(item["name"], Role.from_label(item.get("role", "read")),
                            item["hash"]) for item in raw.get("tokens", []))
    users = tuple(UserAccount(item["name"], Role.from_label(item.get("role", "read")),
                              item["password"]) for item in raw.get("users", []))
    for kind, entries in (("tokens", tokens), ("users", users)):
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            if entry.name in seen:
                raise ConfigError(f"$.auth.{kind}[{index}].name: {entry.name!r} is used twice",
                                  where=source)
            seen.add(entry.name)
    hashes = [token.hash for token in tokens]
    if len(set(hashes)) != len(hashes):
        raise ConfigError("$.auth.tokens: two tokens have the same hash", where=source)
    for index, user in enumerate(users):
        problem = password_hash_problem(user.password_hash)
        if problem is not None:  # refused here, not by a login that can never succeed
            raise ConfigError(f"$.auth.users[{index}].password: {problem} (user "
                              f"{user.name!r}); make one with `python -m "
                              "deferred.credentials user`", where=source)
    return AuthConfig(tokens=tokens, users=users,
                      session_ttl_s=float(raw.get("session_ttl_s", AuthConfig.session_ttl_s)))


def _with_ints(value: Any, *fields: str) -> Any:
    # JSON Schema counts 5.0 as an integer; the dataclasses should hold a real int.
    changes = {name: int(getattr(value, name)) for name in fields
               if getattr(value, name) is not None}
    return dataclasses.replace(value, **changes)


def _describe(error: ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = error.schema.get("properties", {})
        unknown = sorted(key for key in error.instance if key not in allowed)
        if unknown and allowed:
            return (f"{error.json_path}.{unknown[0]}: unknown key "
                    f"(allowed: {', '.join(allowed)})")
    return f"{error.json_path}: {error.message}"
