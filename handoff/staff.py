"""Help-desk staff: accounts with hashed passwords (argon2), roles and login sessions.

A login is a random token in an HttpOnly cookie, stored hashed; it expires after
`idle_seconds` without use (and after SESSION_HOURS in any case), and logging out revokes it.
Failed logins are counted per name and per client address in the database, so throttling
holds across gateways and restarts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils.db import NotFoundError

from kb import clock
from kb.store import KnowledgeBase

SESSION_HOURS = 12  # one working day and its overtime
MIN_PASSWORD_CHARS = 8
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5  # a person mistyping; more is guessing
MAX_FAILURES_PER_ADDRESS = 20  # a shared office address has several people
TOUCH_SECONDS = 30  # write a session's last use at most this often


class StaffError(Exception):
    """A staff account cannot be created or used as asked."""


class LoginFailed(StaffError):
    """Unknown name, wrong password or expired session (never says which)."""


class LoginThrottled(StaffError):
    """Too many failed logins for this name or from this address."""


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
    def __init__(self, kb: KnowledgeBase, idle_seconds: float = 7200) -> None:
        self.db = kb.db
        self.hasher = PasswordHasher()
        self.idle = timedelta(seconds=idle_seconds)

    @cached_property
    def decoy(self) -> str:
        """Unknown names are checked against this, so they take as long as known ones."""
        return self.hasher.hash(secrets.token_hex(16))

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

    def login(self, name: str, password: str, address: str = "") -> str:
        """A new session token for the right name and password."""
        self.check_throttle(name, address)
        if not self.verify(self.password_hash(name), password):
            self.failed(name, address)
            raise LoginFailed("wrong name or password")
        return self.open_session(name)

    def password_hash(self, name: str) -> str | None:
        try:
            return self.db["users"].get(name)["password_hash"]
        except NotFoundError:
            return None

    def verify(self, stored: str | None, password: str) -> bool:
        """The password check alone: CPU-bound (argon2), touching no database, so callers on
        an event loop run it in a thread. Unknown names take as long as known ones."""
        try:
            self.hasher.verify(stored or self.decoy, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored is not None

    def failed(self, name: str, address: str) -> None:
        self.db["login_failures"].insert({"name": name[:100], "address": address,
                                          "created_at": clock.timestamp()})

    def open_session(self, name: str) -> str:
        self.db.execute("DELETE FROM login_failures WHERE name = ?", [name])
        token = secrets.token_urlsafe(32)
        now = clock.now()
        self.db["staff_sessions"].insert({
            "token_hash": _digest(token), "user": name, "created_at": now.isoformat(),
            "last_seen_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=SESSION_HOURS)).isoformat()})
        return token

    def check_throttle(self, name: str, address: str) -> None:
        since = (clock.now() - FAILURE_WINDOW).isoformat()
        by_name = self.db.execute("SELECT count(*) FROM login_failures WHERE name = ? AND "
                                  "created_at >= ?", [name[:100], since]).fetchone()[0]
        by_address = self.db.execute("SELECT count(*) FROM login_failures WHERE address = ? "
                                     "AND created_at >= ?", [address, since]).fetchone()[0]
        if by_name >= MAX_FAILURES_PER_NAME or (address and
                                                by_address >= MAX_FAILURES_PER_ADDRESS):
            raise LoginThrottled("too many failed logins")

    def session(self, token: str, touch: bool = True) -> Staff:
        """The staff member a session token belongs to; its use (`touch`) keeps it alive."""
        try:
            row = self.db["staff_sessions"].get(_digest(token or ""))
        except NotFoundError:
            raise LoginFailed("not logged in") from None
        now = clock.now()
        last_seen = datetime.fromisoformat(row["last_seen_at"] or row["created_at"])
        if (row["revoked_at"] or row["expires_at"] < now.isoformat()
                or now - last_seen > self.idle):
            raise LoginFailed("the session has expired; log in again")
        staff = self.find(row["user"])
        if staff is None:
            raise LoginFailed("not logged in")
        if touch and (now - last_seen).total_seconds() > TOUCH_SECONDS:
            self.db["staff_sessions"].update(row["token_hash"],
                                             {"last_seen_at": now.isoformat()})
        return staff

    def logout(self, token: str) -> None:
        self.db.execute("UPDATE staff_sessions SET revoked_at = ? WHERE token_hash = ?",
                        [clock.timestamp(), _digest(token or "")])
        self.db.conn.commit()

    def seats(self, department: str) -> list[Staff]:
        rows = self.db["users"].rows_where("role = ? AND department = ?",
                                           [Role.AGENT.value, department])
        return [Staff(r["name"], Role(r["role"]), r["department"], r["capacity"]) for r in rows]
