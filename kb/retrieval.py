"""Retrieval and the answer / clarify / fallback decision.

Both retrievers' scores are fused into one number in 0..1 and the decision is made per
service: answer when one service is clearly best, ask which service is meant when a few are
close, and admit not knowing when nothing is close enough.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kb.embedder import Embedder
from kb.index import EmbeddingCache, Hit, HybridIndex, read_manifest
from kb.store import Entry, KnowledgeBase
from nlu.normalize import normalize
from nlu.segment import use_terms

OUTCOMES = ("answered", "clarify", "fallback")


@dataclass(frozen=True)
class Thresholds:
    """Where the fused score turns into a decision (tuned with `xiaoshen eval`)."""

    dense_weight: float = 0.5
    answer: float = 0.70  # answer from here when ahead of the next service by `margin`
    margin: float = 0.04
    clarify: float = 0.45  # below this: fall back; above it: answer if far enough ahead
    wide_margin: float = 0.10
    max_choices: int = 3


@dataclass(frozen=True)
class Candidate:
    item_no: int
    entry_id: str
    title: str
    score: float

    def as_dict(self) -> dict:
        return {"item_no": self.item_no, "entry_id": self.entry_id, "title": self.title,
                "score": round(self.score, 4)}


@dataclass
class Decision:
    outcome: str
    entry: Entry | None = None
    score: float = 0.0
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def item_no(self) -> int | None:
        if self.outcome != "answered" or not self.candidates:
            return None
        return self.candidates[0].item_no


class Retriever:
    """Answers queries from the live entries of a knowledge base, keeping its index fresh."""

    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder,
        embedder_name: str,
        index_dir: Path,
        thresholds: Thresholds | None = None,
        progress: bool = False,
    ) -> None:
        self.kb = kb
        self.embedder = embedder
        self.embedder_name = embedder_name
        self.index_dir = index_dir
        self.thresholds = thresholds or Thresholds()
        self.progress = progress
        self._index: HybridIndex | None = None
        self._index_key: tuple[int, str] | None = None
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    # -- keeping the index fresh ----------------------------------------------------------

    def refresh(self) -> HybridIndex:
        """The index for the base's current revision and today's effective entries."""
        key = (self.kb.revision, date.today().isoformat())
        if self._index is not None and self._index_key == key:
            return self._index
        with self._lock:
            if self._index is None or self._index_key != key:
                self._load_or_build(key)
        assert self._index is not None
        return self._index

    def _load_or_build(self, key: tuple[int, str]) -> None:
        # Index and queries must be segmented alike, in whichever process builds or loads.
        use_terms(item.name for item in self.kb.items().values())
        live = self.kb.live_entries(date.fromisoformat(key[1]))
        manifest = read_manifest(self.index_dir)
        fresh = (
            manifest.get("revision") == key[0]
            and manifest.get("built_on") == key[1]
            and manifest.get("embedder") == self.embedder_name
        )
        if fresh:
            index = HybridIndex.load(self.index_dir)
        else:
            self.index_dir.parent.mkdir(parents=True, exist_ok=True)
            cache = EmbeddingCache(
                self.index_dir.with_name(self.index_dir.name + "-vectors.db"), self.embedder_name
            )
            index = HybridIndex.build(
                live, self.kb.items(), self.embedder, cache, revision=key[0],
                progress=self.progress,
            )
            index.save(self.index_dir, self.embedder_name, built_on=key[1])
        self._entries = {entry.entry_id: entry for entry in live}
        self._index, self._index_key = index, key

    # -- querying -------------------------------------------------------------------------

    def hits(self, query: str, item_no: int | None = None) -> list[Hit]:
        """Raw candidates from both retrievers (empty for an empty query)."""
        index = self.refresh()
        text = normalize(query)
        if not text:
            return []
        hits = index.search(text, self.embedder.encode([text])[0], k=20)
        return [hit for hit in hits if item_no is None or hit.item_no == item_no]

    def rank(self, hits: list[Hit], thresholds: Thresholds | None = None) -> list[Candidate]:
        """Candidates by fused score, best first."""
        weight = (thresholds or self.thresholds).dense_weight
        ranked = [
            Candidate(hit.item_no, hit.entry_id, self._entries[hit.entry_id].question,
                      weight * max(hit.dense, 0.0) + (1 - weight) * hit.lexical)
            for hit in hits
        ]
        return sorted(ranked, key=lambda c: -c.score)

    def search(self, query: str, k: int = 5, item_no: int | None = None) -> list[Candidate]:
        """The best entries for `query`, highest fused score first."""
        return self.rank(self.hits(query, item_no))[:k]

    def decide(self, query: str, item_no: int | None = None) -> Decision:
        """Answer, clarify (with candidate services) or fall back."""
        decision = decide(self.rank(self.hits(query, item_no)), self.thresholds,
                          service_chosen=item_no is not None)
        if decision.outcome == "answered":
            decision.entry = self._entries[decision.candidates[0].entry_id]
        return decision

    def entry(self, entry_id: str) -> Entry:
        self.refresh()
        return self._entries.get(entry_id) or self.kb.get(entry_id)


def decide(ranked: list[Candidate], limits: Thresholds, service_chosen: bool = False) -> Decision:
    """The decision for ranked candidates (without the entry itself, which the caller adds)."""
    services = _best_per_service(ranked)
    if not services or services[0].score < limits.clarify:
        return Decision("fallback", score=services[0].score if services else 0.0,
                        candidates=services[: limits.max_choices])
    top = services[0]
    runner_up = services[1].score if len(services) > 1 else 0.0
    lead = top.score - runner_up
    confident = (top.score >= limits.answer and lead >= limits.margin) or lead >= limits.wide_margin
    if confident or service_chosen:
        return Decision("answered", score=top.score, candidates=ranked[:5])
    close = [c for c in services if c.score >= limits.clarify][: limits.max_choices]
    return Decision("clarify", score=top.score, candidates=close)


def _best_per_service(ranked: list[Candidate]) -> list[Candidate]:
    best: dict[int, Candidate] = {}
    for candidate in ranked:
        if candidate.item_no not in best:
            best[candidate.item_no] = candidate
    return list(best.values())
