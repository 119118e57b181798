"""SQLAlchemy persistence of task records: `SqlTaskStore` on SQLite or PostgreSQL."""

from .sql_store import SqlTaskStore

__all__ = ["SqlTaskStore"]
