"""A lease in the database: periodic work that exactly one gateway does at a time. The holder
renews it on every round; when it dies, another takes over once the lease has run out."""

from __future__ import annotations

import time

from kb.store import KnowledgeBase


class Lease:
    def __init__(self, kb: KnowledgeBase, name: str, holder: str, seconds: float) -> None:
        self.db = kb.db
        self.name = name
        self.holder = holder
        self.seconds = seconds

    def acquire(self) -> bool:
        """Take or renew the lease; False while another holder's is still running."""
        now = time.time()
        cursor = self.db.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at WHERE leases.holder = excluded.holder "
            "OR leases.expires_at < ?", [self.name, self.holder, now + self.seconds, now])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def release(self) -> None:
        self.db.execute("DELETE FROM leases WHERE name = ? AND holder = ?",
                        [self.name, self.holder])
        self.db.conn.commit()
