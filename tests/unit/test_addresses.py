"""Email addresses at submit: exactly one plain address, or a clear refusal."""

import ast
import email
import email.policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deferred import addresses
from deferred.addresses import ascii_domain, check_email_address
from deferred.errors import InvalidEmailError
from deferred.interfaces import OutgoingMail
from deferred.mail.message import SMTP_POLICY, ascii_address, build_message
from deferred.records import TaskStatus


@pytest.mark.parametrize("address", [
    "example@domain.com", "first.last+tag@sub.example.org", "o'brien@example.ie",
    "user@localhost", "x@b\u00fccher.de", "a" * 64 + "@example.com", "user@fa\u00df.de",
    "user@B\u00fccher.DE", "user@xn--fa-hia.de",
])
def test_plain_addresses_pass(address):
    assert check_email_address(address) == address


@pytest.mark.parametrize("address, reason", [
    ("a@example.com\r\nBcc: victim@example.com", "control character"),
    ("a@example.com\nBcc:x@y.z", "control character"),
    ("a@example.com, b@example.com", "several addresses"),
    ("a@example.com;b@example.com", "several addresses"),
    ("Boss <boss@example.com>", "display name"),
    ("boss@example.com (Boss)", "comment"),
    ('"a b"@example.com', "quoted part"),
    (" a@example.com", "space"),
    ("a@@example.com", "exactly one '@'"),
    ("a@b@example.com", "exactly one '@'"),
    ("no-at-sign", "exactly one '@'"),
    ("a..b@example.com", "plain ASCII name"),
    (".a@example.com", "plain ASCII name"),
    ("\u00e9@example.com", "plain ASCII name"),
    ("a" * 65 + "@example.com", "plain ASCII name"),
    ("a@-example.com", "not a domain name"),
    ("a@[127.0.0.1]", "not a domain name"),
    ("a@", "not a domain name"),
    ("a@example..com", "not a domain name"),
    ("a@" + "b" * 250 + ".com", "longer than 254"),
])
def test_tricks_and_mistakes_are_refused_with_the_reason(address, reason):
    with pytest.raises(InvalidEmailError, match=reason) as info:
        check_email_address(address)
    assert str(info.value).startswith("email: ")
    assert "\n" not in str(info.value) and "\r" not in str(info.value)


@pytest.mark.parametrize("domain, encoded", [
    ("fa\u00df.de", "xn--fa-hia.de"),  # IDNA 2003 would give fass.de, another domain
    ("b\u00fccher.de", "xn--bcher-kva.de"), ("B\u00dcCHER.de", "xn--bcher-kva.de"),
    ("\u4f8b\u3048.jp", "xn--r8jz45g.jp"), ("b\u00fccher\u3002de", "xn--bcher-kva.de"),
    ("example.com", "example.com"), ("XN--FA-HIA.de", "xn--fa-hia.de"),
])
def test_a_domain_is_encoded_by_idna_2008(domain, encoded):
    assert ascii_domain(domain) == encoded
    assert addresses.ascii_address(f"user@{domain}") == f"user@{encoded}"


@pytest.mark.parametrize("address, reason", [
    ("user@\u2603.net", "Codepoint U+2603 at position 1 of '\u2603' not allowed"),
    ("user@xn--n3h.net", "Codepoint U+2603"),  # the same snowman, already encoded
    ("user@a\u200db.de", "Joiner U+200D not allowed"),
    ("user@\u0301a.de", "illegal combining character"),
    ("user@xn--zz.de", "Invalid A-label"),
])
def test_a_domain_idna_2008_refuses_is_refused_saying_so(address, reason):
    with pytest.raises(InvalidEmailError) as info:
        check_email_address(address)
    message = str(info.value)
    assert message.startswith(f"email: {address!r}: ") and "IDNA 2008" in message
    assert reason in message and "\n" not in message
    assert info.value.code == 108


def test_an_address_too_long_once_its_domain_is_encoded_is_refused():
    address = "a" * 60 + "@" + ".".join(["\u00fc" * 30] * 6) + ".de"  # 249 chars, 285 encoded
    assert len(address) <= 254
    with pytest.raises(InvalidEmailError, match="longer than 254 characters once its domain"):
        check_email_address(address)


def test_deferred_imports_idna_only_inside_functions():
    # jsonschema imports idna itself when it is installed; deferred adds no load-time import.
    for path in Path(addresses.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_functions = {id(node) for function in ast.walk(tree)
                        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for node in ast.walk(function)}
        for node in ast.walk(tree):
            if id(node) in in_functions:
                continue
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.split(".")[0] == "idna" for name in names), (
                f"{path} imports idna when it loads: import it where a domain is encoded")


def test_non_strings_are_refused():
    with pytest.raises(InvalidEmailError, match="must be a string, got list"):
        check_email_address(["a@example.com"])


@given(st.text(max_size=300))
def test_anything_accepted_is_one_header_safe_address(text):
    try:
        address = check_email_address(text)
    except InvalidEmailError as exc:
        assert "\n" not in str(exc)
        return
    assert address.count("@") == 1 and len(address) <= 254
    assert not any(char in address for char in "\r\n,;<>() \"")


# Text made of address parts and injection tricks, so that accepted addresses are common too

ATOMS = st.text(st.sampled_from("abcXYZ019!#$%&'*+/=?^_`{|}~-"), min_size=1, max_size=8)
LABELS = st.sampled_from(["example", "com", "b\u00fccher", "xn--bcher-kva", "a-b", "de",
                          "\u4f8b\u3048", "-bad", "bad-", "x" * 64, "y" * 63, "localhost"])
PLAIN = st.builds("{}@{}".format, st.lists(ATOMS, min_size=1, max_size=3).map(".".join),
                  st.lists(LABELS, min_size=1, max_size=4).map(".".join))
TRICKS = st.sampled_from(["\r\nBcc: victim@example.com", "\r", "\n", "\x00", ",", ";", " ",
                          "Boss <", ">", '"', "(comment)", "@", ".", "..", "\u2028", "\u0085",
                          "a" * 300, ", second@example.com", "%0d%0aBcc:x@y.z", "\t"])


@st.composite
def address_like(draw: st.DrawFn) -> str:
    text = draw(PLAIN)
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        where = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:where] + draw(TRICKS) + text[where:]
    return text


@given(address_like())
def test_an_accepted_address_is_the_one_and_only_recipient_header(text):
    try:
        address = check_email_address(text)
    except InvalidEmailError as exc:
        assert str(exc).startswith("email: ") and "\n" not in str(exc) and "\r" not in str(exc)
        return
    assert address == text and len(address) <= 254
    assert not any(ord(char) < 32 or ord(char) == 127 or char in ",;<>()\" " for char in address)
    message = build_message(
        OutgoingMail(task_id=1, task_name="t", status=TaskStatus.SUCCEEDED, recipient=address,
                     result="ok"),
        sender="deferred@example.com", max_attachment_bytes=1024)
    received = email.message_from_bytes(message.as_bytes(policy=SMTP_POLICY),
                                        policy=email.policy.default)  # unfolds long lines
    [to] = received.get_all("To")
    assert [item.addr_spec for item in to.addresses] == [ascii_address(address)]
    assert str(to) == ascii_address(address)
    assert received.get_all("Bcc") is None and received.get_all("Cc") is None
