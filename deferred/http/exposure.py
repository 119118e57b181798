"""Whether a server may listen where it is told: open on loopback, with auth elsewhere."""

from __future__ import annotations

import logging

from ..access.identity import is_loopback
from ..config import Config
from ..errors import ConfigError

logger = logging.getLogger(__name__)


def check_exposure(config: Config) -> None:
    """Refuse to listen beyond this machine without auth. Raises `ConfigError`.

    On a loopback address only local users reach the server, and it may run open. Anywhere
    else it needs `auth` tokens or users, unless `auth.insecure` (`runserver --insecure`)
    says the operator knows; that is logged as loudly as we can."""
    host = config.http.host
    if config.auth.enabled or is_loopback(host):
        return
    if config.auth.insecure:
        logger.warning("INSECURE: listening on %s with no authentication (--insecure): anyone "
                       "who reaches this address can run, cancel and read every task", host)
        return
    raise ConfigError(f"{host!r} is not a loopback address, and no API tokens or users are "
                      "configured: anyone who reaches it could run tasks. Add tokens or users "
                      "under \"auth\" (python -m deferred.credentials makes them), listen on "
                      "127.0.0.1, or pass --insecure", where="http.host")
