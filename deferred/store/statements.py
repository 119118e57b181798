"""The statements of the dispatcher's hot path, built once per store.

Building a SQLAlchemy statement costs more Python than running it against SQLite; the claim
and finish of every task go through these, with bound parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from sqlalchemy.dialects import postgresql, sqlite

from ..records import TaskStatus
from .rows import CLAIMED_COLUMNS
from .schema import outbox, task_attempts, task_files, tasks
from .types import UtcDateTime

QUEUED, RUNNING = TaskStatus.QUEUED.value, TaskStatus.RUNNING.value



@dataclasses.dataclass(frozen=True)
class HotStatements:
    """Claim, finish and their companions, with bound parameters."""

    pick_queued: Any
    pick_suspect: Any
    mark_running: Any
    claim_oldest: Any
    written_here: Any
    release_unstarted: Any
    insert_ids: Any
    insert_keyed: Any
    ids_by_key: Any
    write_outcome: Any
    insert_file: Any
    insert_email: Any
    retry_later: Any
    insert_attempt: Any


def _due() -> Any:
    return sa.or_(tasks.c.run_at.is_(None),
                  tasks.c.run_at <= sa.bindparam("now", type_=UtcDateTime))


def _started_here() -> dict[str, Any]:
    return {"status": RUNNING, "owner": sa.bindparam("owner"),
            "started_at": sa.bindparam("now", type_=UtcDateTime),
            "attempts": tasks.c.attempts + 1, "progress_percent": None,
            "progress_message": None}


def _claim_oldest(oldest: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        # PostgreSQL may run an `IN (SELECT ... LIMIT n SKIP LOCKED)` subquery more than
        # once, each time skipping the rows it locked itself; a CTE that locks is run once.
        picked = oldest.cte("picked")
        return (tasks.update().where(tasks.c.id == picked.c.id, tasks.c.status == QUEUED)
                .values(**_started_here()).returning(*CLAIMED_COLUMNS))
    return (tasks.update()
            .where(tasks.c.id.in_(oldest.scalar_subquery()), tasks.c.status == QUEUED)
            .values(**_started_here()).returning(*CLAIMED_COLUMNS))


def build_hot_statements(dialect: str = "sqlite") -> HotStatements:
    """Build the statements for `dialect` (parameters are named after what they hold)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    oldest = (sa.select(tasks.c.id)
              .where(tasks.c.status == QUEUED,
                     tasks.c.name.in_(sa.bindparam("names", expanding=True)), _due(),
                     tasks.c.interruptions == 0)
              .order_by(tasks.c.sort_key, tasks.c.id).limit(sa.bindparam("limit"))
              .with_for_update(skip_locked=True))
    return HotStatements(
        # Oldest first among the names with room; SQLite ignores FOR UPDATE (one writer).
        # Due first, by sort key (time, less a head start per priority point), then id.
        pick_queued=(sa.select(tasks.c.id, tasks.c.name, tasks.c.sort_key)
                     .where(tasks.c.status == QUEUED,
                            tasks.c.name.in_(sa.bindparam("names", expanding=True)),
                            _due(), tasks.c.interruptions == 0,
                            sa.tuple_(tasks.c.sort_key, tasks.c.id) > sa.tuple_(
                                sa.bindparam("after_key", type_=sa.Float),
                                sa.bindparam("after_id", type_=sa.Integer)))
                     .order_by(tasks.c.sort_key, tasks.c.id).limit(sa.bindparam("page_size"))
                     .with_for_update(skip_locked=True)),
        # One run that an earlier crash interrupted (a suspect), oldest first (its own index).
        pick_suspect=(sa.select(tasks.c.id)
                      .where(tasks.c.status == QUEUED, tasks.c.interruptions > 0,
                             tasks.c.name.in_(sa.bindparam("names", expanding=True)), _due())
                      .order_by(tasks.c.sort_key, tasks.c.id).limit(1)
                      .with_for_update(skip_locked=True)),
        mark_running=(tasks.update()
                      .where(tasks.c.id.in_(sa.bindparam("ids", expanding=True)),
                             tasks.c.status == QUEUED)
                      .values(**_started_here())
                      .returning(*CLAIMED_COLUMNS)),
        # Pick and start in one statement, when no name is held back by its own limit.
        claim_oldest=_claim_oldest(oldest, dialect),
        # After a finish wrote fewer rows than it had outcomes: which ones it wrote.
        written_here=(sa.select(tasks.c.id, tasks.c.status, tasks.c.attempts)
                      .where(tasks.c.id.in_(sa.bindparam("ids", expanding=True)),
                             tasks.c.owner == sa.bindparam("owner"))),
        # Claimed here but never started: queued again, the attempt not counted.
        release_unstarted=(tasks.update()
                           .where(tasks.c.id == sa.bindparam("b_id"),
                                  tasks.c.status == RUNNING,
                                  tasks.c.owner == sa.bindparam("b_owner"),
                                  tasks.c.attempts == sa.bindparam("b_attempt"))
                           .values(status=QUEUED, owner=None, started_at=None,
                                   attempts=tasks.c.attempts - 1)),
        insert_ids=tasks.insert().returning(tasks.c.id, sort_by_parameter_order=True),
        insert_keyed=(insert(tasks).on_conflict_do_nothing(index_elements=["idempotency_key"])
                      .returning(tasks.c.id)),
        ids_by_key=(sa.select(tasks.c.idempotency_key, tasks.c.id)
                    .where(tasks.c.idempotency_key.in_(sa.bindparam("keys", expanding=True)))),
        write_outcome=(tasks.update()
                       .where(tasks.c.id == sa.bindparam("b_id"), tasks.c.status == RUNNING,
                              tasks.c.owner == sa.bindparam("b_owner"),
                              tasks.c.attempts == sa.bindparam("b_attempt"))
                       .values(status=sa.bindparam("b_status"),
                               result=sa.bindparam("b_result"),
                               error_type=sa.bindparam("b_error_type"),
                               error_message=sa.bindparam("b_error_message"),
                               error_traceback=sa.bindparam("b_error_traceback"),
                               started_at=sa.func.coalesce(
                                   sa.bindparam("b_started_at", type_=UtcDateTime),
                                   tasks.c.started_at),
                               finished_at=sa.bindparam("b_finished_at", type_=UtcDateTime))),
        insert_file=task_files.insert(),
        insert_email=outbox.insert(),
        # A failed attempt with retries left: queued again, due at `b_retry_at`.
        retry_later=(tasks.update()
                     .where(tasks.c.id == sa.bindparam("b_id"), tasks.c.status == RUNNING,
                            tasks.c.owner == sa.bindparam("b_owner"),
                            tasks.c.attempts == sa.bindparam("b_attempt"))
                     .values(status=QUEUED, owner=None, started_at=None,
                             run_at=sa.bindparam("b_retry_at", type_=UtcDateTime),
                             sort_key=sa.bindparam("b_retry_ts", type_=sa.Float)
                             - tasks.c.priority * sa.bindparam("b_step", type_=sa.Float),
                             error_type=sa.bindparam("b_error_type"),
                             error_message=sa.bindparam("b_error_message"),
                             error_traceback=sa.bindparam("b_error_traceback"))),
        insert_attempt=task_attempts.insert(),
    )
