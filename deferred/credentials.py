"""`python -m deferred.credentials token|user --name NAME --role ROLE`: the `config.json`
entry of a new API token or UI user. Only hashes go into the file. Nothing imports this
module (so `-m` runs it fresh); the hashing itself is in `identity`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from .access.identity import MAX_PASSWORD_CHARS, ROLE_LABELS, hash_password, new_token, token_hash


def main(argv: list[str] | None = None) -> int:
    """`python -m deferred.credentials token|user --name NAME --role ROLE`: print the
    `config.json` entry of a new API token (and the token, once) or of a user, whose password
    is read from the terminal (or one line of stdin)."""
    parser = argparse.ArgumentParser(
        prog="python -m deferred.credentials",
        description="Make an entry for the `auth` section of config.json. Only hashes go "
                    "into the file.")
    parser.add_argument("kind", choices=("token", "user"),
                        help="token: a new API token; user: a user who logs in to the UI")
    parser.add_argument("--name", required=True, help="who it is for, shown in the audit log")
    parser.add_argument("--role", choices=ROLE_LABELS, default="read",
                        help="read: view; submit: also launch, cancel and retry; admin: also "
                             "the audit log (default: read)")
    args = parser.parse_args(argv)
    if args.kind == "token":
        token = new_token()
        entry = {"name": args.name, "role": args.role, "hash": token_hash(token)}
        sys.stderr.write("token (shown once; send it as 'Authorization: Bearer TOKEN'):\n")
        sys.stdout.write(f"{token}\n")
        sys.stderr.write('add to "auth": {"tokens": [...]} in config.json:\n')
    else:
        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
            if getpass.getpass("again: ") != password:
                sys.stderr.write("the passwords differ\n")
                return 2
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        if not 8 <= len(password) <= MAX_PASSWORD_CHARS:
            sys.stderr.write(f"a password needs 8 to {MAX_PASSWORD_CHARS} characters\n")
            return 2
        entry = {"name": args.name, "role": args.role, "password": hash_password(password)}
        sys.stderr.write('add to "auth": {"users": [...]} in config.json:\n')
    sys.stdout.write(json.dumps(entry) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
