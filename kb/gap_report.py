"""The knowledge-gap report: for the tasks *opened* in a range of Shanghai days (a department's,
or all), how many were closed within their deadline, closed late, are overdue now or still
within it, how many working days they took, what is asked most and is still unanswered, and
the weekly trend.

Every figure is counted by SQLite (GROUP BY over the scoped tasks); Python only adds up the few
grouped rows. Days are Shanghai days whatever offset a stamp was written with. The views' rows
are dicts with stable English keys; `COLUMNS` holds their Chinese headings, once, for the
exports and the console page. A task's state is one of four, so that
opened = closed_in_time + closed_late + overdue_now + open_now:

    closed_in_time  published, rejected or merged on or before its due day
    closed_late     closed after its due day
    overdue_now     still pending (open or answered) and today is after its due day
    open_now        still pending, within its deadline
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kb import clock
from kb.errors import KnowledgeBaseError
from kb.store import KnowledgeBase
from kb.workdays import WorkCalendar
from nlu.privacy import mask_personal_data

TOP_UNANSWERED = 50
NO_SERVICE = "平台/未识别事项"
ALL_DEPARTMENTS = "全部部门"
CLOSED = ("published", "rejected", "merged")
STATUS_NAMES = {"open": "待答复", "answered": "已答复待发布", "published": "已发布",
                "rejected": "已驳回", "merged": "已合并"}

_FIGURES = (("opened", "新增任务"), ("closed_in_time", "按期办结"), ("closed_late", "逾期办结"),
            ("overdue_now", "当前逾期未办"), ("open_now", "办理中（未逾期）"),
            ("median_fill_days", "办结用时中位数（工作日）"), ("asks", "提问次数"))
COUNTED = tuple(key for key, _ in _FIGURES if key != "median_fill_days")
# Each view's columns, in order: (key of the row dict, Chinese heading).
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "totals": (("start", "开始日期"), ("end", "结束日期"), ("department", "部门"), *_FIGURES,
               ("generated_at", "生成时间")),
    "by_department": (("department", "部门"), *_FIGURES),
    "by_service": (("service", "事项"), ("item_no", "事项编号"), ("department", "部门"),
                   *_FIGURES),
    "top_unanswered": (("rank", "排名"), ("question", "问题（已脱敏）"), ("count", "提问次数"),
                       ("task_id", "任务编号"), ("task_asks", "任务累计提问"),
                       ("department", "部门"), ("service", "事项"), ("status", "状态"),
                       ("due_on", "办结期限"), ("overdue", "是否逾期")),
    "weekly": (("week_start", "周一"), ("week_end", "周日"), ("opened", "新增任务"),
               ("closed", "办结任务"), ("overdue", "周末逾期未办"), ("as_of", "逾期统计日")),
}
# The views' titles: the XLSX sheet and CSV file names, the page's headings.
TITLES = {"totals": "总览", "by_department": "按部门", "by_service": "按事项",
          "top_unanswered": "高频未解决问题", "weekly": "每周趋势"}


class InvalidReportRange(KnowledgeBaseError):
    pass


@dataclass(frozen=True)
class GapReport:
    start: date
    end: date
    department: str | None
    generated_at: str
    totals: dict[str, Any]
    by_department: list[dict[str, Any]]
    by_service: list[dict[str, Any]]
    top_unanswered: list[dict[str, Any]]
    weekly: list[dict[str, Any]]

    def view(self, name: str) -> list[dict[str, Any]]:
        """A view's rows (the totals as its one row)."""
        return [self.totals] if name == "totals" else getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the views, plus their columns and titles for the page to render."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "department": self.department, "generated_at": self.generated_at,
                **{name: getattr(self, name) for name in TITLES},
                "columns": {name: [{"key": key, "title": title} for key, title in columns]
                            for name, columns in COLUMNS.items()},
                "titles": TITLES, "status_names": STATUS_NAMES}


# The tasks opened on the Shanghai days [:start, :end]. The first two terms let the created_at
# index narrow the scan: a stamp of Shanghai day D, at any offset from -12:00 to +14:00, reads
# between D-1 and D+2 as text. closed_on is NULL exactly while a task is pending. {scan} is
# NOT INDEXED when the range holds much of the table (reading it straight is then faster).
_SCOPED = """WITH scoped AS (
  SELECT id, department, item_no, status, ask_count, due_on,
         date(created_at, '+8 hours') AS opened_on,
         CASE WHEN status IN ('published', 'rejected', 'merged')
              THEN date(coalesce(closed_at, updated_at, created_at), '+8 hours') END AS closed_on
  FROM gap_tasks {scan}
  WHERE created_at >= :low AND created_at < :high
    AND date(created_at, '+8 hours') BETWEEN :start AND :end {department})"""

