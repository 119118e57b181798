"""Email addresses at submit: exactly one plain address, or a clear refusal."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deferred.addresses import check_email_address
from deferred.errors import InvalidEmailError


@pytest.mark.parametrize("address", [
    "example@domain.com", "first.last+tag@sub.example.org", "o'brien@example.ie",
    "user@localhost", "x@b\u00fccher.de", "a" * 64 + "@example.com",
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
