"""Where events go: a room per conversation on the customer side (two, in fact: plain Rasa
clients and Xiaoshen's own page get different shapes), per seat and per department on the
seat side, and one for supervisors."""

from __future__ import annotations


def conversation_room(conversation_id: str, full: bool = False) -> str:
    """Sockets of this conversation; `full`: those that asked for Xiaoshen's extras."""
    return f"conversation:{conversation_id}" + (":full" if full else "")


def seat_room(name: str) -> str:
    return f"seat:{name}"


def department_room(department: str) -> str:
    return f"department:{department}"


SUPERVISORS = "supervisors"
