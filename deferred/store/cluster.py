"""Several servers on one PostgreSQL database: whose running tasks are orphans (their
server's heartbeat row, kept by `server_rows`, is stale), quotas counted over every server,
and wake-ups through NOTIFY.

Exact quotas: every claim transaction first takes one transaction-level advisory lock, then
counts the RUNNING rows of the whole cluster per name, and claims only within what is left of
`limits.global` and `limits.names`, and within this server's fair share of each (the limit
over the servers alive, rounded up), so that one server cannot keep a tight limit's slots for
itself by taking each one again as it frees it. Claims therefore run one at a time across the
cluster (each holds the lock for a few milliseconds); picking rows still uses `SKIP LOCKED`, so a claim never
waits on rows another transaction (a finish, a requeue) has locked.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import sqlalchemy as sa

from ..config import LimitsConfig
from ..records import EmailStatus, TaskStatus
from .schema import outbox, paused_task_types, servers, tasks

CLAIM_LOCK_KEY = 0x6465666572726564  # "deferred": the one cluster-wide claim lock
WAKE_CHANNEL = "deferred_tasks"
PAUSES_NOTICE = "pauses"  # the payload of a NOTIFY after a task type was paused or resumed
RUNNING = TaskStatus.RUNNING.value


def dead_owner(owner: sa.ColumnElement[str], server_id: str, lease_s: float
               ) -> sa.ColumnElement[bool]:
    """No owner, or an owner other than us with no heartbeat newer than the lease."""
    fresh = sa.select(servers.c.id).where(servers.c.heartbeat_at > _lease_ago(lease_s))
    return sa.or_(owner.is_(None), sa.and_(owner != server_id, owner.not_in(fresh)))


def release_dead_emails(conn: sa.Connection, server_id: str, lease_s: float) -> None:
    """Put back the emails dead servers were sending, and forget servers long dead."""
    conn.execute(
        outbox.update()
        .where(outbox.c.status == EmailStatus.SENDING.value,
               dead_owner(outbox.c.owner, server_id, lease_s))
        .values(status=EmailStatus.PENDING.value, owner=None))
    forget_dead(conn, lease_s)


def forget_dead(conn: sa.Connection, lease_s: float) -> None:
    """Remove the rows of servers silent for ten leases (their tasks were requeued long ago;
    one that comes back writes its row again)."""
    conn.execute(sa.delete(servers).where(servers.c.heartbeat_at < _lease_ago(10 * lease_s)))


def lock_claims(conn: sa.Connection) -> None:
    """Take the cluster's claim lock until this transaction ends."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))


def cluster_room(conn: sa.Connection, room: Mapping[str, int], total: int,
                 limits: LimitsConfig, server_id: str, lease_s: float
                 ) -> tuple[dict[str, int], int, frozenset[str]]:
    """This server's free slots (`room`, `total`) narrowed to what the cluster's limits leave,
    counting the RUNNING rows of every server (under the claim lock), and to this server's
    fair share of each limit: the limit divided by the servers alive, rounded up, less what
    it holds already (running, or claimed ahead and waiting here). A server that frees a slot
    thus leaves it to one below its share rather than taking it again at once, and a record
    claimed ahead only ever holds a slot of its own server's share. The paused task types
    are read by the same statement and left out; returns them too."""
    running: dict[str, int] = {}
    mine: dict[str, int] = {}
    alive_now = (sa.select(sa.func.count().label("servers")).select_from(servers)
                 .where(servers.c.heartbeat_at > _lease_ago(lease_s)).subquery())
    paused_now = sa.select(sa.func.array_agg(paused_task_types.c.name).label("names")
                           ).subquery()
    counts = (sa.select(tasks.c.name, tasks.c.owner, sa.func.count().label("running"))
              .where(tasks.c.status == RUNNING).group_by(tasks.c.name, tasks.c.owner)
              .subquery())
    alive, paused = 1, None
    # One round trip (the claim lock is held until the commit): the servers alive and the
    # paused names, joined to a row per name and owner running (none when nothing runs).
    for alive, paused, name, owner, count in conn.execute(
            sa.select(alive_now.c.servers, paused_now.c.names, counts.c.name, counts.c.owner,
                      counts.c.running)
            .select_from(alive_now.join(paused_now, sa.true())
                         .outerjoin(counts, sa.true()))):
        if name is not None:
            running[name] = running.get(name, 0) + count
            if owner == server_id:
                mine[name] = mine.get(name, 0) + count
    alive = max(1, alive)
    paused_names = frozenset(paused or ())

    def share(limit: int) -> int:
        return -(-limit // alive)

    total = min(total, limits.global_limit - sum(running.values()),
                share(limits.global_limit) - sum(mine.values()))
    if total <= 0:
        return {}, 0, paused_names
    narrowed = {}
    for name, slots in room.items():
        if name in paused_names:
            continue
        limit = limits.names.get(name)
        if limit is not None:
            slots = min(slots, limit - running.get(name, 0), share(limit) - mine.get(name, 0))
        if slots > 0:
            narrowed[name] = min(slots, total)
    return narrowed, total, paused_names


def _lease_ago(lease_s: float) -> sa.ColumnElement[datetime.datetime]:
    """The database's clock `lease_s` ago."""
    return sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(lease_s, sa.Float))


def notify(conn: sa.Connection, payload: str = "") -> None:
    """Wake every server listening: there is work, or a slot was freed, or (`payload`
    `PAUSES_NOTICE`) the paused task types changed. Sent at commit."""
    conn.execute(sa.select(sa.func.pg_notify(WAKE_CHANNEL, payload)))
