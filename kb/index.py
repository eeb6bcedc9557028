"""The hybrid index over live entries: dense vectors in FAISS, jieba tokens in BM25.

Each question (standard and similar) is one dense row; each entry is one lexical document.
The service classifier is trained beside it, not by it (`kb/snapshot.py` builds both).
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import bm25s
import faiss
import numpy as np
import sqlite_utils
from scipy.sparse import csr_matrix
from tqdm import tqdm

from kb.embedder import Embedder
from kb.store import Entry, Item
from nlu.segment import sound, tokenize, with_sounds

# Tokens with their sound and IDF, and the IDF total.
Weighted = tuple[list[tuple[str, str | None, float]], float]

HNSW_FROM_ROWS = 50_000  # exact search below this size, graph search above it
ENCODE_BATCH = 256
LOOKUP_BATCH = 500  # texts per cache query (SQLite's bound-parameter limit is 999 on old builds)
# Rows of a saved table per line: a snapshot is loaded beside the questions being answered,
# and one json.loads of a 100k-entry base's tables held the interpreter for seconds.
TABLE_LINE_ROWS = 1000
TABLES_FILE = "tables.jsonl"


@dataclass(frozen=True)
class Hit:
    """A candidate entry for a query with its two retrieval scores."""

    entry_id: str
    item_no: int
    dense: float  # best cosine between the query and the entry's questions
    lexical: float  # how well the wording matches, both ways (0..1), see `search`


class EmbeddingCache:
    """Vectors already computed for (model, text), so a rebuild only encodes new wording."""

    def __init__(self, path: Path, model: str) -> None:
        self.db = sqlite_utils.Database(path)
        self.model = model
        if "vectors" not in self.db.table_names():
            self.db["vectors"].create({"model": str, "text": str, "vector": bytes},
                                      pk=("model", "text"))

    def encode(self, embedder: Embedder, texts: Sequence[str], progress: bool) -> np.ndarray:
        known = self.known(texts)
        missing = sorted({text for text in texts if text not in known})
        batches = range(0, len(missing), ENCODE_BATCH)
        for start in tqdm(batches, desc="编码问句 encoding", disable=not progress or not missing):
            chunk = missing[start : start + ENCODE_BATCH]
            vectors = embedder.encode(chunk)
            self.db["vectors"].insert_all(
                [{"model": self.model, "text": t, "vector": v.astype(np.float32).tobytes()}
                 for t, v in zip(chunk, vectors, strict=True)],
                pk=("model", "text"), replace=True,
            )
            known.update(zip(chunk, vectors, strict=True))
        return np.vstack([known[text] for text in texts]).astype(np.float32)

    def known(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors of `texts` (only those asked for: a patch of one entry reads a
        handful of rows, not the whole cache)."""
        wanted = sorted(set(texts))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), LOOKUP_BATCH):
            chunk = wanted[start : start + LOOKUP_BATCH]
            marks = ", ".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT text, vector FROM vectors WHERE model = ? AND text IN ({marks})",
                [self.model, *chunk])
            found.update((text, np.frombuffer(vector, dtype=np.float32)) for text, vector in rows)
        return found


