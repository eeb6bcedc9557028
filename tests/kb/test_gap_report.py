"""The gap report: exact figures for a known set of tasks around the 2026 中秋 and 国庆 holidays
(and their make-up days), the same figures counted the slow way from the database, and the
XLSX and CSV exports read back, charts included; the `xiaoshen gaps report` command."""

from __future__ import annotations

import csv
import io
import json
import statistics
import zipfile
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.chart import BarChart, LineChart

from kb import clock
from kb.gap_export import ReportFormatError, export_report, table
from kb.gap_report import (
    COLUMNS,
    NO_SERVICE,
    TITLES,
    GapReport,
    InvalidReportRange,
    build_report,
    median,
)
from kb.gap_tasks import PENDING, is_overdue, shanghai_day
from kb.gaps import DUE_WORKING_DAYS, PLATFORM_DEPARTMENT
from kb.store import KnowledgeBase
from kb.workdays import WorkCalendar
from tests.conftest import free_port
from xiaoshen.cli import cli

POLICE, LABOUR = "市公安局", "市人力资源社会保障局"
NOW = "2026-10-14T10:00:00+08:00"  # a Wednesday
START, END = date(2026, 9, 21), date(2026, 10, 13)
INJECTION = '=HYPERLINK("http://example.com","居住证")'
# name: department, item_no, created_at, status, closed_at, the phrasings asked. 2026: 9-25
# (中秋) and 10-1 to 10-7 are holidays; Sunday 9-20 and Saturday 10-10 are working days.
TASKS: dict[str, tuple[str, int | None, str, str, str | None, list[str]]] = {
    # 00:30 on 21 September in Shanghai, still the 20th in UTC: in the range.
    "A": (POLICE, 3, "2026-09-20T16:30:00+00:00", "published", "2026-09-29T17:00:00+08:00",
          ["居住证签注在哪里办"] * 2),
    "B": (POLICE, 3, "2026-09-28T09:00:00+08:00", "published", "2026-10-09T10:00:00+08:00",
          ["居住证签注可以网上办吗"]),
    "C": (POLICE, 4, "2026-09-29T10:00:00+08:00", "published", "2026-10-13T11:00:00+08:00",
          ["居住证新办要多久"] * 2 + ["办居住证要多长时间"]),
    "D": (POLICE, 4, "2026-09-22T10:00:00+08:00", "open", None,
          ["居住证新办需要社区证明吗"] * 4 + [INJECTION] * 2),
    "E": (POLICE, 3, "2026-10-12T09:00:00+08:00", "answered", None,
          ["居住证签注我手机13912345678收不到验证码"] * 2),
    # 23:30 on 30 September in Shanghai, written in UTC.
    "F": (LABOUR, 10, "2026-09-30T15:30:00+00:00", "rejected", "2026-10-08T09:00:00+08:00",
          ["失业登记要带什么"]),
    "G": (LABOUR, 10, "2026-09-30T09:00:00+08:00", "merged", "2026-10-14T08:00:00+08:00",
          ["失业金怎么领"] * 2),
    "H": (LABOUR, 10, "2026-10-13T09:00:00+08:00", "open", None,
          ["外地户口能办失业登记吗"] * 3 + ["@失业登记进度"]),
    "K": (LABOUR, 10, "2026-09-22T10:00:00+08:00", "published", "2026-10-12T09:00:00+08:00",
          ["失业登记网上怎么办"]),
    "I": (PLATFORM_DEPARTMENT, None, "2026-09-21T11:00:00+08:00", "open", None,
          ["一网通办账号注销不了"] * 5),
    "J": (PLATFORM_DEPARTMENT, None, "2026-10-12T14:00:00+08:00", "open", None,
          ["+86 的号码能注册吗"]),
    # Outside the range: 20 September in Shanghai; 14 October in Shanghai; long before.
    "X1": (POLICE, 3, "2026-09-20T23:59:00+08:00", "open", None, ["范围外的问题一"] * 9),
    "X2": (POLICE, 3, "2026-10-13T16:30:00+00:00", "open", None, ["范围外的问题二"] * 9),
    "X3": (LABOUR, 10, "2026-09-10T10:00:00+08:00", "open", None, ["范围外的问题三"] * 9),
}


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):
    """Set the clock to a Shanghai wall time."""
    def set_clock(text: str) -> None:
        moment = datetime.fromisoformat(text).astimezone(clock.SHANGHAI)
        monkeypatch.setattr(clock, "now", lambda: moment)
    set_clock(NOW)
    return set_clock


