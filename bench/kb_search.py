"""Knowledge-base search latency at 1k, 10k and 100k entries: the query's embedding, both
retrievers and the service classifier, i.e. all the evidence a decision needs.

Synthetic entries recombine the seed questions; their vectors are the seed questions' real
embeddings plus small noise, so the index has a realistic shape without encoding 300k texts.
    .venv/bin/python bench/kb_search.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from actions.server import limit_threads
from kb.io import import_seed
from kb.snapshot import build_from
from kb.store import Entry, KnowledgeBase
from xiaoshen import settings
from xiaoshen.app import open_retriever

ROOT = Path(__file__).resolve().parents[1]


class NoisyCopies:
    """Embeds known texts by lookup (plus noise); only the benchmark's queries hit the model."""

    def __init__(self, known: dict[str, np.ndarray], dimension: int, seed: int = 0) -> None:
        self.known = known
        self.dimension = dimension
        self.random = np.random.default_rng(seed)

    def encode(self, texts: list[str]) -> np.ndarray:
        base = np.vstack([self.known[t.split("#")[0]] for t in texts])
        noisy = base + self.random.normal(0, 0.05, base.shape).astype(np.float32)
        return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def synthetic_entries(seed_entries: list[Entry], size: int) -> list[Entry]:
    rng = random.Random(size)
    entries = []
    for number in range(size):
        source = seed_entries[number % len(seed_entries)]
        questions = rng.sample(source.questions, k=min(3, len(source.questions)))
        entries.append(Entry(entry_id=f"syn-{number}", item_no=source.item_no,
                             question=f"{questions[0]}#{number}",
                             similar_questions=[f"{q}#{number}" for q in questions[1:]],
                             answer=source.answer))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    config = settings.load()
    retriever = open_retriever(config)
    limit_threads()  # as in the action server: one thread for torch and FAISS
    kb = KnowledgeBase()
    import_seed(kb, ROOT / "kb" / "seed")
    seed_entries = kb.live_entries()
    others = kb.other_services()
    texts = sorted({q for e in seed_entries for q in e.questions}
                   | {item.name for item in kb.items().values()}
                   | {text for other in others for text in (other.name, *other.questions)})
    known = dict(zip(texts, retriever.embedder.encode(texts), strict=True))
    lines = (ROOT / "eval" / "devset.jsonl").read_text("utf-8").splitlines()
    queries = [json.loads(line)["text"] for line in lines if line.strip()][: args.queries]
    print(f"embedder: {config.embedder}")
    for size in args.sizes:
        entries = synthetic_entries(seed_entries, size)
        start = time.perf_counter()
        embedder = NoisyCopies(known, retriever.embedder.dimension)
        snapshot = build_from(entries, kb.items(), others, embedder)
        built = time.perf_counter() - start
        timings = []
        for query in queries:
            tick = time.perf_counter()
            vector = retriever.embedder.encode([query])[0]
            snapshot.index.search(query, vector)
            snapshot.services.guess(query, vector)
            timings.append((time.perf_counter() - tick) * 1000)
        timings.sort()
        print(f"{size:>7} entries ({len(snapshot.index.row_entries):>7} questions): "
              f"p50={timings[len(timings) // 2]:6.2f} ms  "
              f"p95={timings[int(len(timings) * 0.95)]:6.2f} ms  (index built in {built:5.1f} s)")


if __name__ == "__main__":
    main()
