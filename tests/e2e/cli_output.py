"""What a command reports, checked the same way by every command-line test."""

from __future__ import annotations

import subprocess


def user_error_message(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """Check the shape of a reported user mistake and return its message."""
    assert "Traceback" not in proc.stdout + proc.stderr
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    prefix = f"deferred: error {code}: "
    assert proc.stderr.startswith(prefix) and proc.stderr.endswith("\n"), proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    return proc.stderr[len(prefix):-1]
