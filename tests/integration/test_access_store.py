"""The store's audit log and login sessions, on SQLite and PostgreSQL: an action's entry
commits with the action (group-committed launches included), a no-op writes none, entries
outlive their task, and sessions are found by hash until they expire or are closed."""

from __future__ import annotations

import datetime
import threading

from deferred.access.audit import Actor, AuditAction
from deferred.records import TaskStatus, utcnow
from deferred.scheduling.options import SubmitOptions

ALICE = Actor("alice", "submit", "192.0.2.7")


def test_a_launch_commits_with_its_audit_entry_even_in_a_group_commit(store):
    records = []

    def launch(index: int) -> None:
        records.append(store.add("x", {"n": index}, actor=ALICE))

    threads = [threading.Thread(target=launch, args=(index,), name=f"launch-{index}")
               for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    store.add("x", {}, actor=None)  # from code in the server: no entry
    entries = store.access.audit_entries(limit=100)
    assert len(entries) == 20
    assert sorted(entry.task_id for entry in entries) == sorted(record.id for record in records)
    assert {(entry.actor, entry.action, entry.task_name) for entry in entries} == {
        (ALICE, AuditAction.LAUNCH, "x")}


def test_an_idempotent_launch_is_logged_once(store):
    first = store.add("x", {}, options=SubmitOptions(idempotency_key="k"), actor=ALICE)
    again = store.add("x", {}, options=SubmitOptions(idempotency_key="k"), actor=ALICE)
    assert first.id == again.id
    assert [entry.task_id for entry in store.access.audit_entries(limit=10)] == [first.id]


def test_cancel_and_retry_log_what_changed_and_nothing_else(store):
    record = store.add("x", {}, actor=None)
    store.cancel(record.id, ALICE)
    store.cancel(record.id, ALICE)  # already cancelled: nothing changed, no entry
    store.retry(record.id, ALICE)
    store.retry(record.id, ALICE)  # queued now: not retried, no entry
    entries = store.access.audit_entries(limit=10)
    assert [(entry.action, entry.detail) for entry in reversed(entries)] == [
        (AuditAction.CANCEL, "cancelled while queued"), (AuditAction.RETRY, "")]
    assert store.get(record.id).status is TaskStatus.QUEUED


def test_entries_page_by_cursor_filter_by_task_and_outlive_their_task(store):
    record = store.add("x", {}, actor=ALICE)
    for index in range(4):
        store.access.record_audit(ALICE, AuditAction.LOGIN, detail=f"login {index}")
    newest = store.access.audit_entries(limit=2)
    assert [entry.detail for entry in newest] == ["login 3", "login 2"]
    older = store.access.audit_entries(limit=10, before_id=newest[-1].id)
    assert [entry.action for entry in older] == [AuditAction.LOGIN] * 2 + [AuditAction.LAUNCH]
    store.cancel(record.id, None)
    store.delete_finished(utcnow() + datetime.timedelta(seconds=1))
    assert store.get(record.id) is None
    assert [entry.task_id for entry in store.access.audit_entries(limit=10, task_id=record.id)] == [
        record.id]


def test_a_long_detail_or_address_is_clipped_not_refused(store):
    store.access.record_audit(Actor("n" * 300, "read", "a" * 300), AuditAction.LOGIN_FAILED,
                       detail="d" * 5000)
    entry = store.access.audit_entries(limit=1)[0]
    assert len(entry.detail) == 500 and len(entry.actor.name) == 100
    assert len(entry.actor.address) == 64


def test_sessions_are_found_by_hash_until_they_expire_or_close(store):
    later = utcnow() + datetime.timedelta(hours=1)
    store.access.open_session("sha256:live", "alice", "admin", "user:alice", later)
    store.access.open_session("sha256:old", "bob", "read", "user:bob",
                       utcnow() - datetime.timedelta(seconds=1))
    assert store.access.find_session("sha256:live") == ("alice", "admin", "user:alice")
    assert store.access.find_session("sha256:old") is None
    assert store.access.find_session("sha256:unknown") is None
    assert store.access.close_session("sha256:live")
    assert store.access.find_session("sha256:live") is None
    assert not store.access.close_session("sha256:live")  # nothing left to close


def test_revoking_a_token_ends_the_sessions_opened_with_it(store):
    assert store.access.add_token("ci", "submit", "sha256:aa", ALICE)
    later = utcnow() + datetime.timedelta(hours=1)
    store.access.open_session("sha256:s1", "ci", "submit", "token:sha256:aa", later)
    store.access.open_session("sha256:s2", "alice", "admin", "user:alice", later)
    store.access.revoke_token("ci", ALICE)
    assert store.access.find_session("sha256:s1") is None
    assert store.access.find_session("sha256:s2") is not None


def test_tokens_are_stored_by_hash_found_listed_and_revoked_with_audit_entries(store):
    assert store.access.add_token("ci", "submit", "sha256:aa", ALICE)
    assert not store.access.add_token("ci", "read", "sha256:bb", ALICE)  # the name is taken
    assert store.access.find_token("sha256:aa") == ("ci", "submit")
    assert store.access.find_token("sha256:bb") is None
    (stored,) = store.access.stored_tokens()
    assert (stored.name, stored.role, stored.created_by) == ("ci", "submit", "alice")
    assert store.access.revoke_token("ci", ALICE) and not store.access.revoke_token("ci", ALICE)
    assert store.access.find_token("sha256:aa") is None
    assert [entry.action for entry in store.access.audit_entries(limit=10)] == [
        AuditAction.TOKEN_REVOKED, AuditAction.TOKEN_CREATED]


def test_asking_a_running_task_to_stop_twice_is_logged_once(store):
    record = store.add("x", {}, running=True)
    store.cancel(record.id, ALICE)
    store.cancel(record.id, ALICE)  # already asked: nothing changed
    assert [entry.detail for entry in store.access.audit_entries(limit=10)] == [
        "asked to stop while running"]
