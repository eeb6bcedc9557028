"""The gap report as files: an XLSX workbook (a sheet per view, real charts) or one CSV per
view (UTF-8 with BOM, so Excel reads the Chinese right), in a folder or a zip file.

The phrasings come from citizens: a text cell starting with = + - @ (or a tab or carriage
return) gets a leading apostrophe, so no spreadsheet runs it as a formula.
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from kb.errors import KnowledgeBaseError
from kb.gap_report import COLUMNS, STATUS_NAMES, TITLES, GapReport

FORMATS = ("xlsx", "csv")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_WIDTH = 60  # characters of the widest column
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
# The charts: view → (kind, title, the keys charted, the key of the categories).
CHARTS = {
    "by_department": ("bar", "各部门缺口任务",
                      ("opened", "closed_in_time", "closed_late", "overdue_now"), "department"),
    "by_service": ("bar", "各事项缺口任务",
                   ("opened", "closed_in_time", "closed_late", "overdue_now"), "service"),
    "weekly": ("line", "每周趋势", ("opened", "closed", "overdue"), "week_start"),
}


class ReportFormatError(KnowledgeBaseError):
    pass


def export_report(report: GapReport, fmt: str, path: Path) -> list[Path]:
    """Write the report; the files written. xlsx: the workbook at `path`. csv: a zip file of
    the CSVs when `path` ends with .zip, else the folder `path` (created) holding them."""
    path = Path(path)
    if fmt == "xlsx":
        return [write_xlsx(report, path)]
    if fmt == "csv":
        return [write_zip(report, path)] if path.suffix.lower() == ".zip" else write_csvs(
            report, path)
    raise ReportFormatError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")


# -- the tables both formats write ---------------------------------------------------------


def safe_text(text: str) -> str:
    """Text as a spreadsheet cell may hold it: never read as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell_value(key: str, value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None or isinstance(value, int | float):
        return value
    if key == "status":
        value = STATUS_NAMES.get(value, value)
    return safe_text(str(value))


def table(report: GapReport, view: str) -> tuple[list[str], list[list[Any]]]:
    """A view's headings and rows of cell values. The totals read down: heading, value."""
    if view == "totals":
        return ["指标", "数值"], [[title, cell_value(key, report.totals[key])]
                               for key, title in COLUMNS["totals"]]
    headings = [title for _, title in COLUMNS[view]]
    return headings, [[cell_value(key, row.get(key)) for key, _ in COLUMNS[view]]
                      for row in report.view(view)]


# -- XLSX ----------------------------------------------------------------------------------


def write_xlsx(report: GapReport, path: Path) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for view, title in TITLES.items():
        sheet = workbook.create_sheet(title)
        headings, rows = table(report, view)
        sheet.append(headings)
        for row in rows:
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str)
                          else value for value in row])
        _dress(sheet, headings, rows)
        if view in CHARTS and rows:
            _chart(sheet, view, len(rows))
    return _replace(path, workbook.save)


def _dress(sheet: Worksheet, headings: list[str], rows: list[list[Any]]) -> None:
    """Bold, shaded header row frozen above the rows; each column as wide as its text."""
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    sheet.freeze_panes = "A2"
    for number, heading in enumerate(headings, start=1):
        widest = max([_width(heading), *(_width(row[number - 1]) for row in rows)])
        sheet.column_dimensions[get_column_letter(number)].width = min(widest + 2, MAX_WIDTH)


def _width(value: Any) -> int:
    """Display width: a CJK character takes two columns."""
    if value is None:
        return 0
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _chart(sheet: Worksheet, view: str, count: int) -> None:
    kind, title, keys, category = CHARTS[view]
    column = {key: number for number, (key, _) in enumerate(COLUMNS[view], start=1)}
    chart = BarChart() if kind == "bar" else LineChart()
    if kind == "bar":
        chart.type = "bar"  # horizontal: long department and service names stay readable
        chart.grouping = "clustered"
        chart.height = min(max(7.5, 1.6 + 0.9 * count), 60)
        chart.x_axis.scaling.orientation = "maxMin"  # the first row on top
    else:
        chart.height = 9
    chart.title = title
    chart.width = 24
    chart.y_axis.title = "任务数"
    chart.x_axis.delete = chart.y_axis.delete = False  # else newer Excel hides the axes
    for key in keys:
        chart.add_data(Reference(sheet, min_col=column[key], min_row=1, max_row=count + 1),
                       titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=column[category], min_row=2,
                                   max_row=count + 1))
    sheet.add_chart(chart, f"{get_column_letter(len(column) + 2)}2")


# -- CSV -----------------------------------------------------------------------------------


def csv_files(report: GapReport) -> Iterator[tuple[str, str]]:
    """Each view's file name and its text."""
    for view, title in TITLES.items():
        headings, rows = table(report, view)
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(headings)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
        yield f"{title}.csv", buffer.getvalue()


def write_csvs(report: GapReport, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in csv_files(report):
        written.append(_replace(folder / name, lambda temporary, text=text:
                                temporary.write_bytes(text.encode("utf-8-sig"))))
    return written


def write_zip(report: GapReport, path: Path) -> Path:
    def save(temporary: Path) -> None:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in csv_files(report):
                archive.writestr(name, text.encode("utf-8-sig"))
    return _replace(path, save)


def _replace(path: Path, save) -> Path:
    """Write beside `path`, then rename over it: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
