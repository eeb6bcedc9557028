"""Questions in, decisions out: gather the evidence for a query and decide on it.

The snapshot it searches is kept fresh by `LiveSnapshot`; the decision rule itself is the
pure `kb.decision.decide`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import numpy as np

from kb.classifier import ServiceGuess
from kb.decision import Candidate, Decision, Evidence, Thresholds, decide, rank
from kb.embedder import Embedder
from kb.reply import Outcome
from kb.snapshot import Snapshot
from kb.store import Entry, Item, KnowledgeBase
from nlu.normalize import normalize
from nlu.segment import clauses
from nlu.variants import standard_wording

HITS_PER_QUERY = 20
QUESTION_CLAUSES = 3  # a message's last clauses tried alone when the whole asks which service


VECTOR_CACHE = 4096  # short texts a conversation repeats: "收费吗", "退休", a pending question


class Source(Protocol):
    """Where the snapshot searched comes from: `LiveSnapshot`, or one `Pinned` snapshot."""

    kb: KnowledgeBase

    def current(self) -> Snapshot: ...


class Pinned:
    """One snapshot, never refreshed: what a hit test decides on."""

    def __init__(self, kb: KnowledgeBase, snapshot: Snapshot) -> None:
        self.kb = kb
        self.snapshot = snapshot

    def current(self) -> Snapshot:
        return self.snapshot


class CachedEmbedder:
    """An embedder answering from a retriever's query-vector cache (`Retriever.vector`)."""

    def __init__(self, retriever: Retriever) -> None:
        self.vector = retriever.vector
        self.dimension = retriever.embedder.dimension

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vector(text) for text in texts])


class Retriever:
    """Answers queries from the live entries of a knowledge base."""

    def __init__(self, live: Source, embedder: Embedder,
                 thresholds: Thresholds | None = None) -> None:
        self.live = live
        self.kb = live.kb
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds()
        # A follow-up embeds the message and the words beyond its topic: the embedding was
        # 40% of a turn, and the same short texts come again and again.
        self.vector = lru_cache(maxsize=VECTOR_CACHE)(self._encode)

    def pinned(self, snapshot: Snapshot) -> Retriever:
        """A retriever deciding on `snapshot` alone, as this one decides (same thresholds,
        same query vectors)."""
        other = Retriever(Pinned(self.kb, snapshot), self.embedder, self.thresholds)
        other.vector = self.vector
        return other

    def items(self) -> dict[int, Item]:
        """The services, by number, as the served snapshot knows them (read with it, not
        from the base on every look: a follow-up looked several times)."""
        return self.live.current().items

    def _encode(self, text: str) -> np.ndarray:
        return self.embedder.encode([text])[0]

    def cached_embedder(self) -> Embedder:
        """This retriever's embedder through its query vectors: a miss placed into a gap task
        is most often the question just asked (half of a placement's 9.5 ms was embedding
        it again)."""
        return CachedEmbedder(self)

    def evidence(self, query: str, item_no: int | None = None) -> Evidence:
        """Raw candidates from both retrievers and the classifier (none for an empty query)."""
        snapshot = self.live.current()
        text = standard_wording(normalize(query))
        if not text:
            return Evidence()
        vector = self.vector(text)
        hits = snapshot.index.search(text, vector, k=HITS_PER_QUERY)
        if item_no is not None:
            hits = [hit for hit in hits if hit.item_no == item_no]
        return Evidence(hits, snapshot.services.guess(text, vector))

    def rank(self, evidence: Evidence, thresholds: Thresholds | None = None) -> list[Candidate]:
        """Candidates by fused score, best first. The evidence may come from the snapshot
        served before a swap: a hit on an entry no longer live is dropped."""
        entries = self.live.current().entries
        return rank([hit for hit in evidence.hits if hit.entry_id in entries], entries,
                    (thresholds or self.thresholds).dense_weight)

    def search(self, query: str, k: int = 5, item_no: int | None = None) -> list[Candidate]:
        """The best entries for `query`, highest fused score first."""
        return self.rank(self.evidence(query, item_no))[:k]

    def decision(self, query: str, item_no: int | None = None) -> Decision:
        """Answer, clarify (with candidate services) or fall back."""
        result = self.judge(self.evidence(query, item_no), self.thresholds,
                            service_chosen=item_no is not None)
        if result.outcome == Outcome.CLARIFY:
            return self.asked_last(query, result) or result
        return result

    def asked_last(self, query: str, whole: Decision) -> Decision | None:
        """A story, then the question ("我是外地户口，在上海买了房，办二手房过户收费吗"): when
        the whole message leaves several services plausible, its last clauses alone, the
        longest first, may answer with one of those offered, unless the clauses before them
        name another service ("普通货运，不是危险品" is about 普通货运)."""
        offered = {candidate.item_no for candidate in whole.candidates}
        parts = clauses(query)
        for start in range(max(1, len(parts) - QUESTION_CLAUSES), len(parts)):
            tail = self.judge(self.evidence("，".join(parts[start:])), self.thresholds)
            if tail.outcome == Outcome.ANSWERED and tail.item_no in offered:
                story = self.judge(self.evidence("，".join(parts[:start])), self.thresholds)
                named = story.outcome == Outcome.ANSWERED and story.item_no != tail.item_no
                return None if named else tail
        return None

    def judge(self, evidence: Evidence, thresholds: Thresholds,
              service_chosen: bool = False) -> Decision:
        """The decision for gathered evidence under `thresholds`, with its entry."""
        result = decide(self.rank(evidence, thresholds), evidence.guesses, thresholds,
                        service_chosen)
        if result.outcome == Outcome.ANSWERED:
            result.entry = self.entry(result.candidates[0].entry_id)
        return result

    def guesses(self, query: str) -> list[ServiceGuess]:
        """The classifier's guesses alone (which service a short phrase is about)."""
        text = standard_wording(normalize(query))
        if not text:
            return []
        return self.live.current().services.guess(text, self.vector(text))

    def entry_on(self, item_no: int, topic: str) -> Entry | None:
        """The service's live entry on `topic`, if it has one."""
        return self.live.current().by_topic.get((item_no, topic))

    def entry(self, entry_id: str) -> Entry:
        return self.live.current().entries.get(entry_id) or self.kb.get(entry_id)
