"""Grouping misses into gap tasks: a new miss joins the open task that asks the same thing
(cosine similarity of its vector to the task's mean vector, with the embedder the base already
loads, and a compatible guessed service), else it opens a task of its own.

Open tasks' vectors sit in a FAISS inner-product index for the shortlist, added once when a
task opens (a task's mean moves little as it grows, and FAISS removes in O(n)). The shortlist
is re-scored against the database, which is the truth: another process may have merged,
answered or closed a task meanwhile; closed ones are skipped until the next rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from kb import clock
from kb.embedder import Embedder
from kb.gaps import DUE_WORKING_DAYS, PLATFORM_DEPARTMENT
from kb.store import KnowledgeBase
from kb.workdays import WorkCalendar
from nlu.noise import why_not_a_question
from nlu.normalize import normalize
from nlu.topics import detect_topic

if TYPE_CHECKING:  # the gateway imports this module: no classifier, no sklearn in it
    from kb.retrieval import Retriever

log = logging.getLogger(__name__)

# Cosine similarity at or above which two misses ask the same thing (see README, "Knowledge
# gaps", for the dev-set figures that chose it).
SAME_QUESTION = 0.70
# Subtracted when the miss asks another aspect (where, how long, what to bring …) than a
# phrasing of the task does: same service, different answer.
OTHER_ASPECT = 0.10
SHORTLIST = 20
OPEN = ("open", "answered")  # tasks a new miss may still join
TOPICS_KEPT = 100_000


@dataclass(frozen=True)
class Place:
    """Where a miss belongs: its guessed service (None: none of the base's) and the
    department responsible for it."""

    item_no: int | None
    department: str


Guess = Callable[[str], Place | None]
GUESS_PROBABILITY = 0.5  # below it, a miss's service is left to the maintainers


def service_guess(retriever: Retriever) -> Guess:
    """The service classifier's guess for a miss its source could not place: a service of
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


@lru_cache(maxsize=TOPICS_KEPT)
def topic_of(text: str) -> str | None:
    """A task's phrasings are read again whenever a miss is compared with the task: each
    read once (a shortlist of 20 tasks held 700 phrasings, 30 ms a miss on the dev set)."""
    return detect_topic(text)


def as_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


class _AlreadyPlaced(Exception):
    """Another grouper placed the miss first."""


def compatible(task: Place, miss: Place) -> bool:
    """Two guesses of different services, or of departments, keep misses apart; no guess
    (the platform team's by default) keeps nothing apart."""
    if task.item_no is not None and miss.item_no is not None:
        return task.item_no == miss.item_no
    return PLATFORM_DEPARTMENT in (task.department, miss.department) or (
        task.department == miss.department)


class TaskIndex:
    """Exact (flat) for the open tasks a district has; from IVF_FROM on, an inverted file
    trained on them, since a flat scan reads every vector (100k × 512 floats: 200 MB, 13 ms
    per miss on one core) and IVF reads the NPROBE nearest lists."""

    IVF_FROM = 20_000
    NPROBE = 16

    def __init__(self, dimension: int, ids: list[int], vectors: np.ndarray) -> None:
        self.trained_on = len(ids)
        if len(ids) < self.IVF_FROM:
            self.faiss: faiss.Index = faiss.IndexIDMap(faiss.IndexFlatIP(dimension))
        else:
            # faiss wants ≥ 39 training points per list
            lists = max(1, min(int(4 * np.sqrt(len(ids))), len(ids) // 39))
            self.faiss = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists,
                                            faiss.METRIC_INNER_PRODUCT)
            self.faiss.train(vectors)
            self.faiss.nprobe = self.NPROBE
        if len(ids):
            self.add(ids, vectors)

    @property
    def size(self) -> int:
        return self.faiss.ntotal

    def outgrown(self) -> bool:
        """Worth building again: flat past IVF_FROM, or twice what its lists were trained on."""
        if isinstance(self.faiss, faiss.IndexIVFFlat):
            return self.size > 2 * self.trained_on
        return self.size >= self.IVF_FROM

    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        self.faiss.add_with_ids(np.asarray(vectors, dtype=np.float32),
                                np.array(ids, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int) -> list[int]:
        _, ids = self.faiss.search(vector[None, :].astype(np.float32), k)
        return [int(i) for i in ids[0] if i >= 0]


class Grouper:
    def __init__(self, kb: KnowledgeBase, embedder: Embedder, guess: Guess | None = None,
                 threshold: float = SAME_QUESTION) -> None:
        self.kb = kb
        self.embedder = embedder
        self.guess = guess
        self.threshold = threshold
        self.index = TaskIndex(embedder.dimension, [], np.zeros((0, embedder.dimension)))
        self.synced_to = 0  # the highest task id in the index
        self.closed: set[int] = set()  # in the index, but no longer open

    def place_pending(self, limit: int | None = None) -> list[int]:
        """Place the misses waiting for a task (the oldest `limit`, or all); the task ids,
        one per miss placed."""
        rows = list(self.kb.db["gap_questions"].rows_where("task_id IS NULL", order_by="id",
                                                            limit=limit))
        noise = [row["id"] for row in rows if why_not_a_question(row["text"]) is not None]
        if noise:  # recorded before the filter existed (schema 9's rows)
            with self.kb.write() as db:
                db.execute(f"DELETE FROM gap_questions WHERE id IN ({', '.join('?' * len(noise))})",
                           noise)
            rows = [row for row in rows if row["id"] not in set(noise)]
        if not rows:
            return []
        vectors = self.embedder.encode([normalize(row["text"]) for row in rows])
        return [task_id for row, vector in zip(rows, vectors, strict=True)
                if (task_id := self.place(row, vector)) is not None]

    def place(self, question: dict[str, Any], vector: np.ndarray) -> int | None:
        """Join the best matching open task or open one; None if another grouper placed it."""
        self._sync()
        where = self._where(question)
        best = self._best(vector, where, topic_of(question["text"]))
        try:
            with self.kb.write() as db:
                if best is not None and self._join(db, best, question, vector):
                    task_id, opened = best, False
                else:
                    task_id, opened = self._open(db, question, vector, where), True
                placed = db.execute(
                    "UPDATE gap_questions SET task_id = ?, item_no = coalesce(item_no, ?), "
                    "department = coalesce(department, ?), vector = ? "
                    "WHERE id = ? AND task_id IS NULL",
                    [task_id, where.item_no, where.department, as_bytes(vector),
                     question["id"]]).rowcount
                if not placed:
                    raise _AlreadyPlaced
        except _AlreadyPlaced:
            return None
        if opened:
            self._add([task_id], [vector])
        return task_id

    def _where(self, question: dict[str, Any]) -> Place:
        if question["item_no"] is not None:
            item = self.kb.item(question["item_no"])
            if item:
                return Place(item.item_no, item.department)
        if question["department"]:
            return Place(None, question["department"])
        guessed = self.guess(question["text"]) if self.guess else None
        return guessed or Place(None, PLATFORM_DEPARTMENT)

    def _best(self, vector: np.ndarray, where: Place, topic: str | None) -> int | None:
        if len(self.closed) > max(1000, self.index.size // 4) or self.index.outgrown():
            self._rebuild()
        if not self.index.size:
            return None
        shortlist = [i for i in self.index.search(unit(vector), SHORTLIST)
                     if i not in self.closed]
        marks = ", ".join("?" * len(shortlist))
        rows = self.kb.db.execute(
            f"SELECT id, item_no, department, status, centroid FROM gap_tasks WHERE id IN "
            f"({marks})",
            shortlist).fetchall()
        asked: dict[int, set[str]] = {}
        for task_id, text in self.kb.db.execute(
                f"SELECT DISTINCT task_id, text FROM gap_questions WHERE task_id IN ({marks})",
                shortlist):
            asked.setdefault(task_id, set()).add(topic_of(text))
        best, best_score = None, self.threshold
        for task_id, task_item, department, status, centroid in rows:
            if status not in OPEN:
                self.closed.add(task_id)
                continue
            if not compatible(Place(task_item, department), where):
                continue
            score = float(unit(from_bytes(centroid)) @ unit(vector))
            if topic and asked.get(task_id, set()) - {topic, None}:
                score -= OTHER_ASPECT  # asks where; the task asks what to bring
            if score >= best_score:
                best, best_score = task_id, score
        return best

    def _join(self, db, task_id: int, question: dict[str, Any], vector: np.ndarray) -> bool:
        row = db.execute("SELECT ask_count, centroid FROM gap_tasks WHERE id = ? AND "
                         "status IN ('open', 'answered')", [task_id]).fetchone()
        if row is None:
            return False
        count, centroid = row
        mean = (from_bytes(centroid) * count + vector) / (count + 1)
        db.execute(
            "UPDATE gap_tasks SET ask_count = ask_count + 1, last_asked_at = max(last_asked_at,"
            " ?), first_asked_at = min(first_asked_at, ?), centroid = ?, item_no = "
            "coalesce(item_no, ?), version = version + 1 WHERE id = ?",
            [question["asked_at"], question["asked_at"], as_bytes(mean), question["item_no"],
             task_id])
        return True

    def _open(self, db, question: dict[str, Any], vector: np.ndarray, where: Place) -> int:
        asked = datetime.fromisoformat(question["asked_at"]).astimezone(clock.SHANGHAI)
        due = WorkCalendar.of(db).add(asked.date(), DUE_WORKING_DAYS)
        return db["gap_tasks"].insert({
            "title": question["text"][:200], "item_no": where.item_no,
            "department": where.department, "status": "open", "ask_count": 1,
            "first_asked_at": question["asked_at"], "last_asked_at": question["asked_at"],
            "created_at": question["asked_at"], "due_on": due.day.isoformat(),
            "provisional": int(due.provisional), "centroid": as_bytes(vector), "version": 1,
            "updated_at": clock.timestamp()}).last_pk

    def _sync(self) -> None:
        """Add tasks opened since the last look (by this process or another)."""
        rows = self._open_tasks(after=self.synced_to)
        if rows:
            self._add([r[0] for r in rows], [from_bytes(r[1]) for r in rows])

    def _open_tasks(self, after: int = 0) -> list[tuple[int, bytes]]:
        return self.kb.db.execute(
            "SELECT id, centroid FROM gap_tasks WHERE id > ? AND status IN ('open', "
            "'answered') AND centroid IS NOT NULL ORDER BY id", [after]).fetchall()

    def _rebuild(self) -> None:
        rows = self._open_tasks()
        vectors = np.vstack([unit(from_bytes(r[1])) for r in rows]) if rows else np.zeros(
            (0, self.embedder.dimension), dtype=np.float32)
        self.index = TaskIndex(self.embedder.dimension, [r[0] for r in rows], vectors)
        self.closed.clear()
        self.synced_to = rows[-1][0] if rows else 0

    def _add(self, ids: list[int], vectors: list[np.ndarray]) -> None:
        self.index.add(ids, np.vstack([unit(v) for v in vectors]))
        self.synced_to = max(self.synced_to, *ids)
