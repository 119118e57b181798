"""`HttpServer`: a WSGI app served by waitress in a thread that stops when asked.

This module is the one place that uses waitress's internals (pinned to waitress 3):
- waitress has no public stop. The task dispatcher is shut down first, which lets requests in
  flight finish, then every channel is closed from inside the loop thread (closing them from
  another thread raced), then the thread is joined. A test starts and stops a server many
  times with a keep-alive client connected to keep this honest.
- Its request threads are named and not daemons through the `_dispatcher` argument.
- Its own error answers (a body over the limit, a malformed request) are JSON through the
  server's `channel_class` and the channel's `error_task_class`.
- Its request parser lets a `ValueError` out for a Content-Length of more than 4300 digits
  (Python's limit on `int()`), which drops the connection without an answer: the channel's
  `parser_class` turns it into the parser's own "invalid" error, answered 400.
- A body over the limit is refused from its headers, and waitress then closes the connection
  with the body unread, which makes the kernel reset it: a client still sending saw a broken
  pipe instead of its 413. The channel reads and drops the declared body while the 413 goes
  out, shuts its sending side once the 413 is out, and closes once it has read the body; a
  body over `DISCARD_FACTOR` times the limit is cut off there.
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
import weakref
import time
from collections.abc import Callable
from typing import Any

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import RequestEntityTooLarge

from ..errors import BadRequestError, ConfigError, DeferredError, InternalError
from .jsonbody import too_large
from .representation import json_bytes

logger = logging.getLogger(__name__)

THREAD_NAME = "deferred-http"
_JOIN_AT_LEAST_S = 1.0  # the loop ends within one poll of the closing thunk
# A refused body up to this many times the limit (and at least MIN_DISCARD_BYTES) is read and
# dropped so that its client reads the 413; past that the connection is cut off.
DISCARD_FACTOR = 4
MIN_DISCARD_BYTES = 64 * 1024


class _NamedThreadDispatcher(ThreadedTaskDispatcher):
    """waitress's request threads, named `deferred-http-worker_N` and not daemons."""

    def start_new_thread(self, target: Callable[[int], None], thread_no: int) -> None:
        thread = threading.Thread(target=target, args=(thread_no,),
                                  name=f"{THREAD_NAME}-worker_{thread_no}")
        thread.start()


class _JsonErrorTask(ErrorTask):
    """waitress's own error answers (a body over the limit, a malformed request) in the
    API's JSON error shape rather than plain text."""

    def execute(self) -> None:
        error = self.request.error
        body = json_bytes(self._as_deferred_error(error.code, error.body).to_json())
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)

    def _as_deferred_error(self, status: int, text: str) -> DeferredError:
        if status == 413:
            limit = self.channel.server.adj.max_request_body_size - 1
            return too_large(limit, self.request.content_length or None)
        if status >= 500 and status != 501:
            return InternalError("internal error in deferred; the details are in the server log")
        return BadRequestError(" ".join(str(text).split()))


class _CheckedRequestParser(HTTPRequestParser):
    """waitress's request parser, refusing the headers it cannot convert instead of
    raising out of the connection. A body refused from its Content-Length is handed to
    `on_too_large(declared_bytes, bytes_already_here)`, which reads it from then on."""

    def __init__(self, adj: Any,
                 on_too_large: weakref.WeakMethod[Callable[[int, int], None]] | None = None
                 ) -> None:
        super().__init__(adj)
        self._on_too_large = on_too_large

    def received(self, data: bytes) -> int:
        """Parse what arrived; the number of bytes taken (all of them once the body is
        refused as too large: the rest of `data` is that body)."""
        consumed = super().received(data)
        on_too_large = self._on_too_large and self._on_too_large()
        if (on_too_large is not None and self.completed
                and isinstance(self.error, RequestEntityTooLarge) and not self.chunked
                and not self.expect_continue):  # a client that waits for 100 sends nothing
            self._on_too_large = None
            on_too_large(self.content_length, len(data) - consumed)
            return len(data)
        return consumed

    def parse_header(self, header_plus: bytes) -> None:
        try:
            super().parse_header(header_plus)
        except ValueError:  # int() of a Content-Length of thousands of digits, a bad URL
            raise ParsingError("the request line or a header (such as Content-Length) is "
                               "invalid") from None


class _JsonErrorChannel(HTTPChannel):
    """A waitress connection whose protocol errors answer in JSON, and which reads a body
    refused as too large (up to a bound) before it closes."""

    error_task_class = _JsonErrorTask

    def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Any,
                 map: Any = None) -> None:
        # Read by the loop thread only: how much of a refused body is still to be dropped
        # (None: none was refused; 0: dropped, close once the answer is out).
        self._discard_left: int | None = None
        self._answer_ended = False  # our side is shut once the 413 is out
        # A weak reference: a parser (one per request) holding its channel would make a
        # reference cycle per request, left to the garbage collector.
        self.parser_class = functools.partial(_CheckedRequestParser,
                                              on_too_large=weakref.WeakMethod(
                                                  self._discard_body))
        super().__init__(server, sock, addr, adj, map)

    def _discard_body(self, declared_bytes: int, here_bytes: int) -> None:
        limit = self.adj.max_request_body_size - 1
        bound = max(DISCARD_FACTOR * limit, MIN_DISCARD_BYTES)
        left = min(declared_bytes, bound) - here_bytes
        self._discard_left = max(left, 0) or None
        if self._discard_left:
            # Only this connection takes the slower methods that read on while the 413
            # goes out: waitress's loop asks every connection whether it is readable and
            # writable on each pass, and overriding them for all halved the rate of HTTP
            # submits (bench: http_submit).
            self.__class__ = _DiscardingChannel

    def received(self, data: bytes) -> bool:
        """Parse what arrived, or drop it while a refused body is read."""
        if self._discard_left is None:
            return bool(super().received(data))
        # Whatever follows the body is dropped too: the connection closes after the 413.
        self._discard_left = max(self._discard_left - len(data), 0)
        return True


