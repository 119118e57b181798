"""`bench.tables`: the Markdown tables `python -m bench` writes for the docs."""

from __future__ import annotations

from bench.tables import markdown_table, write_table


def test_a_table_has_a_column_per_key_in_first_seen_order_and_escapes_pipes():
    text = markdown_table([{"case": "a|b", "deferred": 7176.4}, {"case": "c", "goal": ">= 3x"}])
    assert text.splitlines() == ["| case | deferred | goal |", "|---|---|---|",
                                 "| a\\|b | 7,176 |  |", "| c |  | >= 3x |"]


def test_the_file_names_the_command_the_commit_and_the_machine(tmp_path):
    path = write_table("drain", [{"case": "x", "deferred": 1.25}],
                       {"commit": "abc1234", "python": "3.11.7", "machine": "x86_64",
                        "cpus": 2}, 12.3, directory=tmp_path)
    text = path.read_text()
    assert path.name == "drain.md"
    assert text.startswith("<!-- written by `python -m bench drain`")
    assert "commit `abc1234`" in text and "Python 3.11.7, x86_64, 2 CPUs" in text
    assert "| x | 1.25 |" in text
