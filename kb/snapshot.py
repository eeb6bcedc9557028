"""What the bot searches, built from one revision of the base on one day, and kept fresh.

A snapshot is the hybrid index and the service classifier, trained side by side on the same
question vectors, plus the live entries they point to. It is saved with a manifest naming
the revision, day and embedder it was built from; `LiveSnapshot` loads the saved one when it
still matches and, when the base changed or an entry's effective dates did, patches the
changed entries in at once and rebuilds the whole in the background.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from kb import clock
from kb.classifier import ServiceClassifier
from kb.decision import COMPLAINT_CLASS
from kb.embedder import Embedder
from kb.index import EmbeddingCache, HybridIndex, questions_of
from kb.patch import PatchedIndex
from kb.store import Entry, Item, KnowledgeBase, OtherService
from nlu.legal import complaint_examples
from nlu.segment import word_lists_version

FORMAT = 5  # bumped whenever what is saved changes, so an older snapshot gets rebuilt
CLASSIFIER_FILE = "services.npz"  # and services.json beside it
CHECK_EVERY = 0.5  # seconds: how stale "the base changed" may be (an import takes longer)
INCREMENTAL_LIMIT = 200  # changed entries a patch may hold; more wait for the full build
RETRY_AFTER = 30.0  # seconds before a background lane that failed tries again

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    index: HybridIndex | PatchedIndex
    services: ServiceClassifier
    entries: dict[str, Entry]  # the live entries, by id
    items: dict[int, Item]  # the services, as the index and the classifier knew them

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
    return Snapshot(index, services, {entry.entry_id: entry for entry in live}, items)


def _encode(embedder: Embedder, cache: EmbeddingCache | None, texts: list[str],
            progress: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    if cache:
        return cache.encode(embedder, texts, progress)
    return np.asarray(embedder.encode(texts), dtype=np.float32)


def save(snapshot: Snapshot, directory: Path, manifest: dict) -> None:
    # Staging names of this process's own: a builder left over from a stopped server may
    # still be saving beside it.
    staging = directory.with_name(f"{directory.name}.new-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    snapshot.index.save(staging)
    snapshot.services.save(staging / CLASSIFIER_FILE)
    manifest = {**manifest, "format": FORMAT, "entries": snapshot.index.size,
                "rows": len(snapshot.index.row_entries), "built_at": clock.timestamp()}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    # Swap whole directories so a reader never sees half a snapshot.
    old = directory.with_name(f"{directory.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def load(directory: Path, live: list[Entry], items: dict[int, Item]) -> Snapshot:
    return Snapshot(HybridIndex.load(directory),
                    ServiceClassifier.load(directory / CLASSIFIER_FILE),
                    {entry.entry_id: entry for entry in live}, items)


def read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


@dataclass(frozen=True)
class Served:
    """What questions are answered from and where it came from, swapped in as one object."""

    snapshot: Snapshot
    full: Snapshot  # the full build it patches (itself when nothing is patched in)
    changed: tuple[Entry, ...]  # entries patched in since `full` was built
    removed: frozenset[str]  # entries patched out since then
    key: tuple[int, str]  # the base's revision and the Shanghai day it reflects
    built_at: str  # when it was swapped in, ISO 8601 with the offset

    @classmethod
    def whole(cls, full: Snapshot, key: tuple[int, str]) -> Served:
        return cls(full, full, (), frozenset(), key, clock.timestamp())


def changes(entries: dict[str, Entry], live: list[Entry]) -> tuple[list[Entry], frozenset[str]]:
    """The entries of `live` new or changed since `entries`, and the ids no longer live."""
    now = {entry.entry_id: entry for entry in live}
    changed = [entry for entry_id, entry in now.items() if entries.get(entry_id) != entry]
    return changed, frozenset(set(entries) - set(now))


def patch(full: Snapshot, changed: Sequence[Entry], removed: frozenset[str],
          items: dict[int, Item], embedder: Embedder, cache: EmbeddingCache | None) -> Snapshot:
    """`full` with `changed` entries in place (new ones added) and `removed` ones gone. The
    classifier keeps its fit: retraining it is the slow part of a build (most of the ≈200 s
    at 100k entries), and an entry of a service it knows is found by the index alone."""
    vectors = _encode(embedder, cache, questions_of(changed), False)
    entries = {entry_id: entry for entry_id, entry in full.entries.items()
               if entry_id not in removed}
    entries.update((entry.entry_id, entry) for entry in changed)
    return Snapshot(PatchedIndex(full.index, changed, items, vectors, removed), full.services,
                    entries, items)


def recognised(patched: Snapshot) -> bool:
    """Whether the classifier kept by a patch places each patched entry's standard question
    in the entry's service. When it does not (a question unlike any it was trained on), the
    bot would not answer with the entry before the classifier is retrained: such a publish
    is live when the full build lands, not before."""
    index = patched.index
    assert isinstance(index, PatchedIndex)
    return all(patched.services.guess(entry.question, vectors[0])[0].item_no == entry.item_no
               for entry, vectors in zip(index.entries, index.vectors, strict=True))


class LiveSnapshot:
    """The snapshot for the base's current revision and today's effective entries.

    No question waits for a rebuild (only the very first load, when nothing exists yet): a
    question is answered from the snapshot served while the next one is made by two
    background lanes, daemon threads with a database connection each:

        patch lane  the entries changed since the last full build, patched into it
                    (kb/patch.py): a publish is live within seconds; the classifier keeps
                    its previous fit until the full build lands
        build lane  the full index and classifier for the latest revision, built in a
                    child process (`_build_apart`), saved to `directory`, loaded and
                    swapped in (≈200 s at 100k entries); publishes during a build are
                    patched into it and make one more build, however many

    Shared state: `_served`, one `Served`, replaced whole under `_swap`; readers take it
    without a lock.
    """

    def __init__(self, kb: KnowledgeBase, embedder: Embedder, embedder_name: str,
                 directory: Path, progress: bool = False) -> None:
        self.kb = kb
        self.embedder = embedder
        self.embedder_name = embedder_name
        self.directory = directory
        self.progress = progress
        self._served: Served | None = None
        self._checked = 0.0
        self._first = threading.Lock()
        self._swap = threading.Lock()
        self._patch_wanted = threading.Event()
        self._build_wanted = threading.Event()
        self._busy: set[str] = set()
        self._unpatchable: tuple[int, str] | None = None  # waits for the build lane
        self._lanes: list[threading.Thread] = []

    def current(self) -> Snapshot:
        # A turn asks several times; the base's revision is read at most every CHECK_EVERY.
        now = time.monotonic()
        served = self._served
        if served is not None and now - self._checked < CHECK_EVERY:
            return served.snapshot
        self._checked = now
        if served is None:
            with self._first:
                if self._served is None:
                    key = key_of(self.kb)
                    self._served = Served.whole(self._load_or_build(self.kb, key), key)
            return self._served.snapshot
        if key_of(self.kb) != served.key:
            self._start_lanes()
            self._patch_wanted.set()
        return served.snapshot

    @property
    def key(self) -> tuple[int, str] | None:
        """The revision and day the served snapshot reflects (None before the first load)."""
        return self._served.key if self._served else None

    @property
    def building(self) -> bool:
        return bool(self._busy) or self._patch_wanted.is_set() or self._build_wanted.is_set()

    def status(self) -> dict[str, Any]:
        """The base's revision, the one served, whether a newer one is being made."""
        self._checked = 0.0  # look at the base now, not up to CHECK_EVERY ago
        self.current()
        served = self._served
        assert served is not None
        return {"revision": self.kb.revision, "live_revision": served.key[0],
                "building": self.building, "built_at": served.built_at}

    def with_draft(self, draft: Entry) -> Snapshot:
        """What would be served were `draft` published now: the served snapshot with it
        patched in (replacing the entry of its id); the served one is left untouched."""
        self.current()
        served = self._served
        assert served is not None
        changed = [entry for entry in served.changed if entry.entry_id != draft.entry_id]
        return patch(served.full, [*changed, draft], served.removed - {draft.entry_id},
                     self.kb.items(), self.embedder, self._cache())

    # -- the background lanes -------------------------------------------------------------

    def _start_lanes(self) -> None:
        with self._first:
            if self._lanes:
                return
            self._lanes = [
                threading.Thread(target=self._run, args=(name, wanted, step), daemon=True,
                                 name=f"snapshot-{name}")
                for name, wanted, step in (("patch", self._patch_wanted, self._patch_step),
                                           ("build", self._build_wanted, self._build_step))]
            for lane in self._lanes:
                lane.start()

    def _run(self, name: str, wanted: threading.Event,
             step: Callable[[KnowledgeBase], None]) -> None:
        kb = self._reader()
        while True:
            wanted.wait()
            self._busy.add(name)  # before clearing, so `building` never blinks false
            wanted.clear()
            try:
                step(kb)
            except Exception:
                log.exception("the snapshot's %s lane failed; again in %.0f s", name,
                              RETRY_AFTER)
                time.sleep(RETRY_AFTER)
                wanted.set()
            finally:
                self._busy.discard(name)

    def _patch_step(self, kb: KnowledgeBase) -> None:
        key, served = key_of(kb), self._served
        assert served is not None
        if key in (served.key, self._unpatchable):
            return
        changed, removed = changes(served.full.entries, kb.live_entries(day_of(key)))
        if not changed and not removed and key[0] == served.key[0]:
            self._swap_in(replace(served, key=key), served)  # a new day changed nothing
            return
        patched = self._patched(kb, served.full, changed, removed)
        if patched is None:
            self._unpatchable = key  # services or catalogue changed, or too much: rebuild
        elif not self._swap_in(Served(patched, served.full, tuple(changed), removed, key,
                                      clock.timestamp()), served):
            self._patch_wanted.set()  # a full build landed meanwhile: patch that one
            return
        self._build_wanted.set()

    def _build_step(self, kb: KnowledgeBase) -> None:
        key, served = key_of(kb), self._served
        assert served is not None
        if key == served.key and served.snapshot is served.full:
            return
        full = self._load_or_build(kb, key, apart=True)
        latest = key_of(kb)
        changed, removed = changes(full.entries, kb.live_entries(day_of(latest)))
        # Publishes during the build: served patched into it, and folded in by one more.
        patched = self._patched(kb, full, changed, removed) if latest != key else None
        new = (Served(patched, full, tuple(changed), removed, latest, clock.timestamp())
               if patched else Served.whole(full, key))
        now_served = self._served
        assert now_served is not None
        if new.key[0] >= now_served.key[0]:
            self._swap_in(new, now_served)
        if latest != key:
            self._build_wanted.set()

    def _patched(self, kb: KnowledgeBase, full: Snapshot, changed: list[Entry],
                 removed: frozenset[str]) -> Snapshot | None:
        """`full` with the changes patched in, or None when they must wait for a full build:
        none to entries (services or the catalogue changed), too many, or an entry the kept
        classifier cannot place."""
        if ((not changed and not removed) or len(changed) + len(removed) > INCREMENTAL_LIMIT
                or not all(full.services.knows(entry.item_no) for entry in changed)):
            return None
        patched = patch(full, changed, removed, kb.items(), self.embedder, self._cache())
        return patched if recognised(patched) else None

    def _swap_in(self, new: Served, over: Served) -> bool:
        """Serve `new`, made when `over` was served, unless another full build was swapped
        in meanwhile (a patch made on the previous one is then made again on it)."""
        with self._swap:
            if self._served is not None and self._served.full is not over.full:
                return False
            self._served = new
            return True

    # -- building -------------------------------------------------------------------------

    def _load_or_build(self, kb: KnowledgeBase, key: tuple[int, str], apart: bool = False
                       ) -> Snapshot:
        """The saved snapshot for `key`, else a new one built and saved (`apart`: in a child
        process, where the base is a file and the system can fork)."""
        revision, day = key
        manifest = {"revision": revision, "built_on": day, "embedder": self.embedder_name,
                    "complaints": len(complaint_examples()), "words": word_lists_version()}
        live, items = kb.live_entries(date.fromisoformat(day)), kb.items()
        saved = read_manifest(self.directory)
        if saved.get("format") == FORMAT and all(saved.get(k) == v for k, v in manifest.items()):
            return load(self.directory, live, items)
        others = kb.other_services()
        if apart and hasattr(os, "fork") and kb.path:
            self._build_apart(live, items, others, manifest)
            return load(self.directory, live, items)
        snapshot = build_from(live, items, others, self.embedder, self._cache(), self.progress)
        save(snapshot, self.directory, manifest)
        return snapshot

    def _build_apart(self, live: list[Entry], items: dict[int, Item],
                     others: Sequence[OtherService], manifest: dict) -> None:
        """Build and save in a forked child. In a thread of this process the build shared
        the interpreter's lock with the questions: during a 100k rebuild their p95 was 74 ms
        (7.5 without) and one waited 7.8 s (`bench/kb_rebuild.py`). The child gets the
        entries read here and the embedder as it is; it opens connections of its own."""
        def build_and_save() -> None:
            # The server's handlers (its event loop's) came with the fork: a stop must end
            # the build too.
            signal.set_wakeup_fd(-1)
            for stop in (signal.SIGTERM, signal.SIGINT):
                signal.signal(stop, signal.SIG_DFL)
            save(build_from(live, items, others, self.embedder, self._cache(), self.progress),
                 self.directory, manifest)

        child = multiprocessing.get_context("fork").Process(
            target=build_and_save, name="snapshot-build", daemon=True)
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"the snapshot's build process failed (exit {child.exitcode})")

    def _cache(self) -> EmbeddingCache:
        """The vector cache, opened in the calling thread (SQLite connections stay in one)."""
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        return EmbeddingCache(self.directory.with_name(self.directory.name + "-vectors.db"),
                              self.embedder_name)

    def _reader(self) -> KnowledgeBase:
        """A connection of the lane's own to the base's file (the in-memory base of a test
        has none to open: it is shared)."""
        return KnowledgeBase(self.kb.path) if self.kb.path else self.kb


def key_of(kb: KnowledgeBase) -> tuple[int, str]:
    """The base's revision and today's date: what a snapshot is made for. The revision is read
    first, so a write landing meanwhile makes the key older than the entries read after it,
    never newer: that write gets a refresh of its own."""
    return kb.revision, clock.today().isoformat()


def day_of(key: tuple[int, str]) -> date:
    return date.fromisoformat(key[1])
