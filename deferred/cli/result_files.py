"""Writing a result's files into a directory, and nowhere else."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import ResultOutputError
from ..filenames import safe_file_name
from ..result import ResultFile


def prepare_result_dir(directory: str | os.PathLike[str]) -> Path:
    """Create `directory` if it is missing and return it. Raises `ResultOutputError`."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ResultOutputError("exists and is not a directory", where=str(path)) from None
    except OSError as exc:
        raise ResultOutputError(f"cannot create the directory: {exc.strerror or exc}",
                                where=str(path)) from None
    return path


def save_result_files(files: Iterable[ResultFile], directory: Path) -> list[Path]:
    """Write each file into `directory` under its (safe) name, replacing an older one.

    Each file is written to a temporary name first and renamed into place, so a reader never
    sees half a file, and an existing symlink of that name is replaced, never followed.
    Raises `ResultOutputError`.
    """
    written = []
    for item in files:
        if safe_file_name(item.name) != item.name:
            raise ResultOutputError("unsafe file name", where=repr(item.name))
        target = directory / item.name
        try:
            _write_atomically(target, item.data)
        except OSError as exc:
            raise ResultOutputError(f"cannot write the file: {exc.strerror or exc}",
                                    where=str(target)) from None
        written.append(target)
    return written


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".deferred-",
                                         suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; results are ordinary files
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

