"""Results by email through a real `runserver` and a real SMTP server (aiosmtpd): exact
bodies, byte-identical attachments, retries, refusals and restarts, each email once."""

from __future__ import annotations

import collections
import email
import email.policy
import hashlib
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverproc import PROJECT_ROOT, ServerProcess, wait_until
from smtp_server import SmtpTestServer, free_port, start_smtp_server

SAMPLE_TASKS = PROJECT_ROOT / "sample_tasks.py"
FILES_TASKS = """
import hashlib
import io
import deferred

@deferred.task(name='files')
def files():
    blob = bytes((i * 7919) % 256 for i in range(1024 * 1024))
    return deferred.Result(msg='two files',
                           files=[{'name': 'data.bin', 'data': io.BytesIO(blob)},
                                  {'name': 'r\\u00e9sum\\u00e9 \\U0001F4CA.tsv',
                                   'data': 'a\\tb\\n\\u00e9\\n'}])

if __name__ == '__main__':
    deferred.run_cli()
"""


@pytest.fixture
def smtp_servers() -> Iterator[list[SmtpTestServer]]:
    started: list[SmtpTestServer] = []
    yield started
    for server in started:
        server.stop()


def smtp_config(port: int) -> dict[str, object]:
    return {"smtp": {"host": "127.0.0.1", "port": port, "sender": "jobs@example.com",
                     "retry_backoff_s": 0.2, "retry_max_delay_s": 0.5, "timeout_s": 5}}


def start(servers, cwd: Path, port: int, tasks_file: Path = SAMPLE_TASKS) -> ServerProcess:
    server = ServerProcess(tasks_file, cwd, smtp_config(port)).start()
    servers.append(server)
    return server


def messages(smtp: SmtpTestServer) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            for envelope in smtp.envelopes]


def delivery(server: ServerProcess, task_id: int) -> dict:
    return server.task(task_id)["email_delivery"] or {}


def test_spec_4_the_result_is_the_body_of_the_email(servers, smtp_servers, tmp_path):
    smtp = start_smtp_server()
    smtp_servers.append(smtp)
    server = start(servers, tmp_path, smtp.port)
    status, body = server.request("POST", "/", {
        "task_name": "multiprint", "params": {"msg": "hello", "count": 3},
        "email": "example@domain.com"})
    assert (status, body) == (200, {"status": "OK", "task_id": body["task_id"]})
    wait_until(lambda: delivery(server, body["task_id"]).get("status") == "SENT")
    [message] = messages(smtp)
    assert message.get_body(("plain",)).get_content() == "hello\nhello\nhello"
    assert message["To"] == "example@domain.com" and "jobs@example.com" in message["From"]
    assert "multiprint" in message["Subject"] and "succeeded" in message["Subject"]
    assert smtp.envelopes[0].rcpt_tos == ["example@domain.com"]
    shown = delivery(server, body["task_id"])
    assert (shown["attempts"], shown["last_error"]) == (1, None) and shown["sent_at"]


def test_attachments_arrive_byte_identical_to_the_downloads(servers, smtp_servers, tmp_path):
    smtp = start_smtp_server()
    smtp_servers.append(smtp)
    tasks_file = tmp_path / "files_tasks.py"
    tasks_file.write_text(FILES_TASKS)
    server = start(servers, tmp_path, smtp.port, tasks_file)
    task_id = server.request("POST", "/api/tasks", {"task_name": "files",
                                                    "email": "a@example.com"})[1]["task_id"]
    wait_until(lambda: delivery(server, task_id).get("status") == "SENT")
    [message] = messages(smtp)
    assert message.get_body(("plain",)).get_content() == "two files"
    attachments = {part.get_filename(): part.get_payload(decode=True)
                   for part in message.iter_attachments()}
    for stored in server.task(task_id)["files"]:
        with urllib.request.urlopen(stored["url"], timeout=30) as response:
            downloaded = response.read()
        assert attachments[stored["name"]] == downloaded
    assert set(attachments) == {"data.bin", "r\u00e9sum\u00e9 \U0001F4CA.tsv"}
    assert len(attachments["data.bin"]) == 1024 * 1024
    assert hashlib.sha256(attachments["data.bin"]).hexdigest() == hashlib.sha256(
        bytes((i * 7919) % 256 for i in range(1024 * 1024))).hexdigest()


@pytest.mark.parametrize("address", [
    "a@example.com\r\nBcc: victim@example.com", "a@example.com, b@example.com",
    "Boss <boss@example.com>", "not-an-address", "x" * 250 + "@example.com",
    "a@\u2603.net"])  # IDNA 2003 takes the snowman (xn--n3h.net), IDNA 2008 refuses it
def test_bad_addresses_are_refused_and_nothing_is_stored_or_sent(servers, smtp_servers,
                                                                 tmp_path, address):
    smtp = start_smtp_server()
    smtp_servers.append(smtp)
    server = start(servers, tmp_path, smtp.port)
    status, body = server.request("POST", "/api/tasks", {
        "task_name": "multiprint", "params": {"msg": "x"}, "email": address})
    assert status == 422 and body["error_code"] == 108
    assert body["error_msg"].startswith("email: ") and "\n" not in body["error_msg"]
    assert server.request("GET", "/api/tasks")[1]["tasks"] == []
    assert smtp.envelopes == []


