"""What the actions use, built once when the action server starts and handed to each action
(as Rasa's knowledge-base example hands its knowledge base to the action's constructor)."""

from __future__ import annotations

from dataclasses import dataclass

from kb.gaps import GapLog
from kb.grouping import Grouper, Place
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

    grouper: Grouper

    @classmethod
    def over(cls, retriever: Retriever) -> Services:
        kb = retriever.kb
        grouper = Grouper(kb, retriever.embedder, guess=service_guess(retriever))
        return cls(kb, retriever, GapLog(kb, grouper.place_pending), Ratings(kb), TurnLog(kb),
                   grouper)


GUESS_PROBABILITY = 0.5  # below it, a miss's service is left to the maintainers


def service_guess(retriever: Retriever):
    """The service classifier's guess for a miss the source could not place: a service of
    the base, or one it lacks (whose department then owns the task)."""
    def guess(text: str) -> Place | None:
        best = next(iter(retriever.guesses(text)), None)
        if best is None or best.probability < GUESS_PROBABILITY:
            return None
        if best.item_no is not None:
            item = retriever.kb.item(best.item_no)
            return Place(item.item_no, item.department) if item else None
        other = retriever.kb.other_service(best.name)
        return Place(None, other.department) if other else None
    return guess
