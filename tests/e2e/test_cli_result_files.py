"""A `Result`'s files written by the command line: where they go, and nowhere else."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

RunCli = Callable[..., subprocess.CompletedProcess[str]]
WriteTasksFile = Callable[[str, str], Path]

STATISTICS_HEADER = "metric\tvalue\n"


def all_paths(root: Path) -> set[str]:
    """Every file, directory and link under `root`, relative to it."""
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


def test_result_files_are_written_into_the_current_directory_by_default(
        run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_cli("get_statistics", cwd=tmp_path)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Complete statistics\n", "")
    assert all_paths(tmp_path) == {"statistics.tsv"}  # no temporary file left behind
    assert (tmp_path / "statistics.tsv").read_text().startswith(STATISTICS_HEADER)


def test_result_dir_is_created_with_its_missing_parents(run_cli: RunCli, tmp_path: Path) -> None:
    proc = run_cli("get_statistics", "--result-dir", "tmp/a/b", cwd=tmp_path)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Complete statistics\n", "")
    assert all_paths(tmp_path) == {"tmp", "tmp/a", "tmp/a/b", "tmp/a/b/statistics.tsv"}
    assert (tmp_path / "tmp/a/b/statistics.tsv").read_text().startswith(STATISTICS_HEADER)


def test_result_dir_that_is_a_regular_file_gets_code_400(run_cli: RunCli,
                                                         tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a directory\n")

    proc = run_cli("get_statistics", "--result-dir", "taken", cwd=tmp_path)

    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "deferred: error 400: taken: exists and is not a directory\n"
    assert (tmp_path / "taken").read_text() == "not a directory\n"


def test_result_file_blocked_by_a_directory_of_its_name_gets_code_400(
        run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "out" / "statistics.tsv").mkdir(parents=True)

    proc = run_cli("get_statistics", "--result-dir", "out", cwd=tmp_path)

    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("deferred: error 400: out/statistics.tsv: ")
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert all_paths(tmp_path) == {"out", "out/statistics.tsv"}  # temporary file removed


def test_hostile_file_names_are_written_inside_the_result_dir_only(
        run_cli: RunCli, write_tasks_file: WriteTasksFile, tmp_path: Path) -> None:
    script = write_tasks_file("hostile_tasks.py", """
        import deferred

        @deferred.task(name='hostile')
        def hostile():
            return deferred.Result(msg='x', files=[{'name': '../../etc/evil', 'data': b'x'},
                                                   {'name': '/abs/path', 'data': 'y'},
                                                   {'name': '..', 'data': 'z'}])

        if __name__ == '__main__':
            deferred.run_cli()
        """)
    # Nested, so that a name escaping with '../..' would still land under tmp_path and show.
    out = tmp_path / "nest" / "ed" / "out"
    assert not Path("/abs/path").exists()

    proc = run_cli("hostile", "--result-dir", str(out), script=script, cwd=tmp_path)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "x\n", "")
    written = all_paths(out)
    assert all_paths(tmp_path) == ({"hostile_tasks.py", "nest", "nest/ed", "nest/ed/out"}
                                   | {f"nest/ed/out/{name}" for name in written})
    assert not Path("/abs/path").exists()
    assert all("/" not in name and ".." not in name for name in written), written
    assert all((out / name).is_file() for name in written), written
    assert sorted((out / name).read_bytes() for name in written) == [b"x", b"y", b"z"]


def test_symlink_named_like_a_result_file_is_replaced_not_followed(
        run_cli: RunCli, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "statistics.tsv").symlink_to(target)

    proc = run_cli("get_statistics", "--result-dir", "out", cwd=tmp_path)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Complete statistics\n", "")
    written = out / "statistics.tsv"
    assert not written.is_symlink() and written.is_file()
    assert written.read_text().startswith(STATISTICS_HEADER)
    assert target.read_text() == "keep me\n"
    assert all_paths(out) == {"statistics.tsv"}


def test_existing_result_file_is_replaced(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "statistics.tsv").write_text("old\n")

    proc = run_cli("get_statistics", cwd=tmp_path)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Complete statistics\n", "")
    assert (tmp_path / "statistics.tsv").read_text().startswith(STATISTICS_HEADER)
    assert all_paths(tmp_path) == {"statistics.tsv"}
