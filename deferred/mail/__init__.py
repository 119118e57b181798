"""Result emails: the message built from a finished task (pure) and `SmtpMailer` (sending)."""

from .message import build_message
from .smtp import SmtpMailer

__all__ = ("SmtpMailer", "build_message")
