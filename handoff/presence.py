"""Seats' presence, in the database so every gateway sees it: the status a seat chose
(online, away), when a gateway last saw one of its connections (each gateway heartbeats the
seats connected to it), and when its last connection closed.

A seat is reachable while it is online and a gateway saw it within `liveness`; a seat with
no live connection for longer than the grace has its chats re-queued by the sweep.
"""

from __future__ import annotations

from datetime import timedelta

from kb import clock
from kb.store import KnowledgeBase

STATES = ("online", "away")


class Presence:
    def __init__(self, kb: KnowledgeBase, liveness: float) -> None:
        self.db = kb.db
        self.liveness = liveness  # seconds a heartbeat counts for

    def connected(self, seat: str) -> None:
        now = clock.timestamp()
        self.db.execute(
            "INSERT INTO presence (user, status, updated_at, seen_at, disconnected_at) "
            "VALUES (?, 'online', ?, ?, NULL) ON CONFLICT (user) DO UPDATE SET "
            "seen_at = excluded.seen_at, disconnected_at = NULL, status = CASE WHEN "
            "status = 'away' THEN 'away' ELSE 'online' END", [seat, now, now])
        self.db.conn.commit()

    def disconnected(self, seat: str) -> None:
        """The last connection of `seat` on this gateway closed."""
        self.db.execute("UPDATE presence SET disconnected_at = ? WHERE user = ?",
                        [clock.timestamp(), seat])
        self.db.conn.commit()

    def heartbeat(self, seats: set[str]) -> None:
        """These seats have a live connection on this gateway."""
        if not seats:
            return
        now = clock.timestamp()
        self.db.conn.executemany(
            "UPDATE presence SET seen_at = ?, disconnected_at = NULL WHERE user = ?",
            [(now, seat) for seat in sorted(seats)])
        self.db.conn.commit()

    def choose(self, seat: str, status: str) -> None:
        assert status in STATES
        self.db.execute("UPDATE presence SET status = ?, updated_at = ? WHERE user = ?",
                        [status, clock.timestamp(), seat])
        self.db.conn.commit()

    def chosen(self, seat: str) -> str:
        """The status the seat chose (online unless it stepped away)."""
        row = self.db.execute("SELECT status FROM presence WHERE user = ?", [seat]).fetchone()
        return row[0] if row and row[0] in STATES else "online"

    def _since(self, seconds: float) -> str:
        return (clock.now() - timedelta(seconds=seconds)).isoformat(timespec="seconds")

    def reachable(self) -> set[str]:
        """Seats that are online and connected now."""
        return {row[0] for row in self.db.execute(
            "SELECT user FROM presence WHERE status = 'online' AND disconnected_at IS NULL "
            "AND seen_at >= ?", [self._since(self.liveness)])}

    def states(self) -> dict[str, str]:
        """Every seat's state as supervisors see it: online, away or offline."""
        live = self._since(self.liveness)
        return {row[0]: row[1] if row[2] is None and (row[3] or "") >= live else "offline"
                for row in self.db.execute(
                    "SELECT user, status, disconnected_at, seen_at FROM presence")}

    def gone(self, grace: float) -> list[str]:
        """Seats without a live connection for longer than `grace` seconds."""
        cutoff = self._since(grace)
        return [row[0] for row in self.db.execute(
            "SELECT user FROM presence WHERE disconnected_at <= ? OR "
            "(disconnected_at IS NULL AND seen_at <= ?)",
            [cutoff, self._since(grace + self.liveness)])]
