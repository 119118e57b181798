"""deferred: deferred tasks in one process, from the command line or a durable server.

Define tasks with `@deferred.task(...)` or by subclassing `deferred.BaseTask`, then call
`deferred.run_cli()` at the bottom of the tasks file.
"""

from .cli import run_cli
from .config import Config, load_config, parse_config
from .errors import DeferredError, ErrorCode
from .registry import TaskRegistry, default_registry
from .result import Result, ResultFile
from .tasks import BaseTask, TaskFunction, task

__all__ = [
    "BaseTask", "Config", "DeferredError", "ErrorCode", "Result", "ResultFile", "TaskFunction",
    "TaskRegistry", "default_registry", "load_config", "parse_config", "run_cli", "task",
]
