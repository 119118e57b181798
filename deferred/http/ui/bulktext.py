"""What the UI says of a bulk action: the message after it (`10 tasks retried, 2 skipped`),
carried to the task list in a short-lived cookie, and the rule of each action for the
confirmation page. Pure functions, no bottle, no I/O."""

from __future__ import annotations

import re

from ...bulk import BulkAction, BulkCounts
from ...records import TaskRecord, TaskStatus

_NOTICE = re.compile(r"(cancel|retry|delete)\.([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})")
RULES = {
    BulkAction.CANCEL: "only queued and running tasks can be cancelled; a running one is "
                       "asked to stop, and ends when its code next checks",
    BulkAction.RETRY: "only failed, cancelled and timed-out tasks can be retried",
    BulkAction.DELETE: "only finished tasks can be deleted, and not while their result email "
                       "is still to be sent",
}
WARNINGS = {BulkAction.DELETE: "A deleted task, its files and its history are gone for good."}
TITLES = {BulkAction.CANCEL: "Cancel", BulkAction.RETRY: "Retry", BulkAction.DELETE: "Delete"}


def tasks_text(count: int) -> str:
    """`1 task`, `12 tasks`, `12,345 tasks`."""
    return f"{count:,} task" + ("" if count == 1 else "s")


def filter_words(status: str, task_name: str, text: str) -> str:
    """The task list's filters in words: `status FAILED, type mail, text “bob”`."""
    parts = [{"all": "any status", "finished": "finished"}.get(status, f"status {status}")]
    parts += [f"type {task_name}"] if task_name else []
    parts += [f"text “{text}”"] if text else []
    return ", ".join(parts)


def notice_value(action: BulkAction, counts: BulkCounts) -> str:
    """The cookie's value for the message after `action`: `retry.10.2.0`."""
    return f"{action.value}.{counts.changed}.{counts.skipped}.{counts.asked_to_stop}"


def notice_text(value: str) -> str | None:
    """The message a cookie's value stands for, None for one this UI did not write."""
    match = _NOTICE.fullmatch(value)
    if match is None:
        return None
    action = BulkAction(match.group(1))
    changed, skipped, asked = (int(group) for group in match.groups()[1:])
    if action is BulkAction.CANCEL and asked:
        parts = [f"{tasks_text(changed - asked)} cancelled"] if changed > asked else []
        parts.append(f"{tasks_text(asked) if not parts else asked} asked to stop")
    else:
        parts = [f"{tasks_text(changed)} {action.done}"]
    if skipped:
        parts.append(f"{skipped:,} skipped")
    return ", ".join(parts)


def single_counts(action: BulkAction, before: TaskRecord, after: TaskRecord) -> BulkCounts:
    """The counts of a single cancel or retry (a row's button), `before` and `after` it, for
    the same message: a retry that returned changed its task; a cancel changed it if it
    cancelled it or asked it to stop just now."""
    if action is not BulkAction.CANCEL:
        return BulkCounts(matched=1, changed=1)
    cancelled = after.status is TaskStatus.CANCELLED and not before.status.is_terminal
    asked = after.cancel_requested and not before.cancel_requested and not cancelled
    return BulkCounts(matched=1, changed=int(cancelled or asked), asked_to_stop=int(asked))
