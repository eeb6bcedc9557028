"""Retrieval and the answer / clarify / fallback decision.

Two kinds of evidence: the service classifier says which service a question is about (and
how sure it is, including "a service the base does not cover"); the retrievers' fused score
says whether an entry of that service is close enough to answer from. Answer when one covered
service clearly wins and has such an entry, ask which service is meant when covered services
are plausible but none wins, and admit not knowing otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from kb.classifier import ServiceGuess
from kb.embedder import Embedder
from kb.index import FORMAT, EmbeddingCache, Hit, HybridIndex, read_manifest
from kb.store import Entry, KnowledgeBase
from nlu.normalize import normalize
from nlu.segment import use_terms

OUTCOMES = ("answered", "clarify", "fallback")


@dataclass(frozen=True)
class Thresholds:
    """Where the evidence turns into a decision (tuned with `xiaoshen eval --tune`)."""

    dense_weight: float = 0.6  # share of the dense score in the fused retrieval score
    support: float = 0.25  # fused score an entry needs before its service can be offered
    margin: float = 0.4  # probability lead of the best service over the next one
    retrieval_lead: float = 0.08  # the service's lead in retrieval, unless ...
    sure: float = 0.9  # ... the classifier is at least this sure
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
class Evidence:
    hits: list[Hit] = field(default_factory=list)
    guesses: list[ServiceGuess] = field(default_factory=list)


@dataclass
class Decision:
    outcome: str
    entry: Entry | None = None
    score: float = 0.0  # how likely the question is about the best service (0..1)
    candidates: list[Candidate] = field(default_factory=list)
    other_service: str | None = None  # the uncovered service it is about, when known

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
            manifest.get("format") == FORMAT
            and manifest.get("revision") == key[0]
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
                progress=self.progress, others=self.kb.other_services(),
            )
            index.save(self.index_dir, self.embedder_name, built_on=key[1])
        self._entries = {entry.entry_id: entry for entry in live}
        self._index, self._index_key = index, key

    # -- querying -------------------------------------------------------------------------

    def evidence(self, query: str, item_no: int | None = None) -> Evidence:
        """Raw candidates from both retrievers and the classifier (none for an empty query)."""
        index = self.refresh()
        text = normalize(query)
        if not text:
            return Evidence()
        vector = self.embedder.encode([text])[0]
        hits = index.search(text, vector, k=20)
        if item_no is not None:
            hits = [hit for hit in hits if hit.item_no == item_no]
        return Evidence(hits, index.services.guess(text, vector))

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
        return self.rank(self.evidence(query, item_no).hits)[:k]

    def decide(self, query: str, item_no: int | None = None) -> Decision:
        """Answer, clarify (with candidate services) or fall back."""
        return self.judge(self.evidence(query, item_no), self.thresholds,
                          service_chosen=item_no is not None)

    def judge(self, evidence: Evidence, thresholds: Thresholds,
              service_chosen: bool = False) -> Decision:
        """The decision for gathered evidence under `thresholds`."""
        decision = decide(self.rank(evidence.hits, thresholds), evidence.guesses, thresholds,
                          service_chosen)
        if decision.outcome == "answered":
            decision.entry = self._entries[decision.candidates[0].entry_id]
        return decision

    def entry(self, entry_id: str) -> Entry:
        self.refresh()
        return self._entries.get(entry_id) or self.kb.get(entry_id)


def decide(
    ranked: list[Candidate],
    guesses: list[ServiceGuess],
    limits: Thresholds,
    service_chosen: bool = False,
) -> Decision:
    """The decision for ranked entries and the classifier's guesses (the caller adds the
    entry itself)."""
    best_entry = best_per_service(ranked)
    if service_chosen:  # the person picked the service: its best entry, if any
        if not ranked:
            return Decision("fallback")
        return Decision("answered", score=1.0, candidates=ranked[:5])
    backed = [g for g in guesses
              if g.item_no in best_entry and best_entry[g.item_no].score >= limits.support]
    top = guesses[0] if guesses else None
    # Named only when clearly about it: gibberish is nobody's service.
    other = top.name if top and top.item_no is None and top.probability >= limits.margin else None
    if top is None or not backed or other:
        return Decision("fallback", score=top.probability if top else 0.0, other_service=other)
    if top is backed[0]:
        runner_up = guesses[1].probability if len(guesses) > 1 else 0.0
        chosen = best_entry[top.item_no]
        rivals = [c.score for item, c in best_entry.items() if item != top.item_no]
        retrieval_lead = chosen.score - max(rivals, default=0.0)
        if top.probability - runner_up >= limits.margin and (
            retrieval_lead >= limits.retrieval_lead or top.probability >= limits.sure
        ):
            others = [c for c in ranked if c is not chosen][:4]
            return Decision("answered", score=top.probability, candidates=[chosen, *others])
    choices = backed[: limits.max_choices]
    return Decision("clarify", score=top.probability,
                    candidates=[best_entry[g.item_no] for g in choices])


def guesses_from_ranking(ranked: list[Candidate], temperature: float = 10.0) -> list[ServiceGuess]:
    """Service guesses from retrieval alone: a softmax over each service's best fused score
    (to compare retrieval without the classifier under the same decision rule)."""
    best = best_per_service(ranked)
    if not best:
        return []
    scores = np.array([c.score for c in best.values()]) * temperature
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    return [ServiceGuess(item_no, c.title, float(w))
            for (item_no, c), w in zip(best.items(), weights, strict=True)]


def best_per_service(ranked: list[Candidate]) -> dict[int, Candidate]:
    """Each service's best entry, in the order of `ranked`."""
    best: dict[int, Candidate] = {}
    for candidate in ranked:
        best.setdefault(candidate.item_no, candidate)
    return best
