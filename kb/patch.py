"""A full index with a few entries added, replaced or removed, without rebuilding it.

This is how a publish goes live within seconds while the full rebuild runs in the background
(`kb/snapshot.py`), and how a hit test sees a draft as if it were published. The full index
is shared, never changed: its replaced and removed entries are hidden from its search, and
the patch's own entries are scored beside it with the full index's IDFs, so their scores
compare with the others'. A term no indexed entry has counts as unseen (the highest IDF)
until the next full build; BM25 is not needed to find them: a patch holds a few entries,
each scored on every query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from kb.index import Hit, HybridIndex, best_hits, covered, document_of, question_tokens
from kb.store import Entry, Item
from nlu.segment import sound, tokenize, with_sounds


class PatchedIndex:
    """`base` with `entries` (one row per question in `vectors`) in place of the entries of
    the same id, and the entries named in `removed` gone."""

    def __init__(self, base: HybridIndex, entries: Sequence[Entry], items: dict[int, Item],
                 vectors: np.ndarray, removed: Iterable[str] = ()) -> None:
        self.base = base
        gone = {entry.entry_id for entry in entries} | set(removed)
        self.hidden = frozenset(base.positions[entry_id] for entry_id in gone
                                if entry_id in base.positions)
        self.hidden_rows = sum(len(base.entry_rows[position]) for position in self.hidden)
        self.entries = list(entries)
        self.documents = [set(document_of(entry, items)) for entry in self.entries]
        self.row_tokens = [question_tokens(entry) for entry in self.entries]
        self.vectors: list[np.ndarray] = []
        start = 0
        for entry in self.entries:
            self.vectors.append(vectors[start : start + len(entry.questions)])
            start += len(entry.questions)

    @property
    def size(self) -> int:
        return self.base.size - len(self.hidden) + len(self.entries)

    def search(self, query: str, query_vector: np.ndarray, k: int = 10) -> list[Hit]:
        """The best `k` entries for `query` among the base's visible ones and the patch's."""
        hits = self.base.search(query, query_vector, k, self.hidden, self.hidden_rows)
        tokens = tokenize(query)
        found = set(with_sounds(tokens))
        weighted = self.base.weighted(tokens)
        # A patched entry is a candidate as the base's are: close in meaning (at least as
        # close as the base's weakest dense candidate) or sharing a word with the query.
        floor = min((hit.dense for hit in hits), default=-1.0)
        for entry, document, rows, vectors in zip(self.entries, self.documents,
                                                  self.row_tokens, self.vectors, strict=True):
            dense = float((vectors @ query_vector).max()) if len(vectors) else -1.0
            lexical = (covered(weighted, document) + self._recall(found, rows)) / 2
            if dense >= floor or lexical > 0:
                hits.append(Hit(entry.entry_id, entry.item_no, dense, lexical))
        return best_hits(hits, k)

    def _recall(self, found: set[str], rows: list[list[str]]) -> float:
        """As `HybridIndex._recalls` for one entry: the largest IDF share of one of its
        questions found in the query (a homophone counts 80%)."""
        best = 0.0
        for tokens in rows:
            weights = [self.base.idf(token) for token in tokens]
            total = sum(weights) or 1.0
            share = sum(weight * (1.0 if token in found else 0.8 if sound(token) in found
                                  else 0.0)
                        for token, weight in zip(tokens, weights, strict=True))
            best = max(best, share / total)
        return best