def fill(kb: KnowledgeBase, tasks: dict[str, tuple] = TASKS) -> dict[str, int]:
    """The tasks, due 5 working days after their Shanghai day; name → task id."""
    calendar, ids = WorkCalendar.of(kb.db), {}
    with kb.write() as db:
        for name, (department, item_no, created, status, closed, asked) in tasks.items():
            due = calendar.add(shanghai_day(created), DUE_WORKING_DAYS).day.isoformat()
            ids[name] = db["gap_tasks"].insert({
                "title": asked[0], "item_no": item_no, "department": department,
                "status": status, "ask_count": len(asked), "first_asked_at": created,
                "last_asked_at": created, "created_at": created, "due_on": due,
                "provisional": 0, "closed_at": closed, "version": 1}).last_pk
            db["gap_questions"].insert_all(
                {"task_id": ids[name], "text": text, "reason": "fallback", "asked_at": created,
                 "item_no": item_no, "department": department} for text in asked)
    return ids


@pytest.fixture
def report(memory_kb: KnowledgeBase, at) -> GapReport:
    fill(memory_kb)
    return build_report(memory_kb, START, END)


def figures(opened: int, in_time: int, late: int, overdue: int, pending: int,
            fill_days: float | None, asks: int) -> dict[str, Any]:
    return {"opened": opened, "closed_in_time": in_time, "closed_late": late,
            "overdue_now": overdue, "open_now": pending, "median_fill_days": fill_days,
            "asks": asks}


# -- the figures, known ---------------------------------------------------------------------


def test_deadlines_skip_the_holidays_and_count_the_make_up_days(memory_kb, at) -> None:
    fill(memory_kb)
    due = {row["title"]: row["due_on"] for row in memory_kb.db["gap_tasks"].rows}
    assert due["居住证签注在哪里办"] == "2026-09-29"  # over 中秋 (9-25)
    assert due["居住证签注可以网上办吗"] == "2026-10-10"  # over 国庆, to the make-up Saturday
    assert due["失业金怎么领"] == "2026-10-13"


def test_per_department(report) -> None:
    # Fill times in working days: A 5, B 4 (11 calendar days over 国庆), C 6 | F 1, G 6, K 9.
    assert report.by_department == [
        {"department": POLICE, **figures(5, 2, 1, 1, 1, 5, 14)},
        {"department": LABOUR, **figures(4, 1, 2, 0, 1, 6, 8)},
        {"department": PLATFORM_DEPARTMENT, **figures(2, 0, 0, 1, 1, None, 6)},
    ]


def test_per_service(report) -> None:
    assert report.by_service == [
        {"item_no": 10, "department": LABOUR, **figures(4, 1, 2, 0, 1, 6, 8),
         "service": "失业登记（本市户籍）/（非本市户籍）"},
        {"item_no": 3, "department": POLICE, **figures(3, 2, 0, 0, 1, 4.5, 5),
         "service": "居住证签注"},
        {"item_no": 4, "department": POLICE, **figures(2, 0, 1, 1, 0, 6, 9),
         "service": "居住证新办"},
        {"item_no": None, "department": PLATFORM_DEPARTMENT, **figures(2, 0, 0, 1, 1, None, 6),
         "service": NO_SERVICE},
    ]


def test_totals(report) -> None:
    assert report.totals == {
        "start": "2026-09-21", "end": "2026-10-13", "department": "全部部门",
        **figures(11, 3, 3, 2, 3, 5.5, 28), "generated_at": NOW}


