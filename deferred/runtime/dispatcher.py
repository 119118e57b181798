"""`Dispatcher`: turns that store what finished, claim what may run and add what was
submitted, each one transaction; and the workers that run what the turns claimed."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Sequence

from ..errors import StoreFullError, StoreRejectedError, StoreUnavailableError, one_line
from ..interfaces import NewTask, TaskStore, Turn, TurnResult
from ..records import Outcome, TaskRecord, utcnow
from ..group_commit import GroupCommitter
from ..tasks.context import TaskContext
from .intake import Intake
from .metrics import Metrics
from .quotas import Quotas
from .claim_room import claim_room
from .pauses import PAUSE_FENCE_S, PauseWatch
from .ready import ReadyRuns
from .runner import log_stored
from .runs import Finished, FollowUpSubmitter, Runs, unstorable
from .suspects import Suspects
from .workers import Workers

logger = logging.getLogger(__name__)

POLL_S = 1.0  # finds rows added by other servers; this server's own writes need no poll
CANCEL_CHECK_S = 0.5  # how often the cancel requests of running tasks are read
RETRY_S = 1.0  # after the store failed
JOIN_S = 30.0
WORKERS_JOIN_S = 1.0  # after the grace: how long to wait for worker threads to end

_Slot = NewTask | None  # a submit's task, or None for a turn of the dispatcher's own
_Answer = TaskRecord | BaseException | None


class Dispatcher:
    """Runs records on `quotas.global_limit` worker threads, claiming them in turns.

    A turn is one transaction: it stores the outcomes of the runs that returned, claims
    queued records for the free workers and up to `prefetch` more (each RUNNING here, its
    attempt counted), and adds the tasks submitted meanwhile. Whoever finds no turn under
    way leads the next one, a submitter or the dispatcher thread, so concurrent submits and
    finishes share one commit, and an idle server starts a submit with that one commit.

    A worker that is done takes the next claimed record at once; limits count what runs, so
    a record of a name at its limit waits. A crash before a turn's commit runs its tasks
    again; a stop queues the records claimed ahead again, their attempt not counted, and so
    does a pause of their task type (see `pauses_changed`).
    """

    def __init__(self, store: TaskStore, quotas: Quotas,
                 run: Callable[[TaskRecord, TaskContext], Outcome], *, prefetch: int = 0,
                 poll_s: float = POLL_S, shared: bool = False,
                 timeout_of: Callable[[TaskRecord], float | None] = lambda record: None,
                 metrics: Metrics | None = None,
                 on_finished: Callable[[Sequence[Outcome]], None] = lambda outcomes: None,
                 submit_follow_up: FollowUpSubmitter | None = None) -> None:
        """`shared`: other servers use the database too, so every turn looks for queued
        records and the dispatcher polls. `on_finished` is called with each batch of
        outcomes once it is committed; `submit_follow_up` is how a running task submits
        follow-ups (none: it cannot)."""
        self._store, self._quotas = store, quotas
        self._prefetch, self._poll_s, self._shared = prefetch, poll_s, shared
        self._on_finished_callback = on_finished
        self._wake, self._stopping = threading.Event(), threading.Event()
        # On a shared database another server's pause must stop what was claimed here.
        self._ready = ReadyRuns(quotas, fence_s=PAUSE_FENCE_S if shared else None,
                                on_stale=self._wake.set)
        self._runs = Runs(run, timeout_of=timeout_of, report_progress=self._report_progress,
                          submit_follow_up=submit_follow_up, metrics=metrics or Metrics(),
                          on_done=self._run_done)
        self._workers = Workers(quotas.global_limit, self._ready, self._runs.run)
        self._turns: GroupCommitter[_Slot, _Answer] = GroupCommitter(self._turn)
        self._intake = Intake()
        self._thread = threading.Thread(target=self._loop, name="deferred-dispatcher")
        # What this server knows of the queue between turns:
        self._maybe_queued = True  # something queued may be claimable: a turn must look
        self._claimable: dict[str, int] = {}  # the room of the latest claim, by name
        self._queue_epoch = 0  # counts the events that may have queued something
        self._next_due: datetime.datetime | None = None  # the earliest delayed record known
        self._due_unknown = True  # the store must be asked when the next delayed one is due
        self._polled_at = 0.0
        self._cancel_checked_at = 0.0
        self._suspects = Suspects()
        self._pauses = PauseWatch(store.pauses, self._ready, release=self._release,
                                  on_resumed=self.notify, shared=shared)

    # -- intake ---------------------------------------------------------------------------

    def start(self) -> None:
        """Read the paused task types, start the workers and the dispatcher thread."""
        self._pauses.read()
        self._workers.start()
        self._thread.start()

    def admit(self, task: NewTask) -> TaskRecord:
        """Store `task` in the next turn and return its record once committed: running here
        already when a worker is free (or may take it next) and nothing older could be
        claimed, else queued. Raises `ShuttingDownError` once `stop()` began, and the
        store's errors."""
        with self._intake.enter():
            answer = self._turns.submit(task)
        if isinstance(answer, BaseException):
            raise answer
        assert answer is not None
        return answer

    def notify(self, *, queued: bool = True) -> None:
        """There may be work: something was queued (a retry, a periodic task's firing,
        another server's submit) or a slot freed."""
        if queued:
            self._mark_queued()
            self._suspects.look_again()
        self._wake.set()

    def pauses_changed(self, committed_at: float | None = None) -> None:
        """A task type was paused or resumed here: read the pauses now (see `PauseWatch`).
        `committed_at`: the `time.monotonic()` after a pause committed; on a shared database
        this returns only once no server can start a task of its type any more."""
        self._pauses.read(committed_at)

    def look_at_pauses(self) -> None:
        """Another server paused or resumed a task type (its NOTIFY): the dispatcher thread
        reads the pauses again."""
        self._pauses.look_again()
        self._wake.set()

    def _mark_queued(self) -> None:
        self._queue_epoch += 1
        self._maybe_queued = True

    def request_cancel(self, task_id: int) -> None:
        """Tell the task `task_id`, if it runs here, that it was asked to stop; one claimed
        ahead and not started yet ends CANCELLED without running."""
        if self._runs.request_cancel(task_id):
            return
        record = self._ready.withdraw(task_id)
        if record is not None:
            self._suspects.ended(record.id)
            self._runs.cancelled_before_start(record)
            self._wake.set()

    def is_alive(self) -> bool:
        """True while the dispatcher thread runs."""
        return self._thread.is_alive()

    # -- turns ----------------------------------------------------------------------------

    def _claim_room(self) -> tuple[dict[str, int], int]:
        """What a turn may claim now (see `claim_room`): nothing once stopping."""
        if self._stopping.is_set():
            return {}, 0
        room, total = claim_room(self._quotas, self._ready, self._prefetch,
                                 self._runs.is_short)
        self._claimable = room  # a name left out is at its cap (see `_run_done`)
        return room, total

    def _turn(self, slots: Sequence[_Slot]) -> list[_Answer]:
        """One turn for a batch of submits (None: the dispatcher's own turn), in the thread
        that leads it. Never raises: a submit's answer is its record or its error."""
        new = [slot for slot in slots if slot is not None]
        epoch = self._queue_epoch
        finished = self._runs.take_finished() + self._runs.time_out_overdue()
        room, total = self._claim_room()
        look = self._shared or self._maybe_queued
        suspect = self._suspects.may_start_one()
        if not new and not finished and not (total and (look or suspect)):
            return [None] * len(slots)
        turn = Turn(finished=finished, new=new, room=room, total=total, look=look,
                    suspect=suspect)
        try:
            result = self._store.turn(turn)
        except StoreRejectedError as exc:
            if len(new) <= 1 and not finished:
                return [exc] * len(slots)
            return self._turn_apart(slots, turn)
        except Exception as exc:
            self._runs.put_back(finished)
            self._wake.set()
            return [exc] * len(slots)
        self._after_turn(turn, result, epoch)
        added = iter(result.added)
        return [next(added) if slot is not None else None for slot in slots]

    def _after_turn(self, turn: Turn, result: TurnResult, epoch: int | None = None) -> None:
        """Learn from a committed turn what is queued, start what it claimed, and tell the
        listeners what finished. `epoch`: the queue epoch when the turn began (None: the
        turn may not tell that nothing is left to claim)."""
        if result.queued or (turn.look and not result.drained):
            self._mark_queued()
        elif turn.look and epoch is not None and self._queue_epoch == epoch:
            # Nothing that could be claimed is left, and nothing was queued meanwhile.
            self._maybe_queued = False
        if result.next_due is not None and (self._next_due is None
                                            or result.next_due < self._next_due):
            self._next_due = result.next_due
            self._wake.set()  # the dispatcher thread may be asleep for longer than that
        if turn.suspect and not result.suspect_started:
            self._suspects.none_due()  # the next poll or due time looks again
        if result.paused is not None:  # first: what it claimed is checked against it
            self._pauses.learn(result.paused)
        self._suspects.claimed(result.started)
        refused = self._ready.put(result.started)
        if refused:  # claimed while the server began to stop, or of a type paused since
            self._release(refused)
        if turn.finished:
            log_stored(turn.finished, result.dropped)
            self._on_finished([outcome for outcome, _ in turn.finished])

    def _turn_apart(self, slots: Sequence[_Slot], turn: Turn) -> list[_Answer]:
        """After the database refused a turn: the outcomes and the claim first, then each
        submit alone, so that the one row refused fails alone."""
        answers: dict[int, _Answer] = {}
        rest = Turn(room=turn.room, total=turn.total, look=turn.look, suspect=turn.suspect)
        if turn.finished:
            self._store_one_by_one(list(turn.finished))
        try:
            result = self._store.turn(rest)
            self._after_turn(rest, result)
        except Exception as exc:  # the claim waits for the next turn
            logger.warning("claiming tasks failed (%s)", one_line(exc))
        for index, slot in enumerate(slots):
            if slot is None:
                continue
            alone = Turn(new=[slot], look=False)
            try:
                result = self._store.turn(alone)
            except Exception as exc:
                answers[index] = exc
                continue
            self._after_turn(alone, result)
            answers[index] = result.added[0]
        return [answers.get(index) for index in range(len(slots))]

    def _store_one_by_one(self, finished: list[Finished]) -> None:
        """After a refused turn: store each outcome alone, so that one the database refuses
        (a result too big for it) cannot block every other task. One refused alone is
        stored as a failure of its task; the others wait for the next turn if the database
        is down."""
        for outcome, record in finished:
            try:
                result = self._store.turn(Turn(finished=[(outcome, record)], look=False))
            except (StoreUnavailableError, StoreFullError):
                self._runs.put_back([(outcome, record)])
                continue
            except Exception as exc:
                replacement = unstorable(outcome, exc)
                try:
                    result = self._store.turn(Turn(finished=[(replacement, record)],
                                                   look=False))
                except Exception:
                    self._runs.put_back([(outcome, record)])
                    continue
                logger.error("the outcome of task %s cannot be stored (%s); stored as failed",
                             outcome.task_id, exc)
                outcome = replacement
            log_stored([(outcome, record)], result.dropped)
            self._on_finished([outcome])

    def _on_finished(self, outcomes: Sequence[Outcome]) -> None:
        try:
            self._on_finished_callback(outcomes)
        except Exception:
            logger.exception("a finished-task listener failed")

    # -- the dispatcher thread --------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception:  # a bug; a dispatcher that died would run nothing again
                logger.exception("the dispatcher failed; it carries on in %.1fs", RETRY_S)
                self._stopping.wait(RETRY_S)

    def _step(self) -> None:
        """One pass of the dispatcher thread: a turn if there is work, else a sleep."""
        self._wake.clear()  # before looking, so a notify() meanwhile is not lost
        self._pauses.read_if_wanted()
        self._pass_on_cancel_requests()
        self._note_the_time()
        _, total = self._claim_room()
        if self._polled_now():
            self._mark_queued()
        overdue = self._runs.until_deadline_s(self._poll_s) == 0.0  # the turn times it out
        if self._runs.has_finished() or overdue or (
                total and (self._maybe_queued or self._suspects.may_start_one())):
            answer = self._turns.submit(None)
            if isinstance(answer, BaseException):
                logger.warning("storing and claiming tasks failed (%s); trying again in "
                               "%.1fs", one_line(answer), RETRY_S)
                self._stopping.wait(RETRY_S)
            return
        if self._due_unknown:
            self._read_next_due()
        self._wake.wait(self._runs.until_deadline_s(self._idle_wait_s()))

    def _note_the_time(self) -> None:
        """A delayed record falls due: a turn must look."""
        if self._next_due is not None and self._next_due <= utcnow():
            self._next_due = None
            self._maybe_queued = True
            self._suspects.look_again()
            self._due_unknown = True  # others may be due later: ask once this is claimed

    def _polled_now(self) -> bool:
        """True once per poll interval: another server's submits wake no one here, and on
        one server a look now and then costs next to nothing."""
        now = time.monotonic()
        if now - self._polled_at < self._poll_s:
            return False
        self._polled_at = now
        self._due_unknown = True
        self._suspects.look_again()
        return True

    def _read_next_due(self) -> None:
        try:
            due = self._store.next_run_at()
        except Exception:  # the store is down: the next turn says so
            return
        self._due_unknown = False
        if due is not None and (self._next_due is None or due < self._next_due):
            self._next_due = due

    def _idle_wait_s(self) -> float:
        """How long to sleep with nothing to do: until the next delayed record is due, or
        (on a shared database, and while the store is asked again) the poll interval."""
        wait_s = max(0.0, self._poll_s - (time.monotonic() - self._polled_at))
        if self._next_due is None:
            return wait_s
        return max(0.0, min(wait_s, (self._next_due - utcnow()).total_seconds()))

    def _pass_on_cancel_requests(self) -> None:
        """Cancel requests stored for tasks running here (from another server, too)."""
        now = time.monotonic()
        if now - self._cancel_checked_at < CANCEL_CHECK_S:
            return
        waiting = self._runs.not_yet_asked() + self._ready.ids()
        self._cancel_checked_at = now
        if not waiting:
            return
        try:
            asked = self._store.cancel_requests(waiting)
        except Exception:  # the store is down: the next turn asks again
            return
        for task_id in asked:
            self.request_cancel(task_id)

    # -- runs -----------------------------------------------------------------------------

    def _run_done(self, record: TaskRecord) -> None:
        """A worker's run ended: its slot is free, its outcome waits for a turn."""
        self._ready.done(record.name)
        self._suspects.ended(record.id)
        if record.name in self._quotas.name_limits or record.name not in self._claimable:
            self._mark_queued()  # records of a name at its limit (or cap) may wait queued
        self._wake.set()

    def _report_progress(self, record: TaskRecord, percent: float, message: str | None
                         ) -> None:
        # In the task's thread; a progress report that cannot be stored is not the task's
        # failure.
        try:
            self._store.set_progress(record.id, record.attempts, percent, message)
        except Exception as exc:
            logger.warning("progress of task %s not stored: %s", record.id, exc)

    # -- stop -----------------------------------------------------------------------------

    def stop(self, grace_s: float) -> bool:
        """Refuse new submits; claim nothing more; queue again what was claimed ahead; give
        running tasks `grace_s`, store what they produced.

        True if all of them finished. Those still running keep their RUNNING rows, which the
        next start queues again; their threads are left to the process's exit.
        """
        self._stopping.set()
        # A submit under way gets its answer before anything closes: its record is stored,
        # and runs in the grace or is queued for the next start. Later ones are refused.
        if not self._intake.close(JOIN_S):
            logger.warning("a submit still waits for the database after %.0fs; stopping "
                           "without its answer", JOIN_S)
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(JOIN_S)  # it never waits on task code: a turn at most
        self._release(self._ready.close())
        finished = self._quotas.wait_until_idle(grace_s)
        if not finished:
            self._runs.cancel_all()
        self._flush()
        self._workers.stop(WORKERS_JOIN_S if finished else 0.0)
        return finished

    def _release(self, unstarted: list[TaskRecord]) -> None:
        """Queue again records claimed ahead that will not start here."""
        if not unstarted:
            return
        for record in unstarted:
            self._suspects.ended(record.id)
        try:
            self._store.release(unstarted)
        except Exception as exc:  # they run again at the next start, as if interrupted
            logger.warning("could not queue %d tasks claimed ahead again (%s); they run at "
                           "the next start", len(unstarted), one_line(exc))

    def _flush(self) -> None:
        """Store the outcomes left, one turn, or each alone if that fails."""
        finished = self._runs.take_finished()
        if not finished:
            return
        try:
            result = self._store.turn(Turn(finished=finished, look=False))
        except Exception:
            self._store_one_by_one(finished)
            if self._runs.has_finished():
                logger.error("could not store every finished task; those not stored run "
                             "again at the next start")
            return
        log_stored(finished, result.dropped)
        self._on_finished([outcome for outcome, _ in finished])
