"""Help-desk staff: accounts with hashed passwords (argon2), roles and login sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils.db import NotFoundError

from kb import clock
from kb.store import KnowledgeBase

SESSION_HOURS = 12  # one working day and its overtime
MIN_PASSWORD_CHARS = 8


class StaffError(Exception):
    """A staff account cannot be created or used as asked."""


class LoginFailed(StaffError):
    """Unknown name, wrong password or expired session (never says which)."""


class Role(StrEnum):
    AGENT = "agent"  # a seat (线上人工帮办)
    MAINTAINER = "maintainer"  # knowledge-base maintainer
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Staff:
    name: str
    role: Role
    department: str
    capacity: int  # concurrent chats a seat takes


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffDirectory:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.db = kb.db
        self.hasher = PasswordHasher()

    def add(self, name: str, role: str, password: str, department: str = "",
            capacity: int = 3) -> Staff:
        name = name.strip()
        if not name:
            raise StaffError("a name is required")
        try:
            role = Role(role)
        except ValueError:
            raise StaffError(f"role must be one of {', '.join(Role)}, not {role!r}") from None
        if role == Role.AGENT and not department.strip():
            raise StaffError("a seat (agent) needs --department")
        if len(password) < MIN_PASSWORD_CHARS:
            raise StaffError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
        if capacity < 1:
            raise StaffError("capacity must be at least 1")
        if self.find(name):
            raise StaffError(f"a user named {name!r} exists already")
        self.db["users"].insert({"name": name, "role": role.value,
                                 "department": department.strip(),
                                 "password_hash": self.hasher.hash(password),
                                 "capacity": capacity, "created_at": clock.timestamp()})
        return Staff(name, role, department.strip(), capacity)

    def find(self, name: str) -> Staff | None:
        try:
            row = self.db["users"].get(name)
        except NotFoundError:
            return None
        return Staff(row["name"], Role(row["role"]), row["department"] or "", row["capacity"])

    def login(self, name: str, password: str) -> str:
        """A new session token for the right name and password."""
        try:
            stored = self.db["users"].get(name)["password_hash"]
            self.hasher.verify(stored, password)
        except (NotFoundError, VerificationError, InvalidHashError):
            raise LoginFailed("wrong name or password") from None
        token = secrets.token_urlsafe(32)
        now = clock.now()
        self.db["staff_sessions"].insert({
            "token_hash": _digest(token), "user": name, "created_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=SESSION_HOURS)).isoformat()})
        return token

    def session(self, token: str) -> Staff:
        """The staff member a session token belongs to."""
        try:
            row = self.db["staff_sessions"].get(_digest(token or ""))
        except NotFoundError:
            raise LoginFailed("not logged in") from None
        if row["expires_at"] < clock.now().isoformat():
            raise LoginFailed("the session has expired; log in again")
        staff = self.find(row["user"])
        if staff is None:
            raise LoginFailed("not logged in")
        return staff

    def seats(self, department: str) -> list[Staff]:
        rows = self.db["users"].rows_where("role = ? AND department = ?",
                                           [Role.AGENT.value, department])
        return [Staff(r["name"], Role(r["role"]), r["department"], r["capacity"]) for r in rows]