_GROUPS = """SELECT department, item_no, count(*),
  count(*) FILTER (WHERE closed_on <= due_on), count(*) FILTER (WHERE closed_on > due_on),
  count(*) FILTER (WHERE closed_on IS NULL AND due_on < :today),
  count(*) FILTER (WHERE closed_on IS NULL AND due_on >= :today),
  coalesce(sum(ask_count), 0), min(closed_on), max(closed_on)
FROM scoped GROUP BY department, item_no"""

# :upto holds, for each day from :first on, the working days after :first up to it, in
# fixed-width digits: the working days between two days is a subtraction of two substrings.
UPTO_WIDTH = 5
_UPTO = (f"CAST(substr(:upto, 1 + {UPTO_WIDTH} * CAST(julianday({{day}}) - julianday(:first) "
         f"AS INTEGER), {UPTO_WIDTH}) AS INTEGER)")
_FILL = f"""SELECT department, item_no,
  max(0, {_UPTO.format(day="closed_on")} - {_UPTO.format(day="opened_on")}) AS fill, count(*)
FROM scoped WHERE closed_on IS NOT NULL GROUP BY department, item_no, fill"""

_OPENED_WEEKLY = """SELECT date(opened_on, 'weekday 0', '-6 days') AS monday, count(*)
FROM scoped GROUP BY monday"""

_CLOSED_WEEKLY = """SELECT date(closed_on, 'weekday 0', '-6 days') AS monday, count(*)
FROM scoped WHERE closed_on IS NOT NULL GROUP BY monday"""

# Tasks that were ever overdue: still pending, or closed after their due day.
_LATE = """SELECT due_on, closed_on, count(*) FROM scoped
WHERE closed_on IS NULL OR closed_on > due_on GROUP BY due_on, closed_on"""

_TOP = """SELECT q.text, count(*) AS asked, q.task_id, scoped.ask_count, scoped.department,
  scoped.item_no, scoped.status, scoped.due_on
FROM gap_questions AS q JOIN scoped ON scoped.id = q.task_id
WHERE scoped.closed_on IS NULL
GROUP BY q.task_id, q.text
ORDER BY asked DESC, scoped.ask_count DESC, q.task_id, min(q.id) LIMIT :limit"""


def build_report(kb: KnowledgeBase, start: date, end: date, department: str | None = None
                 ) -> GapReport:
    if start > end:
        raise InvalidReportRange(f"the report starts on {start}, after its end {end}")
    today = clock.today()
    args = {"start": start.isoformat(), "end": end.isoformat(), "today": today.isoformat(),
            "low": (start - timedelta(days=1)).isoformat(),
            "high": (end + timedelta(days=2)).isoformat(), "department": department}
    db = kb.db
    scoped = _SCOPED.format(scan="NOT INDEXED" if _most_of_the_table(db, start, end) else "",
                            department="AND department = :department" if department else "")
    groups = db.execute(scoped + _GROUPS, args).fetchall()
    closed_days = [day for row in groups for day in row[8:10] if day]
    first = min([start, *map(date.fromisoformat, closed_days)])
    last = max([end, today, *map(date.fromisoformat, closed_days)])
    upto = _working_days_upto(WorkCalendar.of(db), first, last)
    fills = db.execute(scoped + _FILL, {**args, "first": first.isoformat(), "upto": upto}
                       ).fetchall()
    names = {item_no: item.name for item_no, item in kb.items().items()}
    by_department = _rolled_up(groups, fills, lambda dept, item: (dept,), ("department",))
    by_service = _rolled_up(groups, fills, lambda dept, item: (item, dept),
                            ("item_no", "department"))
    for row in by_service:
        row["service"] = _service(row["item_no"], names)
    [totals] = _rolled_up(groups, fills, lambda dept, item: (), ()) or [_empty({})]
    totals = {"start": start.isoformat(), "end": end.isoformat(),
              "department": department or ALL_DEPARTMENTS, **totals,
              "generated_at": clock.timestamp()}
    weekly = _weekly(db, scoped, args, start, end, today)
    top = [_unanswered(rank, row, names, today) for rank, row in enumerate(
        db.execute(scoped + _TOP, {**args, "limit": TOP_UNANSWERED}), start=1)]
    return GapReport(start, end, department, totals["generated_at"], totals,
                     _ranked(by_department, "department"), _ranked(by_service, "service"), top,
                     weekly)


