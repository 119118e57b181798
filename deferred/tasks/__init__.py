"""`BaseTask` and the `task()` decorator: the two ways to define a task, one class in the end."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn, TypeVar, overload

from ..errors import DeferredError, TaskDefinitionError
from .registry import TaskRegistry, check_task_name, default_registry
from .retries import RetryPolicy
from ..scheduling.schedules import Schedule
from .validation import (ParamSpec, ParamsValidator, check_params_object,
                         check_schema_matches_run)

Origin = tuple[str, str, int]
F = TypeVar("F", bound=Callable[..., Any])


class BaseTask:
    """Subclass it, set `name` (and `json_schema`), and write `run()`.

    The class registers itself in `default_registry`, or in the registry passed as a class
    keyword (`class Mult(BaseTask, registry=mine)`). `abstract=True` makes a base for other
    tasks that is not registered. `run()` may be written without `self`, as older examples do.
    Raises `TaskDefinitionError` (or `InvalidSchemaError`) when the class is defined wrongly.
    """

    name: ClassVar[str]
    json_schema: ClassVar[Mapping[str, Any] | None] = None
    description: ClassVar[str] = ""
    origin: ClassVar[Origin | None] = None
    param_spec: ClassVar[ParamSpec]
    params_validator: ClassVar[ParamsValidator | None] = None
    task_registry: ClassVar[TaskRegistry]
    # Run again after a failure: `retries` more times, after `retry_backoff_s` doubling up
    # to `retry_max_delay_s` (with jitter), when the error is one of `retry_on`.
    retries: ClassVar[int] = 0
    retry_backoff_s: ClassVar[float] = 1.0
    retry_max_delay_s: ClassVar[float] = 300.0
    retry_on: ClassVar[tuple[type[BaseException], ...]] = (Exception,)
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()
    # Seconds a run may take before it is marked TIMED_OUT and asked to stop (None: no limit).
    timeout_s: ClassVar[float | None] = None
    # Periodic tasks: submitted by the server every `every_s` seconds, or on a crontab line
    # (`cron = "15,30 7 * * *"`, UTC), with params {}.
    every_s: ClassVar[float | None] = None
    cron: ClassVar[str | None] = None
    # Finished runs of this task are deleted this long after they finish (autotask's `ttl`),
    # in place of the server's `retention_s`.
    ttl_s: ClassVar[float | None] = None
    # "process": each run in a child process, killed on cancel or past `timeout_s`.
    isolation: ClassVar[str] = "thread"
    # openATTIC's style: a function of the task's params giving its progress in percent,
    # called when a run starts (pure: it may be called more than once, or never).
    percent: ClassVar[Callable[..., float] | None] = None
    schedule: ClassVar[Schedule | None] = None

    def __init_subclass__(cls, registry: TaskRegistry | None = None, abstract: bool = False,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        try:
            _prepare(cls)
            (default_registry if registry is None else registry).register(cls)
        except TaskDefinitionError as exc:
            _definition_failed(exc)

    def run(self, **params: Any) -> Any:
        """Do the work. The return value is the task's result."""
        raise NotImplementedError

    @classmethod
    def delay(cls, **params: Any) -> Any:
        """Submit this task to the server running in this process; return its `TaskHandle`.

        Raises `NoServerError` when none runs, and what `Server.submit` raises.
        """
        return cls.task_registry.submit(cls.name, params)

    @classmethod
    def submit(cls, params: Mapping[str, Any] | None = None, *, email: str | None = None,
               delay_s: float | None = None, run_at: Any = None, priority: int = 0,
               idempotency_key: str | None = None) -> Any:
        """`delay()` with scheduling: start no sooner than `delay_s` from now or `run_at`,
        with a `priority`, once per `idempotency_key`. Returns the `TaskHandle`."""
        return cls.task_registry.submit(cls.name, params, email=email, delay_s=delay_s,
                                        run_at=run_at, priority=priority,
                                        idempotency_key=idempotency_key)

    @classmethod
    def check_params(cls, params: Any) -> dict[str, Any]:
        """Return `params` as a dict if this task can run with them.

        Raises `InvalidParamsError` naming the JSON path and what was wrong.
        """
        params = check_params_object(params)
        if cls.params_validator is not None:
            cls.params_validator.validate(params)
        cls.param_spec.check(params)
        return params


