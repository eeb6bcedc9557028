"""Assignment: which seat gets a chat. The least-loaded reachable seat of the department,
claimed with one conditional UPDATE (never two seats on one chat, whichever gateway asks)."""

from __future__ import annotations

from handoff.presence import Presence
from handoff.staff import Staff, StaffDirectory
from handoff.store import ConversationStore


class Assignment:
    def __init__(self, store: ConversationStore, staff: StaffDirectory,
                 presence: Presence) -> None:
        self.store = store
        self.staff = staff
        self.presence = presence

    def online_seats(self, department: str) -> list[Staff]:
        reachable = self.presence.reachable()
        return [seat for seat in self.staff.seats(department) if seat.name in reachable]

    def has_room(self, seat: Staff) -> bool:
        return self.store.load(seat.name) < seat.capacity

    def pick(self, conversation_id: str) -> str | None:
        """Claim the conversation for the least-loaded reachable seat with room."""
        conversation = self.store.get(conversation_id)
        seats = sorted(self.online_seats(conversation["department"]),
                       key=lambda seat: self.store.load(seat.name))
        for seat in seats:
            if self.has_room(seat) and self.store.claim(conversation_id, seat.name):
                return seat.name
        return None

    def to_seat(self, conversation_id: str, seat: Staff) -> bool:
        """Claim it for this seat, if the seat is reachable and has room."""
        return (seat.name in self.presence.reachable() and self.has_room(seat)
                and self.store.claim(conversation_id, seat.name))

    def fill(self, seat: Staff) -> list[str]:
        """Claim waiting chats of the seat's department while it has room and is online."""
        if seat.name not in self.presence.reachable():
            return []
        claimed = []
        for conversation in self.store.queue(seat.department):
            if not self.has_room(seat):
                break
            if self.store.claim(conversation["id"], seat.name):
                claimed.append(conversation["id"])
        return claimed
