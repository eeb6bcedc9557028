"""The knowledge-base pages' API over a large base: the entry list (its first page, a search,
filters, the pending reviews) with the bot's hits counted from the recorded turns, one entry
with a long history and its diffs, and the review queue, each through the gateway's real
routes (Starlette's test client, a maintainer's and a supervisor's login).

The base is written in bulk into a file (as a deployment has it, WAL and all): N entries over
the seed's services, each with an approved version, some with a pending one; one entry with
many versions; and turns over the last 60 Shanghai days, most answered with an entry.
    .venv/bin/python bench/kb_pages.py [--entries 100000] [--turns 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from handoff.app import create_app
from handoff.seat import SESSION_COOKIE
from handoff.staff import StaffDirectory
from kb import clock
from kb.io import import_items
from kb.store import KnowledgeBase
from xiaoshen import settings

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("居住证", "公积金", "社保卡", "营业执照", "养老金", "失业登记", "教师资格", "不动产",
         "医保", "出生医学证明")
ASPECTS = ("需要什么材料", "在哪里办理", "多久办好", "收费吗", "怎么网上申请", "有什么条件")
LONG_HISTORY = 50


def fill(kb: KnowledgeBase, entries: int, turns: int, rng: random.Random) -> tuple[str, str]:
    """The entries, their versions and the turns; the department to browse and the entry with
    a long history."""
    items = list(kb.items().values())
    stamp = clock.timestamp()
    entry_rows, version_rows = [], []
    for n in range(entries):
        item = items[n % len(items)]
        question = f"{rng.choice(WORDS)}{n}{rng.choice(ASPECTS)}？"
        content = {"item_no": item.item_no, "topic": "faq", "department": item.department,
                   "question": question, "answer": f"{question}的答复口径。" * 4,
                   "similar_questions": json.dumps([f"{question}请问"], ensure_ascii=False),
                   "status": "published"}
        entry_id = f"bench-{n}"
        entry_rows.append({"entry_id": entry_id, **content, "source": "bench", "version": 1,
                           "updated_by": "bench", "updated_at": stamp})
        version_rows.append({"entry_id": entry_id, "version": 1, **content, "author": "bench",
                             "created_at": stamp, "source": "import", "base_version": 0,
                             "review": "approved", "reviewer": "bench", "reviewed_at": stamp})
        if n % 100 == 0:  # one in a hundred has a change waiting for review
            version_rows.append({**version_rows[-1], "version": 2, "base_version": 1,
                                 "answer": content["answer"] + "（修改）", "author": "维护员",
                                 "review": "in_review", "submitted_at": stamp,
                                 "source": "console", "reviewer": None, "reviewed_at": None})
    long_id = "bench-1"
    first = next(row for row in version_rows if row["entry_id"] == long_id)
    version_rows += [{**first, "version": v, "base_version": v - 1,
                      "answer": f"第 {v} 版的口径。\n" * 3, "review": "superseded"}
                     for v in range(2, LONG_HISTORY + 1)]
    with kb.write():
        kb.db["entries"].insert_all(entry_rows, batch_size=5000)
        kb.db["entry_versions"].insert_all(version_rows, batch_size=5000)
        today = clock.today()
        kb.db["turns"].insert_all((turn(n, entries, today, rng) for n in range(turns)),
                                  batch_size=10_000)
    return items[1].department, long_id


def turn(n: int, entries: int, today: date, rng: random.Random) -> dict[str, Any]:
    """A bot turn of the last 60 days: most answered, a few entries asked far more often."""
    answered = rng.random() < 0.8
    return {"conversation_id": f"c{n // 4}", "turn": n % 4 + 1, "text": "问题",
            "outcome": "answered" if answered else "fallback",
            "entry_id": f"bench-{int(rng.paretovariate(1.2)) % entries}" if answered else None,
            "created_at": f"{today - timedelta(days=rng.randrange(60))}T10:00:00+08:00"}


def timed(client: TestClient, path: str, repeat: int) -> tuple[float, float, int]:
    """Median and worst milliseconds of GET path, and its response's size."""
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
        size = len(response.content)
    return statistics.median(times), max(times), size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-pages-") as home:
        path = Path(home) / "kb.db"
        kb = KnowledgeBase(path)
        import_items(kb, ROOT / "kb" / "seed" / "items.csv")
        start = time.perf_counter()
        department, long_id = fill(kb, args.entries, args.turns, random.Random(13))
        print(f"base: {args.entries} entries, {args.turns} turns, written in "
              f"{time.perf_counter() - start:.1f} s")
        app = create_app(settings.load({**os.environ, "XIAOSHEN_DB": str(path)}))
        staff = StaffDirectory(kb)
        for name, role, dept in (("维护员乙", "maintainer", department),
                                 ("督导", "supervisor", "")):
            staff.add(name, role, "bench password", dept)
        logins = {name: TestClient(app, cookies={SESSION_COOKIE: staff.open_session(name)})
                  for name in ("维护员乙", "督导")}
        cases = [("维护员乙", "/api/kb/entries", "list, own department"),
                 ("维护员乙", "/api/kb/entries?q=公积金1", "search"),
                 ("维护员乙", "/api/kb/entries?status=in_review", "pending reviews"),
                 ("督导", "/api/kb/entries", "list, all departments"),
                 ("督导", "/api/kb/entries?q=社保卡&status=published", "search + status"),
                 ("督导", f"/api/kb/entries/{long_id}",
                  f"one entry, {LONG_HISTORY} versions"),
                 ("督导", "/api/kb/review", "review queue, all departments")]
        print(f"{'request':<38} {'median ms':>10} {'max ms':>8} {'bytes':>9}")
        for who, path, what in cases:
            median, worst, size = timed(logins[who], path, args.repeat)
            print(f"{what:<38} {median:>10.1f} {worst:>8.1f} {size:>9}")


if __name__ == "__main__":
    main()
