"""`LogWriter`: runserver's log lines written by a thread of their own, in order, and all of
them by `logging.shutdown()`-time."""

from __future__ import annotations

import io
import logging
import threading

from deferred.cli.logformat import LogWriter, TextFormatter


def _logger(writer: LogWriter) -> logging.Logger:
    logger = logging.getLogger(f"test-log-writer-{id(writer)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [writer.handler()]
    return logger


def test_lines_from_many_threads_are_all_written_whole_and_flush_waits_for_them():
    stream = io.StringIO()
    writer = LogWriter(stream, logging.Formatter("%(threadName)s %(message)s"))
    writer.start()
    logger = _logger(writer)

    def log(number: int) -> None:
        for line in range(200):
            logger.info("thread %d line %d", number, line)

    threads = [threading.Thread(target=log, args=(n,), name=f"t{n}") for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.handler().flush()  # what logging.shutdown() calls first
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1600
    for number in range(8):  # each thread's lines whole and in its order
        mine = [line for line in lines if line.startswith(f"t{number} ")]
        assert mine == [f"t{number} thread {number} line {i}" for i in range(200)]
    writer.handler().close()  # what logging.shutdown() calls next: the thread ends
    assert "deferred-log-writer" not in {thread.name for thread in threading.enumerate()}


def test_a_record_that_cannot_be_formatted_does_not_stop_the_writer():
    stream = io.StringIO()
    writer = LogWriter(stream, TextFormatter())
    writer.start()
    logger = _logger(writer)
    logger.info("%d items", "not a number")  # a bad format: the record cannot be formatted
    logger.info("still %s", "writing")
    writer.stop()
    text = stream.getvalue()
    assert "a log record could not be formatted" in text
    assert text.rstrip().endswith("still writing")


def test_the_text_time_is_the_standard_one():
    record = logging.makeLogRecord({"msg": "x", "created": 1_700_000_000.25, "msecs": 250.0})
    assert TextFormatter().formatTime(record) == logging.Formatter().formatTime(record)


def test_a_forked_child_writes_its_lines_itself(tmp_path):
    import multiprocessing

    path = tmp_path / "log.txt"
    with open(path, "w", encoding="utf-8") as stream:
        writer = LogWriter(stream, logging.Formatter("%(message)s"))
        writer.start()
        logger = _logger(writer)
        logger.info("from the parent")
        child = multiprocessing.get_context("fork").Process(
            target=lambda: logger.info("from the child"))  # the writer thread stays here
        child.start()
        child.join(30)
        writer.stop()
    assert child.exitcode == 0
    assert sorted(path.read_text().splitlines()) == ["from the child", "from the parent"]