def test_the_most_asked_unanswered_questions_masked(report, memory_kb) -> None:
    ids = {row["title"]: row["id"] for row in memory_kb.db["gap_tasks"].rows}
    shown = [(row["rank"], row["question"], row["count"], row["task_asks"], row["overdue"])
             for row in report.top_unanswered]
    assert shown == [
        (1, "一网通办账号注销不了", 5, 5, True),
        (2, "居住证新办需要社区证明吗", 4, 6, True),
        (3, "外地户口能办失业登记吗", 3, 4, False),
        (4, INJECTION, 2, 6, True),
        (5, "居住证签注我手机139****5678收不到验证码", 2, 2, False),
        (6, "@失业登记进度", 1, 4, False),
        (7, "+86 的号码能注册吗", 1, 1, False),
    ]
    first = report.top_unanswered[0]
    assert (first["task_id"], first["department"], first["service"], first["status"],
            first["due_on"]) == (ids["一网通办账号注销不了"], PLATFORM_DEPARTMENT, NO_SERVICE,
                                 "open", "2026-09-29")


def test_weekly_trend(report) -> None:
    # K (due 9-30, closed 10-12) was overdue at the end of both holiday weeks.
    assert report.weekly == [
        {"week_start": "2026-09-21", "week_end": "2026-09-27", "opened": 4, "closed": 0,
         "overdue": 0, "as_of": "2026-09-27"},
        {"week_start": "2026-09-28", "week_end": "2026-10-04", "opened": 4, "closed": 1,
         "overdue": 3, "as_of": "2026-10-04"},
        {"week_start": "2026-10-05", "week_end": "2026-10-11", "opened": 0, "closed": 2,
         "overdue": 3, "as_of": "2026-10-11"},
        {"week_start": "2026-10-12", "week_end": "2026-10-18", "opened": 3, "closed": 3,
         "overdue": 2, "as_of": "2026-10-14"},  # the current week: overdue now
    ]


def test_a_department_sees_only_its_own(memory_kb, at) -> None:
    fill(memory_kb)
    report = build_report(memory_kb, START, END, LABOUR)
    assert report.by_department == [{"department": LABOUR, **figures(4, 1, 2, 0, 1, 6, 8)}]
    assert [row["item_no"] for row in report.by_service] == [10]
    assert [row["question"] for row in report.top_unanswered] == ["外地户口能办失业登记吗",
                                                                  "@失业登记进度"]
    assert report.totals["department"] == LABOUR
    assert [week["overdue"] for week in report.weekly] == [0, 1, 1, 0]


def test_on_its_due_day_a_task_is_not_yet_overdue(memory_kb, at) -> None:
    fill(memory_kb, {"L": (LABOUR, 10, "2026-10-08T09:00:00+08:00", "open", None, ["社保"])})
    [row] = build_report(memory_kb, START, END).by_department
    assert memory_kb.db["gap_tasks"].get(1)["due_on"] == "2026-10-14"
    assert (row["overdue_now"], row["open_now"]) == (0, 1)
    at("2026-10-15T00:30:00+08:00")
    [row] = build_report(memory_kb, START, END).by_department
    assert (row["overdue_now"], row["open_now"]) == (1, 0)


def test_an_empty_range_and_a_week_to_come(memory_kb, at) -> None:
    report = build_report(memory_kb, date(2026, 10, 12), date(2026, 10, 25))
    assert report.by_department == report.by_service == report.top_unanswered == []
    assert report.totals["opened"] == 0 and report.totals["median_fill_days"] is None
    assert [(w["week_start"], w["overdue"]) for w in report.weekly] == [
        ("2026-10-12", 0), ("2026-10-19", None)]


def test_a_range_that_ends_before_it_starts_is_refused(memory_kb) -> None:
    with pytest.raises(InvalidReportRange, match="starts on 2026-10-13, after its end"):
        build_report(memory_kb, END, START)