class _DiscardingChannel(_JsonErrorChannel):
    """A connection reading and dropping a body refused as too large while its 413 goes
    out; it closes once the body is read (or the bound is reached)."""

    def readable(self) -> bool:
        """Read on while a refused body is still coming, even as the 413 goes out."""
        if self._discard_left:
            return not self.will_close
        return bool(super().readable())

    def writable(self) -> bool:
        """Until a refused body is read: only to send the answer and end it (the close
        waits)."""
        if self._discard_left:
            return bool(self.total_outbufs_len or self.will_close
                        or (self.close_when_flushed and not self._answer_ended))
        return bool(super().writable())

    def handle_write(self) -> None:
        """Send what is waiting; close when asked, but not before a refused body is read."""
        if not self._discard_left:
            super().handle_write()
            return
        self._flush_exception(self._flush_some_if_lockable if self.requests
                              else self._flush_some)
        if self.close_when_flushed and not self.total_outbufs_len and not self._answer_ended:
            # The answer is out: end our side, so that a client waiting for it before it
            # sends (or stops sending) the body sees the end instead of waiting for us.
            self._answer_ended = True
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                self.will_close = True
        if self.will_close:
            self.handle_close()


class HttpServer:
    """Serves a WSGI app on `host:port` (port 0 picks a free one) in a thread named
    `deferred-http`, with `threads` request threads.

    `max_body_bytes`, when given, makes waitress refuse a larger body from its headers,
    before reading it (the app never sees such a request).
    """

    def __init__(self, app: Callable[..., Any], host: str, port: int, threads: int = 8, *,
                 max_body_bytes: int | None = None, trusted_proxy: str | None = None) -> None:
        self._app, self._host, self._requested_port = app, host, port
        self._threads, self._max_body_bytes = threads, max_body_bytes
        self._trusted_proxy = trusted_proxy
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> None:
        """Bind and start serving. Raises `ConfigError` when the address cannot be used."""
        if self._server is not None or self._stopped:
            raise RuntimeError("an HttpServer starts once")
        sock = _bind(self._host, self._requested_port)
        limits: dict[str, Any] = ({} if self._max_body_bytes is None
                                  else {"max_request_body_size": self._max_body_bytes + 1})
        if self._trusted_proxy:
            # The client's address and scheme as the proxy saw them (for the audit log, the
            # login throttle and Secure cookies); these headers from anyone else are dropped.
            limits.update(trusted_proxy=self._trusted_proxy, trusted_proxy_count=1,
                          trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
                          clear_untrusted_proxy_headers=True)
        dispatcher = _NamedThreadDispatcher()
        try:
            # server_name: the SERVER_NAME of requests without a Host header (HTTP/1.0)
            server = waitress.create_server(self._app, sockets=[sock], ident="deferred",
                                            server_name=str(sock.getsockname()[0]),
                                            _dispatcher=dispatcher, **limits)
        except Exception:
            sock.close()
            raise
        server.channel_class = _JsonErrorChannel
        dispatcher.set_thread_count(self._threads)
        self._server = server
        self._thread = threading.Thread(target=self._serve, name=THREAD_NAME)
        self._thread.start()
        logger.info("HTTP server listening on %s", self.url)

    @property
    def port(self) -> int:
        """The port it listens on (the real one when 0 was asked for)."""
        return int(self._started().effective_port)

    @property
    def url(self) -> str:
        """`http://HOST:PORT` of the address it listens on."""
        host = str(self._started().effective_host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Let requests in flight finish (for up to `timeout_s`; requests not yet started are
        dropped), then close the listener and every connection and join the thread. True if
        every thread has ended. Returns within about `timeout_s` plus one second."""
        server, thread = self._server, self._thread
        if server is None or thread is None or self._stopped:
            return True
        self._stopped = True
        deadline = time.monotonic() + timeout_s
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout_s)
        workers_left = len(server.task_dispatcher.threads)
        _close_from_loop(server, thread)
        thread.join(max(deadline - time.monotonic(), _JOIN_AT_LEAST_S))
        if not thread.is_alive() and server._map:
            wasyncore.close_all(server._map, ignore_all=True)  # the loop ended on its own
        if workers_left or thread.is_alive():
            logger.warning("the HTTP server did not stop within %.1fs (%d request threads "
                           "still busy)", timeout_s, workers_left)
            return False
        logger.info("HTTP server stopped")
        return True

    def _started(self) -> Any:
        if self._server is None:
            raise RuntimeError("the HttpServer is not started")
        return self._server

    def _serve(self) -> None:
        try:
            self._server.run()
        except Exception:
            logger.exception("the HTTP server loop ended on an error")


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to the first address `host` resolves to. Raises `ConfigError`."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, OverflowError) as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {_reason(exc)}",
                          where="http") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {_reason(exc)}",
                          where="http") from exc
    return sock


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _close_from_loop(server: Any, thread: threading.Thread) -> None:
    """Close the listener and every connection from inside the loop thread, which then ends
    because its socket map is empty."""
    if thread.is_alive():
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            return
        except OSError:
            pass  # the loop already closed its trigger: nothing runs there any more
    wasyncore.close_all(server._map, ignore_all=True)
