"""The `deferred` command: `deferred my_tasks.py COMMAND ...`, the tasks file first, like
`celery -A`; the same as `python my_tasks.py COMMAND ...`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from . import EXIT_USER_ERROR, run_cli
from ..errors import DeferredError, ErrorCode

USAGE = ("usage: deferred TASKS_FILE [--log-level LEVEL] [--log-format text|json] "
         "{TASK,runserver,submit,status,cancel,pause,resume,help} ...")


def _load_tasks_file(path: Path) -> None:
    # Imported under its own name (not __main__), so its `if __name__ == '__main__':` block
    # does not run; its directory goes first on sys.path, as `python my_tasks.py` would do.
    sys.path.insert(0, str(path.parent.resolve()))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)


def console_main() -> None:
    """Entry point of the `deferred` console script."""
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        print("Runs a command of a tasks file: 'deferred my_tasks.py --help' lists its tasks.")
        sys.exit(0 if argv else EXIT_USER_ERROR)
    path = Path(argv[0])
    if not path.is_file():
        sys.stderr.write(f"deferred: error {int(ErrorCode.BAD_REQUEST)}: {argv[0]}: no such "
                         f"tasks file\n{USAGE}\n")
        sys.exit(EXIT_USER_ERROR)
    try:
        _load_tasks_file(path)
    except DeferredError as exc:  # a bad task definition: one line, as `python my_tasks.py`
        sys.stderr.write(f"deferred: error {int(exc.code)}: {exc}\n")
        sys.exit(EXIT_USER_ERROR)
    run_cli(argv=argv[1:], prog=f"deferred {argv[0]}")