@pytest.mark.parametrize(("values", "expected"), [
    ([], None), ([3], 3), ([1, 2], 1.5), ([1, 1, 4], 1), ([1, 4, 5, 6, 6, 9], 5.5),
    ([2, 2, 2, 8], 2), ([0, 7], 3.5)])
def test_median_of_a_histogram(values: list[int], expected: float | None) -> None:
    assert median(Counter(values)) == expected
    assert expected is None or statistics.median(values) == expected


def test_as_dict_is_json_with_every_column_named(report) -> None:
    shown = json.loads(json.dumps(report.as_dict(), ensure_ascii=False))
    assert shown["start"] == "2026-09-21" and shown["department"] is None
    assert shown["titles"]["weekly"] == "每周趋势"
    for view in TITLES:
        keys = [column["key"] for column in shown["columns"][view]]
        rows = [shown["totals"]] if view == "totals" else shown[view]
        assert rows and all(set(keys) <= set(row) for row in rows), view


# -- the same figures, counted the slow way -------------------------------------------------


def counted(kb: KnowledgeBase, start: date, end: date, key) -> dict[Any, dict[str, Any]]:
    """Task by task with the library's own helpers: the figures per key(task)."""
    calendar, today, found = WorkCalendar.of(kb.db), clock.today(), {}
    tasks = [t for t in kb.db["gap_tasks"].rows
             if start <= shanghai_day(t["created_at"]) <= end]
    for group in {key(t) for t in tasks}:
        mine = [t for t in tasks if key(t) == group]
        closed = [t for t in mine if t["status"] not in PENDING]
        days = [calendar.working_days_between(shanghai_day(t["created_at"]),
                                              shanghai_day(t["closed_at"])) for t in closed]
        in_time = sum(shanghai_day(t["closed_at"]).isoformat() <= t["due_on"] for t in closed)
        overdue = sum(is_overdue(t, today) for t in mine)
        found[group] = figures(len(mine), in_time, len(closed) - in_time, overdue,
                               len(mine) - len(closed) - overdue,
                               statistics.median(days) if days else None,
                               sum(t["ask_count"] for t in mine))
    return found


def test_the_report_equals_the_database_counted_task_by_task(report, memory_kb) -> None:
    everything_counted = figures(0, 0, 0, 0, 0, None, 0).keys()
    by_department = counted(memory_kb, START, END, lambda t: t["department"])
    assert {row["department"]: {k: row[k] for k in by_department[row["department"]]}
            for row in report.by_department} == by_department
    by_service = counted(memory_kb, START, END, lambda t: (t["item_no"], t["department"]))
    assert {(row["item_no"], row["department"]): {k: row[k] for k in everything_counted}
            for row in report.by_service} == by_service
    [everything] = counted(memory_kb, START, END, lambda t: None).values()
    assert {k: report.totals[k] for k in everything} == everything


# -- the exports, read back -----------------------------------------------------------------


