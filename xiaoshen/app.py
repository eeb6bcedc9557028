"""The composition root: the knowledge base and its retriever, opened as the settings say."""

from __future__ import annotations

from kb.embedder import load_embedder
from kb.retrieval import Retriever
from kb.snapshot import LiveSnapshot
from kb.store import KnowledgeBase
from nlu.segment import use_terms
from xiaoshen.settings import Settings


def open_kb(settings: Settings) -> KnowledgeBase:
    settings.db.parent.mkdir(parents=True, exist_ok=True)
    return KnowledgeBase(settings.db)


def open_retriever(settings: Settings, progress: bool = False) -> Retriever:
    """The retriever over the configured base, embedder and index folder."""
    kb = open_kb(settings)
    # Index and queries must be segmented alike, and like the Rasa model's dictionary.
    use_terms(item.name for item in kb.items().values())
    embedder = load_embedder(settings.embedder)
    live = LiveSnapshot(kb, embedder, settings.embedder, settings.index_dir, progress)
    return Retriever(live, embedder, settings.thresholds)
