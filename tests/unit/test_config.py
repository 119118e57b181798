"""config.json is checked against a schema, frozen, and its errors name file and key."""

import json
import types
from pathlib import Path

import pytest

from deferred.config import Config, load_config, parse_config
from deferred.errors import ConfigError


def write(tmp_path, content) -> str:
    path = tmp_path / "config.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_no_file_gives_the_defaults():
    config = load_config(None)
    assert config == Config()
    assert config.db.url == "sqlite+pysqlite:///deferred.db"
    assert (config.limits.global_limit, dict(config.limits.names)) == (8, {})
    assert (config.http.host, config.http.port, config.http.sync_wait_s) == ("127.0.0.1", 5000, 30)


def test_every_documented_key_is_read(tmp_path):
    raw = {
        "db": {"url": "sqlite+pysqlite:///file.db"},
        "limits": {"global": 15, "names": {"some_task": 4}},
        "http": {"host": "0.0.0.0", "port": 8080, "public_url": "https://jobs.example.com",
                 "sync_wait_s": 2.5},
        "smtp": {"host": "mail", "port": 587, "sender": "jobs@example.com", "username": "u",
                 "password": "p", "security": "starttls", "timeout_s": 5},
        "shutdown_grace_s": 3,
    }
    config = load_config(write(tmp_path, raw))
    assert config.db.url == "sqlite+pysqlite:///file.db"
    assert config.limits.global_limit == 15
    assert config.limits.names == {"some_task": 4}
    assert config.http.public_url == "https://jobs.example.com"
    assert config.http.sync_wait_s == 2.5
    assert (config.smtp.security, config.smtp.port, config.smtp.password) == ("starttls", 587, "p")
    assert config.shutdown_grace_s == 3.0


def test_config_is_frozen():
    config = parse_config({"limits": {"names": {"a": 1}}})
    assert isinstance(config.limits.names, types.MappingProxyType)
    with pytest.raises(AttributeError):
        config.limits.global_limit = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.limits.names["b"] = 2  # type: ignore[index]


def test_integral_floats_become_ints():
    config = parse_config({"limits": {"global": 5.0, "names": {"a": 2.0}}, "http": {"port": 80.0}})
    assert type(config.limits.global_limit) is int and type(config.http.port) is int
    assert type(config.limits.names["a"]) is int


@pytest.mark.parametrize("raw, message", [
    ({"limits": {"global": -1}}, "$.limits.global: -1 is less than the minimum of 1"),
    ({"limits": {"names": {"some_task": 0}}},
     "$.limits.names.some_task: 0 is less than the minimum of 1"),
    ({"http": {"prot": 1}},
     "$.http.prot: unknown key (allowed: host, port, public_url, sync_wait_s, "
     "max_body_bytes, trusted_proxy)"),
    ({"dbs": {}}, "$.dbs: unknown key (allowed: db, limits, http, smtp, auth, recovery, "
                   "shutdown_grace_s, "
                  "retention_s, max_result_bytes)"),
    ({"http": {"port": 70000}}, "$.http.port: 70000 is greater than the maximum of 65535"),
    ({"http": {"port": True}}, "$.http.port: True is not of type 'integer'"),
    ({"smtp": {"security": "tls"}}, "$.smtp.security: 'tls' is not one of"),
    ({"smtp": {"username": "u"}}, "$.smtp: 'password' is a dependency of 'username'"),
    ({"smtp": {"sender": "not an address"}}, "$.smtp.sender: 'not an address' is not a 'email'"),
    ({"smtp": {"sender": "Jobs <jobs@\u2603.net>"}},
     "$.smtp.sender: '\u2603.net' is not a domain name IDNA 2008 allows (Codepoint U+2603"),
    ({"http": {"public_url": "ftp://x"}}, "$.http.public_url: 'ftp://x' does not match"),
    ({"shutdown_grace_s": "10"}, "$.shutdown_grace_s: '10' is not of type 'number'"),
    ([], "$: [] is not of type 'object'"),
])
def test_bad_values_name_file_and_key(tmp_path, raw, message):
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_an_international_sender_is_kept_as_written(tmp_path):
    config = load_config(write(tmp_path, {"smtp": {"sender": "Jobs <jobs@fa\u00df.de>"}}))
    assert config.smtp.sender == "Jobs <jobs@fa\u00df.de>"  # encoded when an email is built


def test_bad_json_gives_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "limits": {"global": 3,}\n}')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: invalid JSON at line 2 column 26: Expecting property "
                               "name enclosed in double quotes")


def test_duplicate_keys_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="duplicate key 'limits'"):
        load_config(write(tmp_path, '{"limits": {}, "limits": {"global": 2}}'))


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: cannot read the configuration: No such file or directory"


def test_the_projects_own_config_json_is_valid_and_stays_on_this_machine():
    config = load_config(Path(__file__).resolve().parents[2] / "config.json")
    assert config.http.host == "127.0.0.1" and config.http.port == 5000
    assert not config.auth.enabled  # open, so on loopback only: ./start.sh needs no login
