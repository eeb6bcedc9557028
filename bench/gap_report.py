"""The gap report over a year of 100k tasks (and about 3 questions each): the time to build
it (every view, for all departments and for one) and to export it as XLSX (with its charts)
and as zipped CSV, and the files' sizes.

The tasks are written in bulk into a file base (as a deployment has it, WAL and all): created
over the 365 Shanghai days ending today, in the seed's services and departments (some with no
service), due 5 working days later, and in every state: closed in time, closed late, merged,
rejected, overdue and still open. Questions are varied phrasings, repeated within a task.
    .venv/bin/python bench/gap_report.py [--tasks 100000] [--questions 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from kb import clock
from kb.gap_export import export_report
from kb.gap_report import build_report
from kb.gaps import DUE_WORKING_DAYS, PLATFORM_DEPARTMENT
from kb.io import import_items
from kb.store import KnowledgeBase
from kb.workdays import WorkCalendar

ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = ("护照", "驾照", "居住证", "公积金", "社保卡", "营业执照", "发票", "医保", "户口",
            "教师资格证", "失业金", "养老金", "出生证明", "不动产证", "食品许可证")
NEEDS = ("怎么办理", "在哪里办", "要带什么材料", "多久能拿到", "收费吗", "丢了怎么补",
         "到期了怎么续", "能网上办吗", "外地户口能办吗", "进度在哪查")


def fill(kb: KnowledgeBase, tasks: int, per_task: int, rng: random.Random) -> None:
    calendar = WorkCalendar.of(kb.db)
    services = [(item.item_no, item.department) for item in kb.items().values()]
    now = clock.now()
    due_of = {}
    task_rows, question_rows = [], []
    for task_id in range(1, tasks + 1):
        created = now - timedelta(seconds=rng.randrange(365 * 86400))
        day = created.date()
        if day not in due_of:
            due_of[day] = calendar.add(day, DUE_WORKING_DAYS).day
        due = due_of[day]
        item_no, department = (rng.choice(services) if rng.random() > 0.15
                               else (None, PLATFORM_DEPARTMENT))
        status, closed = "open", None
        fate = rng.random()
        if fate < 0.85:
            taken = timedelta(days=rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20)),
                              seconds=rng.randrange(86400))
            if created + taken < now:
                status = rng.choices(("published", "rejected", "merged"), (8, 1, 1))[0]
                closed = (created + taken).isoformat(timespec="seconds")
        elif fate < 0.92:
            status = "answered"
        count = rng.randint(1, 2 * per_task - 1)
        stamp = created.isoformat(timespec="seconds")
        task_rows.append((task_id, f"{rng.choice(SUBJECTS)}{rng.choice(NEEDS)}", item_no,
                          department, status, count, stamp, stamp, stamp, due.isoformat(), 0,
                          closed, 1))
        phrasings = [f"{rng.choice(SUBJECTS)}{rng.choice(NEEDS)}" for _ in range(3)]
        question_rows += [(task_id, rng.choice(phrasings), "fallback", stamp)
                          for _ in range(count)]
    with kb.write() as db:
        db.conn.executemany(
            "INSERT INTO gap_tasks (id, title, item_no, department, status, ask_count, "
            "first_asked_at, last_asked_at, created_at, due_on, provisional, closed_at, "
            "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", task_rows)
        db.conn.executemany("INSERT INTO gap_questions (task_id, text, reason, asked_at) "
                            "VALUES (?, ?, ?, ?)", question_rows)


def timed(repeat: int, work) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - began)
    return statistics.median(timings) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=3, help="per task, on average")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the median shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        kb = KnowledgeBase(Path(home) / "kb.db")
        import_items(kb, ROOT / "kb" / "seed" / "items.csv")
        began = time.perf_counter()
        fill(kb, args.tasks, args.questions, random.Random(0))
        questions = kb.db["gap_questions"].count
        print(f"{args.tasks} tasks, {questions} questions over a year, written in "
              f"{time.perf_counter() - began:.1f} s")
        kb = KnowledgeBase(Path(home) / "kb.db")  # a fresh connection, as a server has
        today = clock.today()
        start = today - timedelta(days=364)
        build_ms, report = timed(args.repeat, lambda: build_report(kb, start, today))
        department = report.by_department[0]["department"]
        one_ms, _ = timed(args.repeat, lambda: build_report(kb, start, today, department))
        month_ms, _ = timed(args.repeat,
                            lambda: build_report(kb, today - timedelta(days=27), today))
        xlsx = Path(home) / "report.xlsx"
        xlsx_ms, _ = timed(args.repeat, lambda: export_report(report, "xlsx", xlsx))
        zipped = Path(home) / "report.zip"
        csv_ms, _ = timed(args.repeat, lambda: export_report(report, "csv", zipped))
        totals = report.totals
        print(f"report {start} – {today}: {totals['opened']} opened, "
              f"{totals['closed_in_time']} closed in time, {totals['closed_late']} late, "
              f"{totals['overdue_now']} overdue, {totals['open_now']} open; median "
              f"{totals['median_fill_days']} working days; {len(report.by_service)} service "
              f"rows, {len(report.weekly)} weeks")
        print(f"build_report, a year, all departments  {build_ms:7.0f} ms")
        print(f"build_report, a year, {department}  {one_ms:7.0f} ms")
        print(f"build_report, 28 days, all departments {month_ms:7.0f} ms")
        print(f"export XLSX                            {xlsx_ms:7.0f} ms  "
              f"{xlsx.stat().st_size / 1024:.0f} KiB")
        print(f"export CSV (zip)                       {csv_ms:7.0f} ms  "
              f"{zipped.stat().st_size / 1024:.0f} KiB")
        print(f"build + XLSX                           {build_ms + xlsx_ms:7.0f} ms  "
              "(aim ≤ 5000 ms)")


if __name__ == "__main__":
    main()