def sheet_rows(sheet) -> list[list[Any]]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_xlsx_read_back_matches_the_database(report, memory_kb, tmp_path: Path) -> None:
    [path] = export_report(report, "xlsx", tmp_path / "out" / "report.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["总览", "按部门", "按事项", "高频未解决问题", "每周趋势"]
    for title in TITLES.values():
        sheet = book[title]
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.b for cell in sheet[1])
        assert all(sheet.column_dimensions[letter].width >= 6 for letter in "AB")
    # Every department's numbers as the database has them, as numbers.
    departments = sheet_rows(book["按部门"])
    assert departments[0] == [title for _, title in COLUMNS["by_department"]]
    expected = counted(memory_kb, START, END, lambda t: t["department"])
    keys = [key for key, _ in COLUMNS["by_department"]][1:]
    assert {row[0]: dict(zip(keys, row[1:], strict=True))
            for row in departments[1:]} == expected
    assert departments[1][1:] == [5, 2, 1, 1, 1, 5, 14]
    assert departments[3][6] is None  # no closed task: no median
    services = sheet_rows(book["按事项"])
    expected = counted(memory_kb, START, END, lambda t: (t["item_no"], t["department"]))
    assert {(row[1], row[2]): dict(zip(keys, row[3:], strict=True))
            for row in services[1:]} == expected
    assert services[2][:4] == ["居住证签注", 3, POLICE, 3] and services[2][8] == 4.5
    assert services[4][:3] == [NO_SERVICE, None, PLATFORM_DEPARTMENT]
    totals = dict(sheet_rows(book["总览"])[1:])
    assert (totals["新增任务"], totals["按期办结"], totals["逾期办结"], totals["当前逾期未办"],
            totals["办理中（未逾期）"], totals["办结用时中位数（工作日）"],
            totals["提问次数"]) == (11, 3, 3, 2, 3, 5.5, 28)
    assert totals["部门"] == "全部部门" and totals["开始日期"] == "2026-09-21"
    weekly = sheet_rows(book["每周趋势"])
    assert [row[2:5] for row in weekly[1:]] == [[4, 0, 0], [4, 1, 3], [0, 2, 3], [3, 3, 2]]
    # The citizens' phrasings cannot run as formulas.
    top = book["高频未解决问题"]
    questions = [row[1] for row in sheet_rows(top)[1:]]
    assert questions[3] == "'" + INJECTION and top["B5"].data_type == "s"
    assert questions[5:] == ["'@失业登记进度", "'+86 的号码能注册吗"]
    assert "139****5678" in questions[4]
    assert [row[7] for row in sheet_rows(top)[1:3]] == ["待答复", "待答复"]
    assert [row[9] for row in sheet_rows(top)[1:4]] == ["是", "是", "否"]


def chart_refs(chart) -> list[tuple[str, str, str]]:
    return [(s.tx.strRef.f, s.val.numRef.f, (s.cat.numRef or s.cat.strRef).f)
            for s in chart.series]


def test_xlsx_holds_real_charts(report, tmp_path: Path) -> None:
    [path] = export_report(report, "xlsx", tmp_path / "report.xlsx")
    book = load_workbook(path)
    [departments] = book["按部门"]._charts
    assert isinstance(departments, BarChart) and departments.type == "bar"
    assert chart_refs(departments) == [
        (f"'按部门'!{col}1", f"'按部门'!${col}$2:${col}$4", "'按部门'!$A$2:$A$4")
        for col in "BCDE"]
    [services] = book["按事项"]._charts
    assert isinstance(services, BarChart)
    assert chart_refs(services) == [
        (f"'按事项'!{col}1", f"'按事项'!${col}$2:${col}$5", "'按事项'!$A$2:$A$5")
        for col in "DEFG"]
    [trend] = book["每周趋势"]._charts
    assert isinstance(trend, LineChart)
    assert chart_refs(trend) == [
        (f"'每周趋势'!{col}1", f"'每周趋势'!${col}$2:${col}$5", "'每周趋势'!$A$2:$A$5")
        for col in "CDE"]
    assert book["总览"]._charts == book["高频未解决问题"]._charts == []


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def as_text(rows: list[list[Any]]) -> list[list[str]]:
    return [["" if value is None else str(value) for value in row] for row in rows]


def test_csv_files_in_a_folder(report, tmp_path: Path) -> None:
    written = export_report(report, "csv", tmp_path / "report")
    assert [path.name for path in written] == [f"{title}.csv" for title in TITLES.values()]
    for view, path in zip(TITLES, written, strict=True):
        headings, rows = table(report, view)
        assert csv_rows(path.read_bytes()) == as_text([headings, *rows])
    departments = csv_rows((tmp_path / "report" / "按部门.csv").read_bytes())
    assert departments[0][:3] == ["部门", "新增任务", "按期办结"]
    assert departments[1] == [POLICE, "5", "2", "1", "1", "1", "5", "14"]
    assert departments[3][6] == ""
    top = csv_rows((tmp_path / "report" / "高频未解决问题.csv").read_bytes())
    assert top[4][1] == "'" + INJECTION


