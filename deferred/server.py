"""`Server`: builds the store, the dispatcher and the HTTP app, and starts, stops and recovers
them."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .background import BackgroundThread
from .config import Config, parse_config
from .errors import StoreError
from .links import listener_base_url
from .runtime.dispatcher import Dispatcher
from .tasks.context import TaskContext
from .tasks.handle import TaskHandle
from .runtime.heartbeat import Heartbeat
from .runtime.interrupted import on_finished, on_requeued, report_interrupted
from .http import HttpServer, make_app
from .http.exposure import check_exposure
from .mail import SmtpMailer
from .mail.outbox import OutboxSender
from .runtime.metrics import Metrics
from .runtime.quotas import Quotas
from .records import TaskRecord, TaskStatus
from .tasks.registry import TaskRegistry, default_registry
from .runtime.runner import run_record
from .runtime.retention import Retention
from .runtime.stats_keeper import StatsKeeper
from .scheduling.scheduler import Scheduler
from .scheduling.options import submit_options
from .runtime.service import LocalTaskService
from .runtime.signals import StopSignals, stop_unless_signalled
from .runtime.waiters import Waiters
from .store import SqlTaskStore, WakeupListener
from .store.stats_rollup import SPANS

logger = logging.getLogger(__name__)

STOP_WAIT_S = 5.0  # how long the HTTP server may take to finish answering at stop
SIGNAL_POLL_S = 1.0  # a signal or request_stop() wakes the main loop at once anyway
HTTP_THREADS = 32  # a submit waiting for its result holds a thread for up to sync_wait_s


class _Parts:
    """What a started server is made of, stopped in reverse order."""

    def __init__(self, store: SqlTaskStore, service: LocalTaskService, dispatcher: Dispatcher,
                 sender: OutboxSender, app: Any, http: HttpServer | None,
                 heartbeat: Heartbeat, listener: WakeupListener | None,
                 chores: Sequence[BackgroundThread]) -> None:
        self.store, self.service, self.dispatcher = store, service, dispatcher
        self.sender, self.app, self.http = sender, app, http
        self.heartbeat, self.listener = heartbeat, listener  # a listener on PostgreSQL only
        self.chores = chores  # the scheduler, retention and the statistics, in start order


class Server:
    """A durable task server: tasks submitted over HTTP or from Python are stored, run on a
    thread pool under the configured quotas, and started again after a crash.

    `config` is a `Config`, a mapping shaped like `config.json`, or None for the defaults.
    Embed it with `start()` / `stop()`, or `start(listen=False)` and mount `wsgi_app` in an
    existing WSGI application. Raises `ConfigError` for a bad config.
    """

    def __init__(self, config: Config | Mapping[str, Any] | None = None,
                 registry: TaskRegistry | None = None) -> None:
        if config is None:
            config = Config()
        elif not isinstance(config, Config):
            config = parse_config(config, source="Server(config)")
        self.config: Config = config
        self.registry = default_registry if registry is None else registry
        self._parts: _Parts | None = None
        self._stopping: _Parts | None = None  # while stop() runs
        self._state_lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._signals: StopSignals | None = None  # while serve_forever() runs

    def start(self, *, listen: bool = True) -> None:
        """Open the store, queue again what an earlier run left running, start the dispatcher
        and (with `listen`) the HTTP server. Raises `DeferredError` when it cannot start."""
        with self._state_lock:
            if self._parts is not None:
                raise RuntimeError("the server is already started")
            self._warn_about_unknown_limits()
            if listen:
                check_exposure(self.config)
            self.registry.attach_server(self)
            try:
                store = SqlTaskStore(self.config.db, exclusive=True, limits=self.config.limits,
                                     recovery=self.config.recovery)
            except BaseException:
                self.registry.detach_server(self)
                raise
            try:
                parts = self._build(store, listen)
                self._start_threads(parts)
            except BaseException:
                store.close()
                self.registry.detach_server(self)
                raise
            self._parts = parts

    def _build(self, store: SqlTaskStore, listen: bool) -> _Parts:
        store.join()  # first: a server with a fresh heartbeat is not an orphan's owner
        metrics, waiters, mail_wake = Metrics(), Waiters(), threading.Event()
        report_interrupted(store.requeue_running(), metrics)
        if store.outbox.requeue_interrupted():
            logger.warning("emails interrupted while being sent are queued again; they may "
                           "arrive twice")
        self._warn_about_unknown_queued(store)
        config = self.config
        quotas = Quotas(config.limits.pool_size, config.limits.names, self.registry)
        dispatcher = Dispatcher(
            store, quotas, functools.partial(run_record, self.registry,
                                             max_result_bytes=config.max_result_bytes),
            # Across a cluster the store keeps what is taken ahead within this server's
            # share of each limit (`cluster.cluster_room`).
            prefetch=config.limits.prefetch_size,
            shared=store.is_shared, timeout_of=self._timeout_of, metrics=metrics,
            on_finished=functools.partial(on_finished, waiters, mail_wake),
            submit_follow_up=self._submit_follow_up)
        service = LocalTaskService(store, self.registry, config.limits, dispatcher, waiters,
                                   retention_s=config.retention_s, metrics=metrics)
        # Waiting submits must leave request threads free for everything else.
        app = make_app(service, store, store.access, config.http, config.auth,
                       max_waiting=HTTP_THREADS - 8)
        http = None
        if listen:
            http = HttpServer(app, config.http.host, config.http.port, threads=HTTP_THREADS,
                              max_body_bytes=config.http.max_body_bytes,
                              trusted_proxy=config.http.trusted_proxy)
        sender = OutboxSender(store.outbox, SmtpMailer(config.smtp), config.smtp,
                              functools.partial(self._base_url, http), wake=mail_wake)
        # Every server keeps its row's heartbeat fresh (the servers page); only on a shared
        # database does the heartbeat also take over the running tasks of dead servers.
        heartbeat = Heartbeat(store, config.db.heartbeat_s, functools.partial(
            on_requeued, metrics, dispatcher.notify) if store.is_shared else None)
        listener = (WakeupListener(store.url, dispatcher.notify,
                                   on_pauses=dispatcher.look_at_pauses)
                    if store.is_shared else None)
        scheduler = Scheduler(store, {task_class.name: task_class.schedule
                                      for task_class in self.registry
                                      if task_class.schedule is not None}, dispatcher.notify)
        retention = Retention(store, config.retention_s, {
            task_class.name: task_class.ttl_s for task_class in self.registry
            if task_class.ttl_s is not None})
        stats = StatsKeeper(store.stats, SPANS,
                            lambda: [task_class.name for task_class in self.registry])
        return _Parts(store, service, dispatcher, sender, app, http, heartbeat, listener,
                      (scheduler, retention, stats))

    def _timeout_of(self, record: TaskRecord) -> float | None:
        """A run's time limit: its submit's own, else its task's, else none."""
        if record.timeout_s is not None:
            return record.timeout_s
        task_class = self.registry.find(record.name)
        return None if task_class is None else task_class.timeout_s

    def _base_url(self, http: HttpServer | None) -> str:
        """The base of links in emails (see `listener_base_url`)."""
        port = http.port if http is not None else self.config.http.port
        return listener_base_url(self.config.http.public_url, self.config.http.host, port)

    def _start_threads(self, parts: _Parts) -> None:
        # The listener after the dispatcher: a request it answers finds tasks running. The
        # mailer after the listener: its links name the port the listener took.
        parts.dispatcher.start()
        parts.heartbeat.start()
        if parts.listener is not None:
            parts.listener.start()
        for chore in parts.chores:
            chore.start()
        if parts.http is not None:
            try:
                parts.http.start()
            except BaseException:  # the port is taken, say: stop what started
                self._stop_threads(parts, grace_s=0.0, sender_started=False)
                raise
        parts.sender.start()
        limits = self.config.limits
        logger.info("server started: %s, limits %d in total%s", parts.store.dialect,
                    limits.global_limit, "".join(f", {name} {limit}"
                                                 for name, limit in limits.names.items()))

    def _warn_about_unknown_queued(self, store: SqlTaskStore) -> None:
        for (name, status), count in sorted(store.pending_counts().items()):
            if status is TaskStatus.QUEUED and name not in self.registry:
                logger.warning("%d queued tasks named %r wait for a server that has this task; "
                               "this one has not", count, name)

    def _warn_about_unknown_limits(self) -> None:
        for name in self.config.limits.names:
            if name not in self.registry:
                logger.warning("limits.names.%s: no task of that name is registered", name)

    def _require(self) -> _Parts:
        parts = self._parts
        if parts is None:
            raise RuntimeError("the server is not started; call start() first")
        return parts

    def _service(self) -> LocalTaskService:
        """The service of the started server; while `stop()` runs, the closed one, which
        refuses new work with `ShuttingDownError`."""
        parts = self._parts or self._stopping
        if parts is None:
            raise RuntimeError("the server is not started; call start() first")
        return parts.service

    @property
    def wsgi_app(self) -> Any:
        """The WSGI application (the API), to mount elsewhere after `start(listen=False)`."""
        return self._require().app

    def _listener(self) -> HttpServer:
        http = self._require().http
        if http is None:
            raise RuntimeError("the server was started without its own HTTP listener")
        return http

    @property
    def port(self) -> int:
        """The port the HTTP server listens on (the real one when 0 was asked for)."""
        return self._listener().port

    @property
    def url(self) -> str:
        """`http://HOST:PORT` of the HTTP listener."""
        return self._listener().url

    def submit(self, task_name: str, params: Mapping[str, Any] | None = None,
               email: str | None = None, *, delay_s: float | None = None,
               run_at: datetime.datetime | str | None = None, priority: int = 0,
               idempotency_key: str | None = None, timeout_s: float | None = None,
               parent_id: int | None = None) -> TaskHandle:
        """Check and store a task; return its handle once it is committed. It starts no
        sooner than `delay_s` from now or `run_at` (aware, or ISO 8601 with a zone), before
        queued tasks of lower `priority`; a repeated `idempotency_key` returns the first
        task's handle. `parent_id` links a follow-up to the task that submitted it.

        Raises `UnknownTaskError`, `InvalidParamsError`, `BadRequestError` and the store's
        errors.
        """
        service = self._service()
        options = dataclasses.replace(
            submit_options(delay_s=delay_s, run_at=run_at, priority=priority,
                           idempotency_key=idempotency_key, timeout_s=timeout_s),
            parent_id=parent_id)
        return TaskHandle(service, service.submit(task_name, params, email, options))

    def _submit_follow_up(self, context: TaskContext, task_name: str,
                          params: Mapping[str, Any] | None, options: Mapping[str, Any]) -> int:
        """A running task's `deferred.current().submit(...)`: the path of `task.delay()`."""
        return self.submit(task_name, params, **options, parent_id=context.task_id).id

    def chain(self, *steps: tuple[str, Mapping[str, Any] | None],
              email: str | None = None) -> TaskHandle:
        """Run tasks one after another, each once the one before succeeded:
        `server.chain(("fetch", {"url": u}), ("parse", {}))`. All are checked now; returns
        the first one's handle (each record links to the one before)."""
        service = self._service()
        return TaskHandle(service, service.submit_chain(list(steps), email))

    def retry(self, task_id: int) -> TaskHandle:
        """Queue a failed or cancelled task again, keeping its history. Raises
        `NotFoundError` and `BadRequestError`."""
        service = self._service()
        return TaskHandle(service, service.retry(task_id))

    def cancel(self, task_id: int) -> TaskHandle:
        """Cancel a queued or delayed task at once, or ask a running one to stop. Raises
        `NotFoundError`."""
        service = self._service()
        return TaskHandle(service, service.cancel(task_id))

    def pause(self, name: str) -> None:
        """Pause the task type `name` on every server of the database, kept across restarts:
        none of its tasks starts after this returns until `resume(name)` (running ones
        finish; submits are still stored). Raises `UnknownTaskError`."""
        self._service().pause(name)

    def resume(self, name: str) -> None:
        """Resume the paused task type `name`: its queued tasks start. Raises
        `UnknownTaskError`."""
        self._service().resume(name)

    def stop(self, grace_s: float | None = None) -> bool:
        """Take no new work, give running tasks `grace_s` (default `shutdown_grace_s`), store
        what finished and close. Meanwhile the HTTP listener still answers: submits get 503
        (`ShuttingDownError`), reads are served; it closes once the running tasks finished
        or their grace ran out. True if every running task finished in time; those that did
        not keep their RUNNING rows and run again at the next start."""
        with self._state_lock:
            parts = self._parts
            if parts is None:
                return True
            # `_stopping` first: `_service()` reads both without the lock, and must not find
            # neither (a submit would be told the server never started).
            self._stopping, self._parts = parts, None
        try:
            return self._stop(parts, grace_s)
        finally:
            self._stopping = None

    def _stop(self, parts: _Parts, grace_s: float | None) -> bool:
        self.registry.detach_server(self)
        grace_s = self.config.shutdown_grace_s if grace_s is None else grace_s
        # Intake first (not the reverse of start order): no new work may arrive while the
        # running tasks use their grace. The listener last but the store: during the grace
        # it refuses submits with 503 and serves reads, so clients and load balancers see a
        # server that is stopping rather than a refused connection.
        parts.service.close()
        try:
            parts.store.mark_stopping()  # the servers page shows it stopping
        except StoreError as exc:  # the database is down: the stop goes on without it
            logger.warning("could not mark this server as stopping in deferred_servers (%s)",
                           exc)
        finished = self._stop_threads(parts, grace_s, listener=parts.http)
        parts.store.close()
        if finished:
            logger.info("server stopped")
        else:
            logger.warning("server stopped with tasks still running; they run again at the "
                           "next start")
        return finished

    @staticmethod
    def _stop_threads(parts: _Parts, grace_s: float, *, sender_started: bool = True,
                      listener: HttpServer | None = None) -> bool:
        """Stop every thread, the HTTP `listener` (if given) once the running tasks are done;
        True if they finished within `grace_s`."""
        for chore in parts.chores:
            chore.stop()
        finished = parts.dispatcher.stop(grace_s)
        if listener is not None:
            listener.stop(STOP_WAIT_S)
        if sender_started and not parts.sender.stop(grace_s + STOP_WAIT_S):
            logger.warning("the mailer thread is still sending; its email goes again at the "
                           "next start")
        if parts.listener is not None:
            parts.listener.stop()
        parts.heartbeat.stop()  # last: the row says "stopping", not dead, until the end
        return finished

    def request_stop(self) -> None:
        """Make `serve_forever()` stop, as a first signal does (from any thread)."""
        self._stop_requested.set()
        signals = self._signals
        if signals is not None:
            signals.wake()

    def serve_forever(self, on_started: Callable[[Server], None] | None = None) -> bool:
        """Start, run until SIGINT or SIGTERM (or `request_stop()`), then stop.

        A first signal stops intake and gives running tasks `shutdown_grace_s`; a second one
        ends the process at once. Signal handlers are installed only when called from the
        main thread (Python delivers signals there); elsewhere use `request_stop()`. Returns
        what `stop()` returned; stops the server before raising if anything fails.
        """
        with StopSignals() as signals:
            self._signals = signals
            try:
                self.start()
                try:
                    if on_started is not None:
                        on_started(self)
                    while not self._stop_requested.is_set() and not signals.count:
                        signals.wait(SIGNAL_POLL_S)
                except BaseException:
                    self.stop()
                    raise
                logger.info("stopping: no new tasks, %.1fs for running ones",
                            self.config.shutdown_grace_s)
                return stop_unless_signalled(self.stop, signals, SIGNAL_POLL_S)
            finally:
                self._signals = None