def test_an_international_domain_is_sent_to_its_idna_2008_form(servers, smtp_servers,
                                                               tmp_path):
    smtp = start_smtp_server()
    smtp_servers.append(smtp)
    server = start(servers, tmp_path, smtp.port)
    status, body = server.request("POST", "/api/tasks", {
        "task_name": "multiprint", "params": {"msg": "x"}, "email": "user@fa\u00df.de"})
    assert status == 200, body
    wait_until(lambda: delivery(server, body["task_id"]).get("status") == "SENT")
    assert smtp.envelopes[0].rcpt_tos == ["user@xn--fa-hia.de"]  # IDNA 2003: user@fass.de
    [message] = messages(smtp)
    assert message["To"] == "user@xn--fa-hia.de"
    assert delivery(server, body["task_id"])["recipient"] == "user@fa\u00df.de"


def test_a_domain_idna_2008_refuses_gets_the_address_code_saying_why(servers, smtp_servers,
                                                                    tmp_path):
    smtp = start_smtp_server()
    smtp_servers.append(smtp)
    server = start(servers, tmp_path, smtp.port)
    status, body = server.request("POST", "/api/tasks", {
        "task_name": "multiprint", "params": {"msg": "x"}, "email": "a@b\u200dc.de"})
    assert (status, body["status"], body["error_code"], body["error_where"]) == (
        422, "ERROR", 108, "email")
    assert body["error_msg"] == (  # the invisible joiner is shown as \\u200d
        r"email: 'a@b\u200dc.de': 'b\u200dc.de' is not a domain name IDNA 2008 allows (Joiner "
        r"U+200D not allowed at position 2 in 'b\u200dc')")
    assert "Traceback" not in server.log
    assert server.request("GET", "/api/tasks")[1]["tasks"] == [] and smtp.envelopes == []


def test_a_server_down_for_a_while_gets_each_email_once_when_back(servers, smtp_servers,
                                                                  tmp_path):
    port = free_port()
    server = start(servers, tmp_path, port)
    ids = [server.submit("multiprint", {"msg": f"m{i}"}, email=f"u{i}@example.com")
           for i in range(3)]
    wait_until(lambda: all(delivery(server, i).get("attempts", 0) >= 2 for i in ids))
    shown = delivery(server, ids[0])
    assert shown["status"] == "PENDING" and "refused" in shown["last_error"].lower()
    smtp = start_smtp_server(port=port)
    smtp_servers.append(smtp)
    wait_until(lambda: all(delivery(server, i).get("status") == "SENT" for i in ids))
    received = collections.Counter(message["Message-ID"] for message in messages(smtp))
    assert len(received) == 3 and set(received.values()) == {1}


def test_a_550_reply_fails_the_email_at_once_without_retries(servers, smtp_servers, tmp_path):
    smtp = start_smtp_server()
    smtp_servers.append(smtp)
    smtp.handler.data_reply = "550 no such user here"
    server = start(servers, tmp_path, smtp.port)
    task_id = server.submit("multiprint", {"msg": "x"}, email="ghost@example.com")
    wait_until(lambda: delivery(server, task_id).get("status") == "FAILED")
    shown = delivery(server, task_id)
    assert shown["attempts"] == 1 and "550 no such user here" in shown["last_error"]
    assert server.task(task_id)["status"] == "SUCCEEDED"  # the task itself did not fail


def test_pending_email_survives_a_restart_and_is_sent_once_after_it(servers, smtp_servers,
                                                                    tmp_path):
    port = free_port()
    server = start(servers, tmp_path, port)
    task_id = server.submit("multiprint", {"msg": "after the restart"}, email="a@example.com")
    wait_until(lambda: delivery(server, task_id).get("attempts", 0) >= 1)
    server.signal(signal.SIGKILL)
    server.wait_exit()
    smtp = start_smtp_server(port=port)
    smtp_servers.append(smtp)
    restarted = start(servers, tmp_path, port)
    wait_until(lambda: delivery(restarted, task_id).get("status") == "SENT")
    [message] = messages(smtp)
    assert message.get_body(("plain",)).get_content() == "after the restart"


def test_a_failed_task_emails_why_without_the_traceback(servers, smtp_servers, tmp_path):
    smtp = start_smtp_server()
    smtp_servers.append(smtp)
    server = start(servers, tmp_path, smtp.port)
    task_id = server.submit("fail", {"message": "disk on fire"}, email="ops@example.com")
    wait_until(lambda: delivery(server, task_id).get("status") == "SENT")
    [message] = messages(smtp)
    body = message.get_body(("plain",)).get_content()
    assert "RuntimeError: disk on fire" in body and "Traceback" not in body
    assert "failed" in message["Subject"]