TASK_OPTIONS = ("retries", "retry_backoff_s", "retry_max_delay_s", "retry_on", "timeout_s",
                "every_s", "cron", "ttl_s", "isolation", "percent")


def _prepare(cls: type[BaseTask]) -> None:
    owner = f"class {cls.__qualname__}"
    if "name" not in cls.__dict__:
        raise TaskDefinitionError(
            "a task class needs its own `name` (or `abstract=True` to be a base for other "
            "tasks)", where=owner)
    name = check_task_name(cls.__dict__["name"], owner)
    if cls.run is BaseTask.run:
        raise TaskDefinitionError("a task class must define run()", where=f"task {name!r}")
    if "run" in cls.__dict__ and _lacks_self(cls.__dict__["run"]):
        cls.run = staticmethod(cls.__dict__["run"])  # type: ignore[method-assign]
    try:
        cls.retry_policy = RetryPolicy(
            retries=cls.retries, backoff_s=cls.retry_backoff_s,
            max_delay_s=cls.retry_max_delay_s,
            retry_on=tuple(cls.retry_on) if isinstance(cls.retry_on, (tuple, list))
            else (cls.retry_on,))
    except TaskDefinitionError as exc:
        raise TaskDefinitionError(exc.message, where=f"task {name!r}: {exc.where}") from None
    for option in ("timeout_s", "ttl_s"):
        value = getattr(cls, option)
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, (int, float)) or value <= 0):
            raise TaskDefinitionError(f"{option} must be a number of seconds above 0, got "
                                      f"{value!r}", where=f"task {name!r}")
    if cls.percent is not None and not callable(cls.percent):
        raise TaskDefinitionError(f"percent must be a function of the params, got "
                                  f"{type(cls.percent).__name__}", where=f"task {name!r}")
    if cls.isolation not in ("thread", "process"):
        raise TaskDefinitionError(f"isolation must be 'thread' or 'process', got "
                                  f"{cls.isolation!r}", where=f"task {name!r}")
    cls.schedule = Schedule.of(cls.every_s, cls.cron, where=f"task {name!r}")
    cls.param_spec = ParamSpec.of(_run_signature(cls), name)
    if cls.json_schema is not None:
        cls.params_validator = ParamsValidator(name, cls.json_schema)
        check_schema_matches_run(name, cls.params_validator, cls.param_spec)
    else:
        cls.params_validator = None
    if cls.schedule is not None:
        try:
            cls.check_params({})
        except DeferredError as exc:
            raise TaskDefinitionError(f"a periodic task runs with params {{}}, which it does "
                                      f"not accept ({exc})", where=f"task {name!r}") from None
    if "description" not in cls.__dict__:
        cls.description = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    if "origin" not in cls.__dict__:
        cls.origin = _class_origin(cls)


def _definition_failed(exc: TaskDefinitionError) -> NoReturn:
    if not _defined_by_script():
        raise exc
    # A tasks file run as a script fails before run_cli() is reached; a traceback there
    # would bury the one line that says what to fix.
    sys.stderr.write(f"deferred: error {int(exc.code)}: {exc}\n")
    raise SystemExit(2) from None


def _defined_by_script() -> bool:
    """True when the task is defined by the top-level code of the script Python was started
    with, directly or through the imports that code makes (not, say, inside a test)."""
    main = sys.modules.get("__main__")
    if getattr(main, "__file__", None) is None:
        return False  # an interactive session or `python -c`
    frame = inspect.currentframe()
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            return True
        if not (frame.f_code.co_name == "<module>" or module == __name__
                or module.startswith("importlib")
                or frame.f_code.co_filename.startswith("<frozen importlib")):
            return False
        frame = frame.f_back
    return False


