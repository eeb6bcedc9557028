"""Rasa's ticket locks (one conversation's messages handled one at a time, in order of
arrival), with a waiting message served as soon as its turn comes and fewer store round trips.

Rasa's `LockStore.lock` looks for a waiting message's turn once a second: of three messages
of one conversation posted at once, the second was answered after 1 s and the third after 2 s,
though each turn takes ~20 ms. Here a waiting message looks every `POLL_SECONDS`.

Rasa also reads the lock again after issuing a ticket and reads it twice while releasing it:
seven Redis commands for a message nobody waits behind. Here the ticket's own read decides
whether to wait, and releasing reads once: four commands. The tickets, their lifetimes and
their order are Rasa's (`TicketLock`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    LockStore,
    RedisLockStore,
)
from rasa.utils.endpoints import EndpointConfig

POLL_SECONDS = 0.01  # a turn takes ~20 ms: a waiting message starts within half a turn


class PromptLocks(LockStore):
    """Ticket locking for any of Rasa's lock stores: mixed in before the store's class."""

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_SECONDS,
    ) -> AsyncGenerator[TicketLock, None]:
        issued, ticket = self._issue(conversation_id, lock_lifetime)
        try:
            if not issued.is_locked(ticket):
                yield issued
            else:
                yield await self._acquire_lock(conversation_id, ticket,
                                               min(wait_time_in_seconds, POLL_SECONDS))
        finally:
            self.cleanup(conversation_id, ticket)

    def _issue(self, conversation_id: str, lock_lifetime: float) -> tuple[TicketLock, int]:
        """Rasa's `issue_ticket`, also giving back the lock as the ticket left it."""
        try:
            lock = self.get_or_create_lock(conversation_id)
            ticket = lock.issue_ticket(lock_lifetime)
            self.save_lock(lock)
        except Exception as error:  # as Rasa's: the store's failure becomes a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        return lock, ticket

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back; the lock goes once no one is waiting (one read, not two)."""
        lock = self.get_lock(conversation_id)
        if lock is None:
            return
        lock.remove_ticket_for(ticket_number)
        if lock.is_someone_waiting():
            self.save_lock(lock)
        else:
            self.delete_lock(conversation_id)


class PromptInMemoryLockStore(PromptLocks, InMemoryLockStore):
    """One Rasa process: its locks in memory (bot/endpoints.yml)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None) -> None:
        super().__init__()


class PromptRedisLockStore(PromptLocks, RedisLockStore):
    """Several Rasa processes: their locks in Redis (bot/endpoints-redis.yml)."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
