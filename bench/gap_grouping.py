"""The cost of placing one new miss into a gap task, with 1k, 10k and 100k open tasks: the
miss's embedding, the FAISS shortlist, the re-scoring against the database and the write.

Open tasks are made in bulk in a file base (as a deployment has it, WAL and all); their mean
vectors are real embeddings of varied questions plus noise, so the index has a realistic
shape without encoding 100k texts. Prints milliseconds per miss, and the grouper's start
(loading every open task's vector from the database).
    .venv/bin/python bench/gap_grouping.py [--sizes 1000 10000 100000] [--misses 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from actions.server import limit_threads
from kb import clock
from kb.embedder import load_embedder
from kb.gaps import GapLog, Miss, MissReason
from kb.grouping import Grouper, as_bytes
from kb.io import import_items
from kb.store import KnowledgeBase
from xiaoshen import settings

ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = ("护照", "驾照", "居住证", "公积金", "社保卡", "营业执照", "发票", "医保", "户口",
            "教师资格证", "失业金", "养老金", "出生证明", "不动产证", "食品许可证")
NEEDS = ("怎么办理", "在哪里办", "要带什么材料", "多久能拿到", "收费吗", "丢了怎么补",
         "到期了怎么续", "能网上办吗", "外地户口能办吗", "进度在哪查")


def questions(count: int, rng: random.Random) -> list[str]:
    return [f"{rng.choice(SUBJECTS)}{rng.choice(NEEDS)}" for _ in range(count)]


def fill(kb: KnowledgeBase, size: int, vectors: np.ndarray, rng: np.random.Generator) -> None:
    now = clock.timestamp()
    rows = []
    for task_id in range(1, size + 1):
        base = vectors[task_id % len(vectors)]
        vector = base + rng.normal(0, 0.08, base.shape).astype(np.float32)
        rows.append((task_id, f"合成任务 {task_id}", task_id % 36, "市公安局", "open", 1, now,
                     now, now, "2026-12-09", 0, as_bytes(vector / np.linalg.norm(vector)), 1))
    with kb.write() as db:
        db.conn.executemany(
            "INSERT INTO gap_tasks (id, title, item_no, department, status, ask_count, "
            "first_asked_at, last_asked_at, created_at, due_on, provisional, centroid, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--misses", type=int, default=200)
    args = parser.parse_args()
    limit_threads()
    embedder = load_embedder(settings.load().embedder)
    rng = random.Random(0)
    variety = embedder.encode(questions(2000, rng))
    print(f"embedder {settings.load().embedder}, dimension {embedder.dimension}")
    print("open tasks  grouper start  per miss p50  p95   (of which embedding p50)")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as home:
            kb = KnowledgeBase(Path(home) / "kb.db")
            import_items(kb, ROOT.parent / "shared" / "seed" / "items.csv")
            fill(kb, size, variety, np.random.default_rng(size))
            started = time.perf_counter()
            grouper = Grouper(kb, embedder)
            grouper.place_pending()  # nothing waits: loads the index
            grouper._sync()
            start_ms = (time.perf_counter() - started) * 1000
            log = GapLog(kb, grouper.place_pending)
            texts = questions(args.misses, rng)
            timings, embeddings = [], []
            for number, text in enumerate(texts):
                began = time.perf_counter()
                embedder.encode([text])
                embeddings.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                log.record(Miss(f"{text}（{number}）", MissReason.FALLBACK,
                                conversation_id=f"bench-{number}"))
                timings.append((time.perf_counter() - began) * 1000)
            timings.sort()
            print(f"{size:10}  {start_ms:10.0f} ms  {statistics.median(timings):9.1f} ms  "
                  f"{timings[int(0.95 * len(timings))]:5.1f}   "
                  f"({statistics.median(embeddings):.1f} ms)")


if __name__ == "__main__":
    main()
