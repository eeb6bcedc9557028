"""What the actions use, built once when the action server starts and handed to each action
(as Rasa's knowledge-base example hands its knowledge base to the action's constructor)."""

from __future__ import annotations

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
        grouper = Grouper(kb, retriever.embedder, guess=service_guess(retriever))
        return cls(kb, retriever, GapLog(kb, grouper.place_pending), Ratings(kb), TurnLog(kb),
                   grouper)
