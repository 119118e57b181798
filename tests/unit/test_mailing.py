"""The mailer thread's pure parts: back-off delays and what an outbox entry becomes."""

import pytest

from deferred.config import SmtpConfig
from deferred.mail.outbox import outgoing_mail, retry_delay_s
from deferred.records import PendingEmail, StoredFile, TaskRecord, TaskStatus


@pytest.mark.parametrize("attempt, low, high", [(1, 2.5, 5), (2, 5, 10), (3, 10, 20),
                                                (8, 300, 600), (30, 300, 600)])
def test_delays_double_with_jitter_up_to_the_maximum(attempt, low, high):
    config = SmtpConfig(retry_backoff_s=5, retry_max_delay_s=600)
    assert retry_delay_s(attempt, config, rand=lambda: 0.0) == low
    assert retry_delay_s(attempt, config, rand=lambda: 1.0) == high


def test_an_outbox_entry_becomes_mail_with_absolute_file_links():
    stored = StoredFile("tok", "stats.tsv", "text/tab-separated-values", 3)
    record = TaskRecord(id=4, name="get_statistics", params={}, status=TaskStatus.SUCCEEDED,
                        result="Complete statistics", email="a@example.com", files=(stored,))
    mail = outgoing_mail(PendingEmail(1, 1, record, ((stored, b"a\tb"),)), "http://h:5000")
    assert (mail.task_id, mail.task_name, mail.recipient, mail.result) == (
        4, "get_statistics", "a@example.com", "Complete statistics")
    [item] = mail.files
    assert (item.name, item.data, item.url) == ("stats.tsv", b"a\tb", "http://h:5000/results/tok")
