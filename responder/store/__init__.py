"""Storage: SQLAlchemy tables, Alembic migrations, and the one repository interface."""
from responder.store.repository import Repository, open_repository

__all__ = ["Repository", "open_repository"]
