"""A gateway conversation's state: who has it, and the moves between them.

"bot" (Rasa answers) → "queued" (waits for a seat of its department) → "human" (a seat has
it; the bot stays silent) → back to "bot" when the seat ends it, or back to "queued" when
it is transferred or its seat went away. Every move is one conditional UPDATE, so two
gateways (or two seats) racing for the same move never both win.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    HUMAN = "human"


class Move(StrEnum):
    ESCALATE = "escalate"  # the citizen asks for a human
    CLAIM = "claim"  # a seat takes a waiting chat
    TRANSFER = "transfer"  # a seat hands it to another queue
    REQUEUE = "requeue"  # its seat went away
    END = "end"  # the seat ends the chat


# move → (the modes it may start from, the mode it leads to)
MOVES: dict[Move, tuple[frozenset[Mode], Mode]] = {
    Move.ESCALATE: (frozenset({Mode.BOT}), Mode.QUEUED),
    Move.CLAIM: (frozenset({Mode.QUEUED}), Mode.HUMAN),
    Move.TRANSFER: (frozenset({Mode.HUMAN}), Mode.QUEUED),
    Move.REQUEUE: (frozenset({Mode.HUMAN}), Mode.QUEUED),
    Move.END: (frozenset({Mode.HUMAN}), Mode.BOT),
}


def allowed(move: Move, mode: str) -> bool:
    return mode in MOVES[move][0]
