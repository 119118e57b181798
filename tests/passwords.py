"""Password hashes for tests: the stored text as earlier versions of deferred wrote it (scrypt
N=2^14, 16 MiB, about 40 ms to check), which this version still verifies. The product's own
parameters (N=2^17, 128 MiB, about half a second here) come from `hash_password`, once per
password for a session through the `password_hash` fixture."""

from __future__ import annotations

import base64
import hashlib

EARLIER_N = 2**14


def earlier_hash(password: str, n: int = EARLIER_N, r: int = 8, p: int = 1) -> str:
    """`scrypt$N$r$p$salt$hash` for `password`, made with hashlib at the given parameters
    (default: those of earlier versions), with a fixed salt."""
    salt = b"sixteen byte slt"
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                            maxmem=2**30)
    return "$".join(["scrypt", str(n), str(r), str(p), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])
