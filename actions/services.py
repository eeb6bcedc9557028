"""What the actions use, built once when the action server starts and handed to each action
(as Rasa's knowledge-base example hands its knowledge base to the action's constructor)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from kb.gaps import GapLog
from kb.grouping import Grouper, service_guess
from kb.ratings import Ratings
from kb.retrieval import Retriever
from kb.store import KnowledgeBase
from kb.turns import TurnLog


@dataclass(frozen=True)
class Services:
    kb: KnowledgeBase  # cheap lookups: services, departments, the catalogue
    retriever: Retriever  # questions: the embedder, the index and the classifier
    gaps: GapLog
    ratings: Ratings
    turns: TurnLog
    grouper: Grouper  # places misses into gap tasks (this process holds the embedder)

    @classmethod
    def over(cls, retriever: Retriever) -> Services:
        kb = retriever.kb
        grouper = Grouper(kb, retriever.cached_embedder(), guess=service_guess(retriever))
        gaps = GapLog(kb)
        gaps.place = after_reply(placing_a_batch(grouper, gaps))
        return cls(kb, retriever, gaps, Ratings(kb), TurnLog(kb), grouper)


PLACE_AFTER_SECONDS = 0.05
# Misses placed between two looks at the requests waiting: one, so a turn waits at most one
# placement (3 ms for a question just asked, whose vector is cached; 6 ms for an older one).
PLACE_BATCH = 1


def placing_a_batch(grouper: Grouper, gaps: GapLog) -> Callable[[], bool]:
    """Place the oldest PLACE_BATCH waiting misses; whether more wait. A backlog (thousands
    of abandoned clarifications after a start) placed in one go held every reply for
    seconds."""
    def place() -> bool:
        return bool(grouper.place_pending(limit=PLACE_BATCH)) and gaps.waiting() > 0
    return place


def after_reply(work: Callable[[], bool]) -> Callable[[], None]:
    """`work` run shortly after the reply that asked for it, once for all the requests made
    meanwhile, when an event loop serves the replies (the action server), and again after
    the requests that came in meantime while it says more is left; at once otherwise.
    Placing a miss into a gap task compares it with the open tasks: the citizen whose
    question went unanswered need not wait for that. A miss recorded but not yet placed when
    the process stops is placed at the next start."""
    scheduled = False

    def run() -> None:
        nonlocal scheduled
        more = False
        try:
            more = work()
        finally:  # a failed batch must not leave the next miss unscheduled for good
            if more:
                asyncio.get_running_loop().call_soon(run)
            else:
                scheduled = False

    def request() -> None:
        nonlocal scheduled
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: a script or a test calling the actions directly
            while work():
                pass
            return
        if not scheduled:
            scheduled = True
            loop.call_later(PLACE_AFTER_SECONDS, run)

    return request
