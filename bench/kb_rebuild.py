"""A publish while the bot answers: (a) seconds from publishing one entry's new wording to the
bot answering with it, (b) question latency while a full rebuild runs in the background,
beside the usual band with no rebuild. Prints; asserts nothing.

The base is the seed's entries plus synthetic ones up to each size (as bench/kb_search.py
makes them: seed questions recombined, their vectors real seed embeddings plus noise); the
questions asked are the dev set's, embedded by the real model. Everything runs in this one
process as in the action server: the questions on this thread, the lanes in theirs, the full
build in the child process its lane forks. With
--real, (a) on a copy of the configured base (XIAOSHEN_DB, its index and vectors) instead.
    .venv/bin/python bench/kb_rebuild.py [--sizes 1000 100000] [--publishes 3] [--real]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from kb_search import NoisyCopies, synthetic_entries

from actions.server import limit_threads
from kb.embedder import Embedder
from kb.io import import_seed
from kb.retrieval import Retriever
from kb.snapshot import CHECK_EVERY, LiveSnapshot
from kb.store import KnowledgeBase
from xiaoshen import settings
from xiaoshen.app import open_retriever

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "kb" / "seed"
PUBLISHED = ("03-materials", "居住证签注需要带哪些材料")  # the entry republished, its question


class SeedCopies(NoisyCopies):
    """Seed texts (and their synthetic copies) by lookup plus noise; any other text (the dev
    set's questions) by the real model."""

    def __init__(self, known: dict[str, np.ndarray], real: Embedder) -> None:
        super().__init__(known, real.dimension)
        self.real = real

    def encode(self, texts: list[str]) -> np.ndarray:
        known = [i for i, text in enumerate(texts) if text.split("#")[0] in self.known]
        other = [i for i in range(len(texts)) if i not in set(known)]
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if known:
            vectors[known] = super().encode([texts[i] for i in known])
        if other:
            vectors[other] = self.real.encode([texts[i] for i in other])
        return vectors


def make_base(home: Path, size: int) -> KnowledgeBase:
    """The seed base plus synthetic entries up to `size` live entries."""
    kb = KnowledgeBase(home / "kb.db")
    import_seed(kb, SEED)
    seed_entries = kb.live_entries()
    kb.upsert_entries(synthetic_entries(seed_entries, max(0, size - len(seed_entries))),
                      updated_by="bench")
    return kb


def percentiles(timings: list[float]) -> str:
    if not timings:
        return "no questions"
    ordered = sorted(timings)
    return (f"p50={ordered[len(ordered) // 2]:7.1f} ms  "
            f"p95={ordered[int(len(ordered) * 0.95)]:7.1f} ms  max={ordered[-1]:7.1f} ms  "
            f"({len(ordered)} questions)")


def ask(retriever: Retriever, question: str, timings: list[float]) -> bool:
    """One question as the action does it; False when it failed."""
    tick = time.perf_counter()
    try:
        retriever.decision(question)
    except Exception as error:  # counted, not raised: the bench reports errors
        print(f"    error: {error!r}")
        return False
    timings.append((time.perf_counter() - tick) * 1000)
    return True


def publish_to_live(retriever: Retriever, number: int) -> tuple[float, float]:
    """Seconds from publishing new wording of the entry to the bot answering with it, and
    the slowest question meanwhile (ms)."""
    entry_id, question = PUBLISHED
    kb = retriever.kb
    wording = f"{kb.get(entry_id).answer}（第{number}次修订）"
    retriever.decision(question)  # its vector cached, as a question asked before
    time.sleep(CHECK_EVERY)  # the bot's next look at the base is the one after the publish
    start = time.perf_counter()
    kb.upsert_entries([replace(kb.get(entry_id), answer=wording)], updated_by="bench")
    slowest = 0.0
    while True:
        tick = time.perf_counter()
        decision = retriever.decision(question)
        slowest = max(slowest, (time.perf_counter() - tick) * 1000)
        if decision.entry and decision.entry.answer == wording:
            return time.perf_counter() - start, slowest
        time.sleep(0.01)


def during_rebuild(retriever: Retriever, questions: list[str]) -> tuple[list[float], int, float]:
    """Questions asked over and over while the full rebuild a publish started runs, until it
    is swapped in: their latencies, errors and the seconds it took."""
    live = retriever.live
    assert isinstance(live, LiveSnapshot)
    start, timings, errors, turn = time.perf_counter(), [], 0, 0
    while live.building:
        errors += not ask(retriever, questions[turn % len(questions)], timings)
        turn += 1
    return timings, errors, time.perf_counter() - start


def real_base(config: settings.Settings, publishes: int) -> None:
    """(a) on a copy of the configured base, with the configured embedder."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        with sqlite3.connect(config.db) as src, sqlite3.connect(home / "kb.db") as dst:
            src.backup(dst)
        if config.index_dir.is_dir():
            shutil.copytree(config.index_dir, home / "index")
        vectors = config.index_dir.with_name("index-vectors.db")
        if vectors.is_file():
            shutil.copy(vectors, home / "index-vectors.db")
        retriever = open_retriever(settings.load({**os.environ,
                                                  "XIAOSHEN_DB": str(home / "kb.db"),
                                                  "XIAOSHEN_INDEX_DIR": str(home / "index")}))
        retriever.live.current()
        print(f"real base ({retriever.kb.stats()['entries']} entries, {config.embedder})")
        for number in range(1, publishes + 1):
            seconds, slowest = publish_to_live(retriever, number)
            print(f"    publish {number} → live: {seconds:6.2f} s  "
                  f"(slowest question meanwhile {slowest:6.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 100000])
    parser.add_argument("--publishes", type=int, default=3)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--real", action="store_true", help="(a) on the configured base")
    args = parser.parse_args()
    config = settings.load()
    if args.real:
        real_base(config, args.publishes)
        return
    real = open_retriever(config).embedder
    limit_threads()  # as in the action server: one thread for torch and FAISS
    lines = (ROOT / "eval" / "devset.jsonl").read_text("utf-8").splitlines()
    questions = [json.loads(line)["text"] for line in lines if line.strip()][: args.questions]
    seed = KnowledgeBase()
    import_seed(seed, SEED)
    texts = sorted({q for e in seed.live_entries() for q in e.questions}
                   | {item.name for item in seed.items().values()}
                   | {text for other in seed.other_services()
                      for text in (other.name, *other.questions)})
    embedder = SeedCopies(dict(zip(texts, real.encode(texts), strict=True)), real)
    print(f"embedder: {config.embedder} (base questions: seed vectors plus noise)")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            tick = time.perf_counter()
            kb = make_base(home, size)
            made = time.perf_counter() - tick
            live = LiveSnapshot(kb, embedder, "bench-seed-copies", home / "index")
            retriever = Retriever(live, embedder, config.thresholds)
            tick = time.perf_counter()
            live.current()
            print(f"{size:>7} entries: base written in {made:6.1f} s, "
                  f"first full build {time.perf_counter() - tick:6.1f} s")
            for question in questions:  # warm: each question's vector is cached after one
                retriever.decision(question)
            usual: list[float] = []
            usual_errors = sum(not ask(retriever, q, usual) for q in questions)
            print(f"    no rebuild:        {percentiles(usual)}  errors={usual_errors}")
            lives = []
            for number in range(1, args.publishes + 1):
                seconds, slowest = publish_to_live(retriever, number)
                lives.append(seconds)
                print(f"    publish {number} → live: {seconds:6.2f} s  "
                      f"(slowest question meanwhile {slowest:6.1f} ms)")
                if number == 1:  # the full build behind the first publish, asked through
                    timings, errors, seconds = during_rebuild(retriever, questions)
                    print(f"    during its full rebuild ({seconds:6.1f} s): "
                          f"{percentiles(timings)}  errors={errors}")
            print(f"    publish → live median {statistics.median(lives):6.2f} s")


if __name__ == "__main__":
    main()
