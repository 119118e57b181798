"""The dispatcher's turn: finish, claim and add in one transaction.

A turn stores the outcomes of the runs that returned, claims queued records for the slots
and the prefetch that are free, and adds the tasks submitted meanwhile, some of them already
running when nothing older could be claimed. Every status change is one of `transitions`';
this module only puts them together so that one commit (one fsync) serves them all.

The outcomes' records come from the claim that started them, so the finish needs no read
first: a guarded `UPDATE` (this owner, this attempt, still running) writes each, and only
when the row count falls short does a read find which were no longer this server's.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..interfaces import NewTask, Turn, TurnResult
from ..records import TaskRecord, TaskStatus
from . import transitions
from .access import insert_audit
from .hot_path import CoreHotPath
from .rows import claimed_record

CLAIM_PAGE_FACTOR = 4
RUNNING = TaskStatus.RUNNING


def run_turn(conn: sa.Connection, hot: CoreHotPath, turn: Turn, owner: str,
             now: datetime.datetime, *, narrow: Any = None) -> tuple[TurnResult, list[int]]:
    """Run `turn` in the caller's transaction. `narrow(conn, room, total)` narrows the room
    to what a cluster's limits leave (under its claim lock). Returns the result, and the ids
    stored under an idempotency key used before (their records are for the caller to read)."""
    finished = transitions.finish_claimed(conn, hot, turn.finished, owner, now)
    room, total = turn.room, turn.total
    if narrow is not None and total > 0:
        room, total = narrow(conn, room, total)
    suspect = start_a_suspect(conn, hot, room, owner, now) if turn.suspect and total else []
    if suspect:
        room = {**room, suspect[0].name: room[suspect[0].name] - 1}
        total -= 1
    claimed = pick_and_start(conn, hot, room, total, owner, now) if turn.look and total else []
    left = {name: slots for name, slots in room.items() if slots > 0}
    for record in claimed:
        left[record.name] = left.get(record.name, 0) - 1
    # Drained: it took less than it was allowed, and no name took all its room (more of
    # that one may be queued, though the total had room to spare).
    drained = not turn.look or (len(claimed) < total
                                and all(left[record.name] > 0 for record in claimed))
    free = total - len(claimed)
    added, started, earlier = _add(conn, hot, turn.new, owner, now,
                                   left if drained else {}, free if drained else 0)
    queued = finished.queued or any(
        record.status is TaskStatus.QUEUED and (record.run_at is None or record.run_at <= now)
        for record in added)
    next_due = min((record.run_at for record in added
                    if record.status is TaskStatus.QUEUED and record.run_at is not None
                    and record.run_at > now), default=None)
    if finished.next_due is not None:
        next_due = finished.next_due if next_due is None else min(next_due, finished.next_due)
    return TurnResult(added=added, started=suspect + claimed + started, drained=drained,
                      queued=queued, next_due=next_due, dropped=finished.dropped,
                      suspect_started=bool(suspect)), earlier


def start_a_suspect(conn: sa.Connection, hot: CoreHotPath, room: Mapping[str, int],
                    owner: str, now: datetime.datetime) -> list[TaskRecord]:
    """QUEUED → RUNNING: the oldest due record of a run that a crash interrupted (a
    suspect: it may be what killed its server), of a name with room; [] if none. The other
    claims leave suspects alone, so that one runs at a time here."""
    names = [name for name, slots in room.items() if slots > 0]
    if not names:
        return []
    task_id = conn.execute(hot.statements.pick_suspect,
                           {"names": names, "now": now}).scalar_one_or_none()
    if task_id is None:
        return []
    rows = conn.execute(hot.statements.mark_running,
                        {"ids": [task_id], "owner": owner, "now": now}).all()
    return [claimed_record(row, owner, now) for row in rows]


def pick_and_start(conn: sa.Connection, hot: CoreHotPath, room: Mapping[str, int],
                   total: int, owner: str, now: datetime.datetime) -> list[TaskRecord]:
    """QUEUED → RUNNING: up to `total` of the oldest due records, at most `room[name]` of a
    name; their records, oldest first."""
    room = {name: min(slots, total) for name, slots in room.items() if slots > 0}
    if not room:
        return []
    # No more than the names' rooms allow in all: with one name (the common case under a
    # limit) this makes the one statement below apply rather than a pick and an update.
    total = min(total, sum(room.values()))
    if all(slots >= total for slots in room.values()):
        # No name is held back by its own limit: one statement picks and starts them.
        rows = hot.claim_oldest(conn, list(room), now, owner, total)
    else:
        ids = _pick_within_room(conn, hot, room, total, now)
        rows = list(conn.execute(hot.statements.mark_running, {
            "ids": ids, "owner": owner, "now": now}).all()) if ids else []
    # UPDATE ... RETURNING gives rows in no set order.
    return [claimed_record(row, owner, now)
            for row in sorted(rows, key=lambda row: (row[-1], row[0]))]  # sort key, id


def _pick_within_room(conn: sa.Connection, hot: CoreHotPath, room: Mapping[str, int],
                      total: int, now: datetime.datetime) -> list[int]:
    remaining = dict(room)
    picked: list[int] = []
    after_key, after_id, page_size = -math.inf, 0, max(total * CLAIM_PAGE_FACTOR, 16)
    while remaining and len(picked) < total:
        page = conn.execute(hot.statements.pick_queued,
                            {"names": list(remaining), "after_key": after_key,
                             "after_id": after_id, "page_size": page_size, "now": now}).all()
        for task_id, name, _ in page:
            if remaining.get(name, 0) > 0:
                picked.append(task_id)
                remaining[name] -= 1
                if remaining[name] == 0:
                    del remaining[name]
                if len(picked) == total:
                    break
        if len(page) < page_size:
            break
        after_key, after_id = page[-1].sort_key, page[-1].id
    return picked


def _add(conn: sa.Connection, hot: CoreHotPath, new: Sequence[NewTask], owner: str,
         now: datetime.datetime, left: dict[str, int], free: int
         ) -> tuple[list[TaskRecord], list[TaskRecord], list[int]]:
    """new → QUEUED, or RUNNING here while `left` and `free` allow. The records in order
    (a placeholder for one stored before under its idempotency key), those started, and the
    ids of the ones stored before."""
    if not new:
        return [], [], []
    keys = [task.options.idempotency_key for task in new
            if task.options.idempotency_key is not None]
    by_key: dict[str, int] = dict(conn.execute(hot.statements.ids_by_key, {"keys": keys}).all()) \
        if keys else {}
    records: dict[int, TaskRecord] = {}  # by position in `new`: the rows inserted now
    earlier: dict[int, int] = {}  # position → id stored before under its key
    repeats: dict[int, int] = {}  # position → position of the same key earlier in `new`
    first_of_key: dict[str, int] = {}
    plain: list[tuple[int, dict[str, Any]]] = []
    keyed: list[tuple[int, dict[str, Any]]] = []
    for index, task in enumerate(new):
        key = task.options.idempotency_key
        if key is not None:
            if key in by_key:
                earlier[index] = by_key[key]
                continue
            if key in first_of_key:
                repeats[index] = first_of_key[key]
                continue
            first_of_key[key] = index
        row = transitions.new_task_row(task, now)
        if task.may_start and free > 0 and left.get(task.name, 0) > 0 \
                and not transitions.is_delayed_row(row, now):
            row = transitions.running_row(row, owner, now)
            free -= 1
            left[task.name] -= 1
        (plain if key is None else keyed).append((index, row))
    if plain:
        ids = transitions.insert_task_ids(conn, hot, [row for _, row in plain])
        for (index, row), task_id in zip(plain, ids, strict=True):
            records[index] = transitions.new_record(task_id, row, new[index])
    for index, row in keyed:
        inserted = transitions.insert_keyed(conn, hot, row)
        if inserted is None:  # another server stored the key in between (PostgreSQL)
            earlier[index] = conn.execute(hot.statements.ids_by_key,
                                          {"keys": [row["idempotency_key"]]}).one()[1]
        else:
            records[index] = transitions.new_record(inserted, row, new[index])
    insert_audit(conn, [transitions.launch_audit(new[index].actor, record)
                        for index, record in records.items() if new[index].actor is not None])
    for index, first in repeats.items():
        if first in records:
            records[index] = records[first]
        else:
            earlier[index] = earlier[first]
    result = [records[index] if index in records else _placeholder(earlier[index], task)
              for index, task in enumerate(new)]
    started = sorted({record.id: record for record in records.values()
                      if record.status is RUNNING}.values(), key=lambda record: record.id)
    return result, started, sorted(set(earlier.values()))


def _placeholder(task_id: int, task: NewTask) -> TaskRecord:
    """Stands for the record stored earlier under a key until the caller reads it."""
    return TaskRecord(id=task_id, name=task.name, params=task.params,
                      status=TaskStatus.QUEUED, idempotency_key=task.options.idempotency_key)