def test_csv_files_in_a_zip(report, tmp_path: Path) -> None:
    assert export_report(report, "csv", tmp_path / "report.zip") == [tmp_path / "report.zip"]
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        assert archive.namelist() == [f"{title}.csv" for title in TITLES.values()]
        weekly = csv_rows(archive.read("每周趋势.csv"))
    assert weekly[0] == ["周一", "周日", "新增任务", "办结任务", "周末逾期未办", "逾期统计日"]
    assert weekly[4] == ["2026-10-12", "2026-10-18", "3", "3", "2", "2026-10-14"]


def test_an_empty_report_exports_too(memory_kb, at, tmp_path: Path) -> None:
    report = build_report(memory_kb, START, END)
    [path] = export_report(report, "xlsx", tmp_path / "empty.xlsx")
    book = load_workbook(path)
    assert sheet_rows(book["按部门"]) == [[title for _, title in COLUMNS["by_department"]]]
    assert book["按部门"]._charts == [] and len(book["每周趋势"]._charts) == 1


def test_an_unknown_format_is_refused(report, tmp_path: Path) -> None:
    with pytest.raises(ReportFormatError, match="unknown report format 'pdf'"):
        export_report(report, "pdf", tmp_path / "report.pdf")


# -- the command ----------------------------------------------------------------------------


@pytest.fixture
def cli_env(file_kb: KnowledgeBase, tmp_path: Path, at) -> dict[str, str]:
    fill(file_kb)
    return {"XIAOSHEN_DB": str(tmp_path / "kb.db"), "XIAOSHEN_INDEX_DIR": str(tmp_path / "index"),
            "XIAOSHEN_RASA_PORT": str(free_port()), "XIAOSHEN_ACTIONS_PORT": str(free_port()),
            "XIAOSHEN_GATEWAY_PORT": str(free_port())}


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, ["gaps", "report", *args], env=env, catch_exceptions=False)


def test_the_command_writes_the_xlsx(cli_env, tmp_path: Path) -> None:
    out = tmp_path / "gaps.xlsx"
    result = run(cli_env, "--from", "2026-09-21", "--to", "2026-10-13", "--format", "xlsx",
                 "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"wrote {out}",
        "2026-09-21 – 2026-10-13, 全部部门: 11 tasks opened, 3 closed in time, 3 closed late, "
        "2 overdue, 3 open; median 5.5 working days to fill"]
    book = load_workbook(out)
    assert sheet_rows(book["按部门"])[1][1:] == [5, 2, 1, 1, 1, 5, 14]
    assert len(book["按部门"]._charts) == 1


def test_the_command_by_default_reports_the_last_four_weeks(cli_env, tmp_path: Path) -> None:
    result = run(cli_env, "--department", POLICE, "--format", "csv", "--output",
                 str(tmp_path / "csv"))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:5] == [f"wrote {tmp_path / 'csv' / title}.csv" for title in TITLES.values()]
    # 17 September to 14 October: X1 and X2 now count, X3 (10 September) still not.
    assert lines[5].startswith(f"2026-09-17 – 2026-10-14, {POLICE}: 7 tasks opened, ")


@pytest.mark.parametrize(("args", "error"), [
    (["--from", "2026-13-01"], "Error: --from '2026-13-01' is not a date like 2026-12-01"),
    (["--to", "yesterday"], "Error: --to 'yesterday' is not a date like 2026-12-01"),
    (["--from", "2026-10-13", "--to", "2026-09-21"],
     "Error: the report starts on 2026-10-13, after its end 2026-09-21"),
])
def test_bad_dates_are_one_error_line(cli_env, tmp_path: Path, args, error) -> None:
    result = run(cli_env, *args, "--format", "xlsx", "--output", str(tmp_path / "x.xlsx"))
    assert (result.exit_code, result.output.strip()) == (1, error)
    assert not (tmp_path / "x.xlsx").exists()
