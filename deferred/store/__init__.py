"""SQLAlchemy persistence of task records: `SqlTaskStore` on SQLite or PostgreSQL."""

from .sql_store import SqlTaskStore
from .wakeups import WakeupListener

__all__ = ("SqlTaskStore", "WakeupListener")
