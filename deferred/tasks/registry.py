"""`TaskRegistry`: tasks by name; `default_registry`, where tasks go unless told otherwise."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import NoServerError, TaskDefinitionError, UnknownTaskError

if TYPE_CHECKING:
    from . import BaseTask


class Submitter(Protocol):
    """What `task.delay()` needs: the running server of this process."""

    def submit(self, task_name: str, params: Mapping[str, Any] | None = None,
               email: str | None = None, **options: Any) -> Any: ...

RESERVED_NAMES = frozenset({"runserver", "help", "submit", "status", "cancel", "pause",
                            "resume"})
"""Command names of the command line; a task cannot take one."""

TASK_NAME_PATTERN = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}"
"""What a task name is (ASCII letters and digits only)."""
_NAME = re.compile(TASK_NAME_PATTERN, re.ASCII)


def check_task_name(name: object, owner: str) -> str:
    """Return `name` if it can name a task. Raises `TaskDefinitionError` naming `owner`."""
    if not isinstance(name, str):
        raise TaskDefinitionError(f"a task name must be a string, got {type(name).__name__}",
                                  where=owner)
    if not _NAME.fullmatch(name):
        raise TaskDefinitionError(
            f"bad task name {name!r}: use 1 to 100 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'", where=owner)
    if name in RESERVED_NAMES:
        raise TaskDefinitionError(
            f"task name {name!r} is a command of the command line; choose another",
            where=owner)
    return name


class TaskRegistry:
    """Registered task classes by name.

    A name is taken once. Defining the same task again from the same place (a tasks file run
    as `__main__` and also imported under its own name) replaces it instead of failing.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, type[BaseTask]] = {}
        self._revision = 0  # counts the names added
        self._lock = threading.Lock()
        self._server: Submitter | None = None

    def attach_server(self, server: Submitter) -> None:
        """Make `server` the one `task.delay()` submits to. Raises `RuntimeError` if another
        is attached: give each server of one process its own registry."""
        with self._lock:
            if self._server is not None and self._server is not server:
                raise RuntimeError("another server of this process already runs the tasks of "
                                   "this registry; give each server its own TaskRegistry")
            self._server = server

    def detach_server(self, server: Submitter) -> None:
        """Forget `server` (when it stops)."""
        with self._lock:
            if self._server is server:
                self._server = None

    def submit(self, task_name: str, params: Mapping[str, Any] | None,
               **options: Any) -> Any:
        """Submit to the attached server (`options` as `Server.submit` takes them) and return
        its handle. Raises `NoServerError`."""
        with self._lock:
            server = self._server
        if server is None:
            raise NoServerError(f"cannot submit {task_name!r}: no server is running in this "
                                "process (start deferred.Server first)")
        return server.submit(task_name, params, **options)

    def submit_chain(self, steps: Sequence[tuple[str, Mapping[str, Any] | None]],
                     email: str | None = None) -> Any:
        """Submit a chain to the attached server; the first task's handle. Raises
        `NoServerError`."""
        with self._lock:
            server = self._server
        if server is None:
            raise NoServerError("cannot submit a chain: no server is running in this "
                                "process (start deferred.Server first)")
        return server.chain(*steps, email=email)

    def register(self, task_class: type[BaseTask]) -> None:
        """Add a task class under its `name`. Raises `TaskDefinitionError` if it is taken."""
        name = task_class.name
        with self._lock:
            existing = self._tasks.get(name)
            if existing is not None and not _same_origin(existing, task_class):
                raise TaskDefinitionError(
                    f"task name {name!r} is already taken by {_describe(existing)}",
                    where=_describe(task_class))
            if existing is None:
                self._revision += 1
            self._tasks[name] = task_class
            task_class.task_registry = self

    @property
    def revision(self) -> int:
        """A number that changes whenever a name is added (a running server then claims
        its tasks too)."""
        return self._revision

    def get(self, name: str) -> type[BaseTask]:
        """The task class named `name`. Raises `UnknownTaskError` listing the known names."""
        with self._lock:
            task_class = self._tasks.get(name)
            known = sorted(self._tasks)
        if task_class is None:
            listing = ", ".join(known) if known else "none are registered"
            raise UnknownTaskError(f"unknown task {name!r}; known tasks: {listing}")
        return task_class

    def find(self, name: str) -> type[BaseTask] | None:
        """The task class named `name`, or None."""
        with self._lock:
            return self._tasks.get(name)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._tasks

    def __iter__(self) -> Iterator[type[BaseTask]]:
        """The task classes, sorted by name."""
        with self._lock:
            tasks = [self._tasks[name] for name in sorted(self._tasks)]
        return iter(tasks)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        with self._lock:
            return sorted(self._tasks)


def _same_origin(first: type[BaseTask], second: type[BaseTask]) -> bool:
    return first.origin is not None and first.origin == second.origin


def _describe(task_class: type[BaseTask]) -> str:
    if task_class.origin is None:
        return task_class.__qualname__
    path, qualname, line = task_class.origin
    return f"{qualname} ({path}:{line})"


default_registry = TaskRegistry()
"""The registry tasks join when no other is given: the one `run_cli()` and `Server` use."""