def _run_signature(cls: type[BaseTask]) -> inspect.Signature:
    raw = inspect.getattr_static(cls, "run")
    if not inspect.isfunction(raw):
        return inspect.signature(cls.run)  # staticmethod, or classmethod bound to cls
    signature = inspect.signature(raw)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def _lacks_self(run: object) -> bool:
    if not inspect.isfunction(run):
        return False  # already a staticmethod, classmethod or other descriptor
    params = list(inspect.signature(run).parameters.values())
    return not params or params[0].name != "self" or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _class_origin(cls: type) -> Origin | None:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if path is None:
        return None
    try:
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        line = 0
    return (path, cls.__qualname__, line)


class TaskFunction:
    """What `@task` leaves in place of the function: still callable, with its task class."""

    task_class: type[BaseTask]

    def __init__(self, func: Callable[..., Any], task_class: type[BaseTask]) -> None:
        functools.update_wrapper(self, func)
        self.task_class = task_class

    @property
    def name(self) -> str:
        """The task's registered name."""
        return self.task_class.name

    def delay(self, **params: Any) -> Any:
        """Submit the task to the server running in this process; return its `TaskHandle`."""
        return self.task_class.delay(**params)

    def submit(self, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Submit with scheduling options (see `BaseTask.submit`); return its `TaskHandle`."""
        return self.task_class.submit(params, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, in this thread, as if it were not a task."""
        return self.__wrapped__(*args, **kwargs)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<task {self.name!r} {self.__wrapped__!r}>"  # type: ignore[attr-defined]


@overload
def task(name: F) -> TaskFunction: ...
@overload
def task(name: str | None = None, *, json_schema: Mapping[str, Any] | None = None,
         registry: TaskRegistry | None = None, **options: Any
         ) -> Callable[[F], TaskFunction]: ...


def task(name: Any = None, *, json_schema: Mapping[str, Any] | None = None,
         registry: TaskRegistry | None = None, **options: Any) -> Any:
    """Make a function a task: `@deferred.task(name='multiprint', json_schema={...})`.

    The name defaults to the function's name; the description is its docstring. Bare
    `@deferred.task` works too. `options` are the class attributes a `BaseTask` may set:
    `retries`, `retry_backoff_s`, `retry_max_delay_s`, `retry_on`, `timeout_s`, `every_s`,
    `cron`, `ttl_s`, `isolation`, `percent`. Raises
    `TaskDefinitionError` or `InvalidSchemaError` at definition.
    """
    unknown = sorted(set(options) - set(TASK_OPTIONS))
    if unknown:
        _definition_failed(TaskDefinitionError(
            f"unknown option {unknown[0]!r} (allowed: {', '.join(TASK_OPTIONS)})",
            where=f"task {name!r}"))
    if callable(name):
        return task()(name)

    def decorate(func: F) -> TaskFunction:
        if not callable(func):
            raise TaskDefinitionError(f"@task needs a function, got {type(func).__name__}",
                                      where=f"task {name!r}")
        code = getattr(func, "__code__", None)
        try:
            task_name = check_task_name(func.__name__ if name is None else name,
                                        f"function {func.__qualname__}")
        except TaskDefinitionError as exc:
            _definition_failed(exc)
        namespace = {
            "name": task_name,
            "json_schema": json_schema,
            "run": staticmethod(func),
            "description": inspect.cleandoc(func.__doc__ or ""),
            "origin": None if code is None else (code.co_filename, func.__qualname__,
                                                 code.co_firstlineno),
            "__doc__": func.__doc__,
            "__module__": func.__module__,
            "__qualname__": func.__qualname__,
            **options,
        }
        task_class = type(func.__name__, (BaseTask,), namespace, registry=registry)
        return TaskFunction(func, task_class)

    return decorate