class HybridIndex:
    """Search live entries by meaning (FAISS) and by wording (BM25 over jieba tokens)."""

    def __init__(
        self,
        dense: faiss.Index,
        row_entries: list[int],
        entry_ids: list[str],
        entry_items: list[int],
        entry_tokens: list[set[str]],
        row_tokens: list[list[str]],
        lexical: bm25s.BM25,
        document_frequency: dict[str, int],
    ) -> None:
        self.dense = dense
        self.row_entries = row_entries
        self.entry_ids = entry_ids
        self.entry_items = entry_items
        self.entry_tokens = entry_tokens
        self.row_tokens = row_tokens
        self.entry_rows: list[list[int]] = [[] for _ in entry_ids]
        for row, position in enumerate(row_entries):
            self.entry_rows[position].append(row)
        self.lexical = lexical
        self.document_frequency = document_frequency
        # IDF per known token, precomputed: the lexical score looks it up thousands of times.
        self._unseen_idf = math.log(1 + len(entry_ids) / 0.5)
        self._idfs = {token: math.log(1 + len(entry_ids) / (count + 0.5))
                      for token, count in document_frequency.items()}
        self._build_row_weights()

    @property
    def size(self) -> int:
        return len(self.entry_ids)

    # -- building -------------------------------------------------------------------------

    @classmethod
    def build(cls, entries: Sequence[Entry], items: dict[int, Item], vectors: np.ndarray,
              progress: bool = False) -> HybridIndex:
        """Index `entries`; `vectors` holds one row per question, in `questions_of` order."""
        row_entries: list[int] = []
        row_tokens: list[list[str]] = []
        documents: list[list[str]] = []
        for position, entry in enumerate(entries):
            row_entries += [position] * len(entry.questions)
            row_tokens += question_tokens(entry)
            documents.append(document_of(entry, items))
        dense = _new_dense_index(vectors.shape[1], len(row_entries))
        if row_entries:
            dense.add(vectors)
        lexical = bm25s.BM25()
        if documents:
            lexical.index(documents, show_progress=progress)
        frequency = Counter(token for doc in documents for token in set(doc))
        return cls(
            dense, row_entries, [e.entry_id for e in entries], [e.item_no for e in entries],
            [set(doc) for doc in documents], row_tokens, lexical, dict(frequency),
        )

    # -- searching ------------------------------------------------------------------------

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each entry's position, by id."""
        return {entry_id: position for position, entry_id in enumerate(self.entry_ids)}

    def search(self, query: str, query_vector: np.ndarray, k: int = 10,
               hidden: frozenset[int] = frozenset(), hidden_rows: int = 0) -> list[Hit]:
        """The best `k` entries for `query`, merged from both retrievers; the entries at the
        `hidden` positions (holding `hidden_rows` questions) are left out: a patch replaced
        or removed them (kb/patch.py)."""
        if len(hidden) >= len(self.entry_ids):
            return []
        dense_scores = self._dense_scores(query_vector, k * 5 + hidden_rows, hidden)
        tokens = tokenize(query)
        lexical = self._lexical_candidates(with_sounds(tokens), k * 2 + len(hidden))
        candidates = (set(dense_scores) | set(lexical)) - hidden
        floor = min(dense_scores.values(), default=0.0)
        weighted = self.weighted(tokens)
        positions = sorted(candidates)
        recalls = self._recalls(set(with_sounds(tokens)), positions)
        hits = [
            Hit(
                entry_id=self.entry_ids[position],
                item_no=self.entry_items[position],
                dense=dense_scores.get(position, floor),
                # Mean of how much of the query the entry covers and how much of its best
                # question the query covers: the first rejects a question naming a service
                # the base lacks, the second keeps a long, rambling message naming the service.
                lexical=(covered(weighted, self.entry_tokens[position]) + recall) / 2,
            )
            for position, recall in zip(positions, recalls, strict=True)
        ]
        return best_hits(hits, k)

    def _dense_scores(self, query_vector: np.ndarray, rows: int,
                      hidden: frozenset[int]) -> dict[int, float]:
        scores, found = self.dense.search(query_vector.reshape(1, -1).astype(np.float32), rows)
        best: dict[int, float] = {}
        for score, row in zip(scores[0], found[0], strict=True):
            if row < 0 or self.row_entries[row] in hidden:
                continue
            position = self.row_entries[row]
            best[position] = max(best.get(position, -1.0), float(score))
        return best

    def _lexical_candidates(self, tokens: list[str], k: int) -> list[int]:
        known = [token for token in tokens if token in self.lexical.vocab_dict]
        if not known:
            return []
        scores = self.lexical.get_scores(known)
        # Top k among the matching documents only: numpy's partition slows down tenfold on
        # an array of mostly zeros, which is what BM25 scores over a large base look like.
        matching = np.flatnonzero(scores)
        if len(matching) > k:
            matching = matching[np.argpartition(scores[matching], -k)[-k:]]
        return [int(doc) for doc in matching]

    def idf(self, token: str) -> float:
        # An unseen word weighs most: a question about a service the base lacks names it.
        return self._idfs.get(token, self._unseen_idf)

    def weighted(self, tokens: Iterable[str]) -> Weighted:
        terms = [(token, sound(token), self.idf(token)) for token in set(tokens)]
        return terms, sum(idf for *_, idf in terms)

    def _build_row_weights(self) -> None:
        """Each question as a row of IDF shares over the vocabulary (a row sums to 1), so the
        share of a question the query covers is one sparse product for all candidates."""
        self._vocabulary: dict[str, int] = {}
        self._by_sound: dict[str, list[int]] = {}
        # Typed buffers, which numpy takes without a copy: converting lists of millions of
        # numbers is one long call that stalls every other thread.
        columns, values, starts = array("q"), array("f"), array("q", [0])
        for tokens in self.row_tokens:
            weights = [self.idf(token) for token in tokens]
            total = sum(weights) or 1.0
            for token, weight in zip(tokens, weights, strict=True):
                if token not in self._vocabulary:
                    self._vocabulary[token] = len(self._vocabulary)
                    heard = sound(token)
                    if heard:
                        self._by_sound.setdefault(heard, []).append(self._vocabulary[token])
                columns.append(self._vocabulary[token])
                values.append(weight / total)
            starts.append(len(columns))
        self._row_weights = csr_matrix(
            (np.frombuffer(values, dtype=np.float32), np.frombuffer(columns, dtype=np.int64),
             np.frombuffer(starts, dtype=np.int64)),
            shape=(len(self.row_tokens), max(len(self._vocabulary), 1)),
        )

    def _recalls(self, query_found: set[str], positions: list[int]) -> list[float]:
        """For each entry, the largest share of one of its questions found in the query; a
        homophone (same pinyin) counts 80%."""
        found = np.zeros(self._row_weights.shape[1], dtype=np.float32)
        for text in query_found:
            for column in self._by_sound.get(text, ()):
                found[column] = 0.8
        for text in query_found:
            if text in self._vocabulary:
                found[self._vocabulary[text]] = 1.0
        rows = [self.entry_rows[position] for position in positions]
        flat = [row for entry_rows in rows for row in entry_rows]
        if not flat:
            return [0.0] * len(positions)
        shares = self._row_weights[flat] @ found
        recalls, start = [], 0
        for entry_rows in rows:
            end = start + len(entry_rows)
            recalls.append(float(shares[start:end].max()) if end > start else 0.0)
            start = end
        return recalls

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        faiss.write_index(self.dense, str(directory / "dense.faiss"))
        if self.entry_ids:  # bm25s cannot save an index of no documents
            self.lexical.save(str(directory / "lexical"))
        tables = {
            "row_entries": self.row_entries,
            "entry_ids": self.entry_ids,
            "entry_items": self.entry_items,
            "entry_tokens": [sorted(tokens) for tokens in self.entry_tokens],
            "row_tokens": self.row_tokens,
            "document_frequency": list(self.document_frequency.items()),
        }
        with (directory / TABLES_FILE).open("w", encoding="utf-8") as file:
            for name, rows in tables.items():
                for start in range(0, max(len(rows), 1), TABLE_LINE_ROWS):
                    file.write(json.dumps([name, rows[start:start + TABLE_LINE_ROWS]],
                                          ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: Path) -> HybridIndex:
        tables: dict[str, list] = {}
        with (directory / TABLES_FILE).open(encoding="utf-8") as file:
            for line in file:
                name, rows = json.loads(line)
                tables.setdefault(name, []).extend(rows)
        lexical = (bm25s.BM25.load(str(directory / "lexical")) if tables["entry_ids"]
                   else bm25s.BM25())
        return cls(
            faiss.read_index(str(directory / "dense.faiss")),
            tables["row_entries"],
            tables["entry_ids"],
            tables["entry_items"],
            [set(tokens) for tokens in tables["entry_tokens"]],
            tables["row_tokens"],
            lexical,
            dict(tables["document_frequency"]),
        )


def best_hits(hits: list[Hit], k: int) -> list[Hit]:
    """The `k * 2` best hits by the sum of both scores."""
    return sorted(hits, key=lambda hit: hit.dense + hit.lexical, reverse=True)[: k * 2]


def document_of(entry: Entry, items: dict[int, Item]) -> list[str]:
    """An entry as one lexical document: its service's name and its questions, tokenised."""
    service = items[entry.item_no].name if entry.item_no in items else ""
    return with_sounds(tokenize(" ".join([service, *entry.questions])))


def question_tokens(entry: Entry) -> list[list[str]]:
    """Each of an entry's questions as its sorted distinct tokens (one dense row each)."""
    return [sorted(set(tokenize(question))) for question in entry.questions]


def covered(weighted: Weighted, found_in: set[str]) -> float:
    """Share of the IDF mass of the terms found in `found_in`; a homophone counts 80%."""
    terms, total = weighted
    if not total:
        return 0.0
    found = sum(idf if token in found_in else 0.8 * idf if heard in found_in else 0.0
                for token, heard, idf in terms)
    return found / total


def questions_of(entries: Iterable[Entry]) -> list[str]:
    """Every entry's questions, standard first, in index row order."""
    return [question for entry in entries for question in entry.questions]


def _new_dense_index(dimension: int, rows: int) -> faiss.Index:
    if rows < HNSW_FROM_ROWS:
        return faiss.IndexFlatIP(dimension)
    index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = 64
    return index
