"""deferred: deferred tasks in one process, from the command line or a durable server.

Define tasks with `@deferred.task(...)` or by subclassing `deferred.BaseTask`, then call
`deferred.run_cli()` at the bottom of the tasks file.
"""

from typing import TYPE_CHECKING, Any

from .cli import run_cli
from .config import Config, load_config, parse_config
from .tasks.context import TaskContext, current
from .errors import DeferredError, ErrorCode, TaskCancelledError
from .tasks.registry import TaskRegistry, default_registry
from .result import Result, ResultFile
from .tasks import BaseTask, TaskFunction, task

if TYPE_CHECKING:
    from .tasks.handle import TaskHandle
    from .server import Server

__all__ = (
    "BaseTask", "Config", "DeferredError", "ErrorCode", "Result", "ResultFile", "Server",
    "TaskCancelledError", "TaskContext", "TaskFunction", "TaskHandle", "TaskRegistry",
    "chain", "current", "default_registry", "load_config", "parse_config", "run_cli", "task",
)


def chain(*steps: Any, email: str | None = None,
          registry: TaskRegistry | None = None) -> Any:
    """Run tasks one after another, each starting once the one before succeeded, on the
    server running in this process: `deferred.chain(("fetch", {"url": u}), ("parse", {}))`.
    A step may also be a task itself (`fetch`) or `(task, params)`. Returns the first task's
    handle. Raises `NoServerError`, and what a submit raises, naming the step."""
    named = []
    for step in steps:
        name, params = (step, None) if not isinstance(step, tuple) else (step[0], step[1])
        named.append((getattr(name, "name", name), params))
    return (registry or default_registry).submit_chain(named, email)


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that `python my_tasks.py mult` loads neither SQLAlchemy nor bottle.
    if name == "Server":
        from .server import Server
        return Server
    if name == "TaskHandle":
        from .tasks.handle import TaskHandle
        return TaskHandle
    raise AttributeError(f"module 'deferred' has no attribute {name!r}")
