"""What the UI says after a bulk action, and how it carries the message in a cookie it alone
writes; the selection as the audit log describes it."""

from __future__ import annotations

import pytest

from deferred.bulk import BulkAction, BulkCounts, TaskSelection
from deferred.http.ui.bulktext import (
    filter_words,
    notice_text,
    notice_value,
    tasks_text,
)
from deferred.records import TaskStatus


@pytest.mark.parametrize("action, counts, text", [
    (BulkAction.RETRY, BulkCounts(matched=12, changed=10), "10 tasks retried, 2 skipped"),
    (BulkAction.RETRY, BulkCounts(matched=1, changed=1), "1 task retried"),
    (BulkAction.DELETE, BulkCounts(matched=3, changed=0), "0 tasks deleted, 3 skipped"),
    (BulkAction.CANCEL, BulkCounts(matched=5, changed=4, asked_to_stop=1),
     "3 tasks cancelled, 1 asked to stop, 1 skipped"),
    (BulkAction.CANCEL, BulkCounts(matched=1, changed=1, asked_to_stop=1),
     "1 task asked to stop"),
    (BulkAction.CANCEL, BulkCounts(matched=20_000, changed=12_345),
     "12,345 tasks cancelled, 7,655 skipped"),
])
def test_the_message_after_an_action_comes_back_from_its_cookie(action, counts, text):
    assert notice_text(notice_value(action, counts)) == text


@pytest.mark.parametrize("value", ["", "retry", "retry.1.2", "purge.1.2.3", "retry.1.2.3.4",
                                   "retry.-1.2.3", "retry.1.2.<b>", "retry.9999999999.0.0"])
def test_a_cookie_this_ui_did_not_write_shows_nothing(value):
    assert notice_text(value) is None


def test_counts_and_filters_in_words():
    assert [tasks_text(count) for count in (0, 1, 2, 12_345)] == [
        "0 tasks", "1 task", "2 tasks", "12,345 tasks"]
    assert filter_words("FAILED", "mail", "bob") == "status FAILED, type mail, text “bob”"
    assert filter_words("finished", "", "") == "finished"
    assert filter_words("all", "", "x") == "any status, text “x”"


def test_the_audit_log_describes_a_selection_in_a_few_words():
    assert TaskSelection(ids=(5, 3)).describe() == "ids 3, 5"
    assert TaskSelection().describe() == "every task"
    assert TaskSelection(finished=True, name="mail", text="bob").describe() == (
        "filter status=finished, task_name='mail', q='bob'")
    assert TaskSelection(status=TaskStatus.FAILED).describe() == "filter status=FAILED"
    assert (BulkCounts(3, 2, 1, 0) + BulkCounts(1, 1, 0, 4)) == BulkCounts(4, 3, 1, 4)
    assert BulkCounts(matched=4, changed=3).skipped == 1
