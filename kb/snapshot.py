"""What the bot searches, built from one revision of the base on one day, and kept fresh.

A snapshot is the hybrid index and the service classifier, trained side by side on the same
question vectors, plus the live entries they point to. It is saved with a manifest naming
the revision, day and embedder it was built from; `LiveSnapshot` loads the saved one when it
still matches and rebuilds it when the base changed or an entry's effective dates did.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np

from kb import clock
from kb.classifier import ServiceClassifier
from kb.decision import COMPLAINT_CLASS
from kb.embedder import Embedder
from kb.index import EmbeddingCache, HybridIndex, questions_of
from kb.store import Entry, Item, KnowledgeBase, OtherService
from nlu.legal import complaint_examples

FORMAT = 3  # bumped whenever what is saved changes, so an older snapshot gets rebuilt
CLASSIFIER_FILE = "services.joblib"
CHECK_EVERY = 0.5  # seconds: how stale "the base changed" may be (an import takes longer)


@dataclass(frozen=True)
class Snapshot:
    index: HybridIndex
    services: ServiceClassifier
    entries: dict[str, Entry]  # the live entries, by id

    @cached_property
    def by_topic(self) -> dict[tuple[int, str], Entry]:
        """Each service's entry on each topic (the first, by id, when several share one)."""
        found: dict[tuple[int, str], Entry] = {}
        for entry_id in sorted(self.entries):
            entry = self.entries[entry_id]
            found.setdefault((entry.item_no, entry.topic), entry)
        return found


def classifier_examples(items: dict[int, Item], others: Sequence[OtherService]
                        ) -> tuple[list[tuple[str, int]], dict[int, str]]:
    """Besides the entries' questions, the classifier learns each service's name, the
    services the base lacks and complaints (negative labels), and the names of its classes."""
    names = {item.item_no: item.name for item in items.values()}
    extra = [(item.name, item.item_no) for item in items.values()]
    for number, other in enumerate(others, start=1):
        names[-number] = other.name
        extra += [(text, -number) for text in (other.name, *other.questions)]
    if len(items) > 1:  # a one-service base has too few questions to weigh complaints against
        complaint_label = -(len(others) + 1)
        names[complaint_label] = COMPLAINT_CLASS
        extra += [(text, complaint_label) for text in complaint_examples()]
    return extra, names


def build(kb: KnowledgeBase, embedder: Embedder, day: date,
          cache: EmbeddingCache | None = None, progress: bool = False) -> Snapshot:
    """The snapshot of the entries live on `day`."""
    return build_from(kb.live_entries(day), kb.items(), kb.other_services(), embedder, cache,
                      progress)


def build_from(live: list[Entry], items: dict[int, Item], others: Sequence[OtherService],
               embedder: Embedder, cache: EmbeddingCache | None = None,
               progress: bool = False) -> Snapshot:
    """Encode the questions once; index them and train the classifier on them."""
    questions = questions_of(live)
    extra, names = classifier_examples(items, others)
    texts = questions + [text for text, _ in extra]
    vectors = _encode(embedder, cache, texts, progress)
    index = HybridIndex.build(live, items, vectors[: len(questions)], progress)
    labels = [entry.item_no for entry in live for _ in entry.questions]
    services = ServiceClassifier.fit(texts, labels + [label for _, label in extra], vectors,
                                     names)
    return Snapshot(index, services, {entry.entry_id: entry for entry in live})


def _encode(embedder: Embedder, cache: EmbeddingCache | None, texts: list[str],
            progress: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    if cache:
        return cache.encode(embedder, texts, progress)
    return np.asarray(embedder.encode(texts), dtype=np.float32)


def save(snapshot: Snapshot, directory: Path, manifest: dict) -> None:
    staging = directory.with_name(directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    snapshot.index.save(staging)
    snapshot.services.save(staging / CLASSIFIER_FILE)
    manifest = {**manifest, "format": FORMAT, "entries": snapshot.index.size,
                "rows": len(snapshot.index.row_entries), "built_at": clock.timestamp()}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    # Swap whole directories so a reader never sees half a snapshot.
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def load(directory: Path, live: list[Entry]) -> Snapshot:
    return Snapshot(HybridIndex.load(directory),
                    ServiceClassifier.load(directory / CLASSIFIER_FILE),
                    {entry.entry_id: entry for entry in live})


def read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


class LiveSnapshot:
    """The snapshot for the base's current revision and today's effective entries."""

    def __init__(self, kb: KnowledgeBase, embedder: Embedder, embedder_name: str,
                 directory: Path, progress: bool = False) -> None:
        self.kb = kb
        self.embedder = embedder
        self.embedder_name = embedder_name
        self.directory = directory
        self.progress = progress
        self._snapshot: Snapshot | None = None
        self._key: tuple[int, str] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        # A turn asks several times; the base's revision is read at most every CHECK_EVERY.
        now = time.monotonic()
        if self._snapshot is not None and now - self._checked < CHECK_EVERY:
            return self._snapshot
        self._checked = now
        key = (self.kb.revision, clock.today().isoformat())
        if self._snapshot is None or self._key != key:
            with self._lock:
                if self._snapshot is None or self._key != key:
                    self._snapshot, self._key = self._load_or_build(key), key
        return self._snapshot

    def _load_or_build(self, key: tuple[int, str]) -> Snapshot:
        revision, day = key
        manifest = {"revision": revision, "built_on": day, "embedder": self.embedder_name,
                    "complaints": len(complaint_examples())}
        saved = read_manifest(self.directory)
        if saved.get("format") == FORMAT and all(saved.get(k) == v for k, v in manifest.items()):
            return load(self.directory, self.kb.live_entries(date.fromisoformat(day)))
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        cache = EmbeddingCache(self.directory.with_name(self.directory.name + "-vectors.db"),
                               self.embedder_name)
        snapshot = build(self.kb, self.embedder, date.fromisoformat(day), cache, self.progress)
        save(snapshot, self.directory, manifest)
        return snapshot
