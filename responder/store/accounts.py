"""Accounts of the people who use the web page: users and failed logins.

Kept apart from the message tables (tables.py) but on the same metadata, created by
migration 0003. Passwords are stored only as argon2 hashes made in
``responder.app.accounts``; this module never sees a password.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from responder.store.repository import Repository
from responder.store.tables import Base, UTCDateTime


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))                 # "owner" | "rep"
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailureRow(Base):
    """One failed login: counted per (name, address) to throttle password guessing."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_login_failures_name_address_at", "name", "address", "at"),)


class AccountStore:
    """Reads and writes of the two tables, each in its own transaction."""

    def __init__(self, repo: Repository):
        self.repo = repo

    def get(self, name: str) -> UserRow | None:
        with self.repo.session() as s:
            return s.scalar(select(UserRow).where(UserRow.name == name))

    def all(self) -> list[UserRow]:
        with self.repo.session() as s:
            return list(s.scalars(select(UserRow).order_by(UserRow.name)))

    def count_owners(self) -> int:
        with self.repo.session() as s:
            return int(s.scalar(select(func.count()).select_from(UserRow)
                                .where(UserRow.role == "owner",
                                       UserRow.disabled.is_(False))) or 0)

    def put(self, name: str, *, role: str, password_hash: str, now: datetime) -> bool:
        """Create the user, or set role and password of an existing one. True if new."""
        with self.repo.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            created = row is None
            if row is None:
                row = UserRow(name=name, created_at=now, disabled=False)
                s.add(row)
            row.role = role
            row.password_hash = password_hash
            row.disabled = False
            row.updated_at = now
            return created

    def set_hash(self, name: str, password_hash: str, now: datetime) -> None:
        with self.repo.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is not None:
                row.password_hash = password_hash
                row.updated_at = now

    def note_login(self, name: str, now: datetime) -> None:
        with self.repo.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is not None:
                row.last_login_at = now

    def set_disabled(self, name: str, disabled: bool, now: datetime) -> bool:
        with self.repo.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                return False
            row.disabled = disabled
            row.updated_at = now
            return True

    # ---- throttling -------------------------------------------------------------------
    def failures_since(self, name: str, address: str, since: datetime) -> int:
        with self.repo.session() as s:
            return int(s.scalar(select(func.count()).select_from(LoginFailureRow)
                                .where(LoginFailureRow.name == name,
                                       LoginFailureRow.address == address,
                                       LoginFailureRow.at >= since)) or 0)

    def add_failure(self, name: str, address: str, now: datetime) -> None:
        with self.repo.session() as s:
            s.add(LoginFailureRow(name=name, address=address, at=now))

    def clear_failures(self, name: str, address: str, before: datetime | None = None) -> None:
        """Forget the failures of (name, address); with ``before``, everyone's older ones."""
        with self.repo.session() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.name == name,
                                                    LoginFailureRow.address == address))
            if before is not None:
                s.execute(delete(LoginFailureRow).where(LoginFailureRow.at < before))