def _most_of_the_table(db, start: date, end: date) -> bool:
    """Whether [start, end] spans over a third of the time the tasks were created over (the
    base has no ANALYZE statistics; the index gives the first and last stamps at once)."""
    [first], [last] = (db.execute(f"SELECT {which}(created_at) FROM gap_tasks").fetchone()
                       for which in ("min", "max"))  # apart: each is one index look-up
    if first is None:
        return False
    first, last = date.fromisoformat(first[:10]), date.fromisoformat(last[:10])
    return (min(end, last) - max(start, first)).days + 1 > ((last - first).days + 1) / 3


def _working_days_upto(calendar: WorkCalendar, first: date, last: date) -> str:
    """For each day from `first` to `last`, the working days in (first, day], as
    UPTO_WIDTH digits each: WorkCalendar.working_days_between(a, b) is upto(b) - upto(a)."""
    counts, count, day = ["0" * UPTO_WIDTH], 0, first
    while day < last:
        day += timedelta(days=1)
        count += calendar.is_working_day(day)
        counts.append(f"{count:0{UPTO_WIDTH}d}")
    return "".join(counts)


def _empty(key: dict[str, Any]) -> dict[str, Any]:
    return {**key, **dict.fromkeys(COUNTED, 0), "median_fill_days": None}


def _rolled_up(groups: list[tuple], fills: list[tuple], key_of, names: tuple[str, ...]
               ) -> list[dict[str, Any]]:
    """The grouped figures summed to another key, with the median of the fill times."""
    rows: dict[tuple, dict[str, Any]] = {}
    for dept, item, *counts in groups:
        key = key_of(dept, item)
        row = rows.setdefault(key, _empty(dict(zip(names, key, strict=True))))
        for name, count in zip(COUNTED, counts[:len(COUNTED)], strict=True):
            row[name] += count
    histograms: dict[tuple, Counter[int]] = defaultdict(Counter)
    for dept, item, fill, count in fills:
        histograms[key_of(dept, item)][fill] += count
    for key, histogram in histograms.items():
        rows[key]["median_fill_days"] = median(histogram)
    return list(rows.values())


def median(histogram: Counter[int]) -> float | int | None:
    """The median of values given as value → how many (the mean of the middle two when
    their number is even), None of none."""
    size = sum(histogram.values())
    if not size:
        return None
    low = high = None
    seen = 0
    for value, count in sorted(histogram.items()):
        seen += count
        if low is None and seen > (size - 1) // 2:
            low = value
        if seen > size // 2:
            high = value
            break
    total = low + high
    return total // 2 if total % 2 == 0 else total / 2


def _ranked(rows: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: (-row["opened"], str(row[label]),
                                         str(row.get("department"))))


def _service(item_no: int | None, names: dict[int, str]) -> str:
    if item_no is None:
        return NO_SERVICE
    return names.get(item_no, f"事项 {item_no}")


def _unanswered(rank: int, row: tuple, names: dict[int, str], today: date) -> dict[str, Any]:
    text, asked, task_id, task_asks, department, item_no, status, due_on = row
    return {"rank": rank, "question": mask_personal_data(text), "count": asked,
            "task_id": task_id, "task_asks": task_asks, "department": department,
            "service": _service(item_no, names), "item_no": item_no, "status": status,
            "due_on": due_on, "overdue": today.isoformat() > due_on}


def _weekly(db, scoped: str, args: dict[str, Any], start: date, end: date, today: date
            ) -> list[dict[str, Any]]:
    """Per ISO week touching the range: tasks opened and closed in it, and those overdue at
    its end (Sunday, or today for the current week; None for a week still to come)."""
    opened = dict(db.execute(scoped + _OPENED_WEEKLY, args).fetchall())
    closed = dict(db.execute(scoped + _CLOSED_WEEKLY, args).fetchall())
    late = db.execute(scoped + _LATE, args).fetchall()
    weeks, monday = [], start - timedelta(days=start.weekday())
    while monday <= end:
        sunday = monday + timedelta(days=6)
        as_of = min(sunday, today).isoformat() if monday <= today else None
        overdue = None if as_of is None else sum(
            count for due_on, closed_on, count in late
            if due_on < as_of and (closed_on is None or closed_on > as_of))
        weeks.append({"week_start": monday.isoformat(), "week_end": sunday.isoformat(),
                      "opened": opened.get(monday.isoformat(), 0),
                      "closed": closed.get(monday.isoformat(), 0), "overdue": overdue,
                      "as_of": as_of})
        monday += timedelta(days=7)
    return weeks
