"""Open the knowledge base and its retriever as the settings say (one place for both)."""

from __future__ import annotations

import sys
from functools import cache

from kb.embedder import load_embedder
from kb.retrieval import Retriever, Thresholds
from kb.store import KnowledgeBase
from xiaoshen import settings


def open_kb() -> KnowledgeBase:
    path = settings.path("db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return KnowledgeBase(path)


def thresholds() -> Thresholds:
    return Thresholds(
        dense_weight=float(settings.get("dense_weight")),
        support=float(settings.get("support")),
        margin=float(settings.get("margin")),
        retrieval_lead=float(settings.get("retrieval_lead")),
        sure=float(settings.get("sure")),
    )


def open_retriever(progress: bool = False) -> Retriever:
    name = settings.get("embedder")
    return Retriever(
        open_kb(), load_embedder(name), name, settings.path("index_dir"), thresholds(), progress
    )


@cache
def shared_retriever() -> Retriever:
    """One retriever per process (the action server), loaded on first use."""
    import faiss

    # A query is one short sentence: intra-op threads only spin against Rasa for the cores
    # (measured 465 ms per query with the default threads on 2 busy cores, 13 ms with one).
    faiss.omp_set_num_threads(1)
    retriever = open_retriever()
    if "torch" in sys.modules:  # only a sentence-transformers embedder brings torch in
        sys.modules["torch"].set_num_threads(1)
    return retriever
