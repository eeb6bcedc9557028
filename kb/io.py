"""Import and export entries as CSV, XLSX or JSONL.

A bad row (invalid UTF-8, missing field, unknown service) is reported with its line number and
skipped; every good row is still imported.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from kb.errors import ImportFormatError, KnowledgeBaseError
from kb.store import Entry, Item, KnowledgeBase, OtherService, entry_from_row

FORMATS = ("csv", "xlsx", "jsonl")
EXPORT_FIELDS = (
    "entry_id", "item_no", "department", "topic", "question", "similar_questions", "answer",
    "source", "status", "effective_from", "effective_to", "version", "updated_by", "updated_at",
)


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    removed: int = 0


def detect_format(path: Path, fmt: str | None = None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r} for {path.name}: use csv, xlsx or jsonl")
    return fmt


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, row) pairs; a row that cannot be read is yielded as an error string."""
    fmt = detect_format(path, fmt)
    if not path.is_file():
        raise ImportFormatError(f"no such file: {path}")
    if fmt == "jsonl":
        yield from _jsonl_rows(path.read_bytes())
    elif fmt == "csv":
        yield from _csv_rows(path.read_bytes())
    else:
        yield from _xlsx_rows(path)


def _jsonl_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            yield number, "not valid UTF-8"
            continue
        except json.JSONDecodeError as error:
            yield number, f"not valid JSON ({error.msg})"
            continue
        yield number, row if isinstance(row, dict) else "not a JSON object"


def _csv_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any] | str]]:
    # surrogateescape keeps undecodable bytes visible per row instead of failing the whole file
    text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise ImportFormatError("the CSV file has no header row")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, f"malformed CSV ({error})"
            continue
        if any(_has_surrogates(value) for value in row.values()):
            yield reader.line_num, "not valid UTF-8"
            continue
        yield reader.line_num, row


def _has_surrogates(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and any("\udc80" <= c <= "\udcff" for c in v) for v in values)


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    try:
        sheet = load_workbook(path, read_only=True).active
    except Exception as error:  # openpyxl raises many types for a damaged workbook
        raise ImportFormatError(f"cannot read {path.name} as XLSX ({error})") from None
    rows = sheet.iter_rows(values_only=True)
    header = [str(cell).strip() if cell is not None else "" for cell in next(rows, [])]
    if not any(header):
        raise ImportFormatError("the worksheet has no header row")
    for number, values in enumerate(rows, start=2):
        if all(value in (None, "") for value in values):
            continue
        yield number, {name: value for name, value in zip(header, values, strict=False) if name}


def import_entries(
    kb: KnowledgeBase, path: Path, fmt: str | None = None, updated_by: str = "import",
    reason: str = "",
) -> ImportReport:
    report = ImportReport()
    good: list[Entry] = []
    known_items = kb.items()
    for number, row in read_rows(path, fmt):
        if isinstance(row, str):
            report.errors.append((number, row))
            continue
        try:
            entry = entry_from_row(row)
        except KnowledgeBaseError as error:
            report.errors.append((number, str(error)))
            continue
        if entry.item_no not in known_items:
            report.errors.append((number, f"unknown item_no {entry.item_no}"))
            continue
        good.append(entry)
    if good:
        report.imported = kb.upsert_entries(good, updated_by=updated_by,
                                            reason=reason or f"导入 {path.name}")
    return report


def import_items(kb: KnowledgeBase, path: Path) -> int:
    """Import the services list (`items.csv`: item_no, department, name, audience, units)."""
    items = []
    for number, row in read_rows(path, "csv"):
        if isinstance(row, str):
            raise ImportFormatError(f"{path.name} line {number}: {row}")
        items.append(
            Item(
                item_no=int(row["item_no"]),
                name=row["name"],
                department=row["department"],
                audience=row.get("audience", ""),
                responsible_units=row.get("responsible_units", ""),
            )
        )
    return kb.upsert_items(items)


def import_other_services(kb: KnowledgeBase, path: Path, replace: bool = False) -> ImportReport:
    """Import the catalogue of services the base does not cover (name, department, questions).

    `replace` also deletes the services the file does not name, but only when every line was
    good: a bad line must not cost the service it meant to describe.
    """
    report = ImportReport()
    good: list[OtherService] = []
    for number, row in read_rows(path, "jsonl"):
        questions = row.get("questions") if isinstance(row, dict) else None
        if isinstance(row, str):
            report.errors.append((number, row))
        elif not str(row.get("name") or "").strip() or not isinstance(questions, list):
            report.errors.append((number, "needs a name and a list of questions"))
        else:
            good.append(OtherService(str(row["name"]).strip(), str(row.get("department") or ""),
                                     tuple(str(q).strip() for q in questions if str(q).strip())))
    if good:
        report.imported = kb.upsert_other_services(good)
    if replace and not report.errors:
        report.removed = kb.remove_other_services(service.name for service in good)
    return report


def import_seed(kb: KnowledgeBase, seed_dir: Path) -> ImportReport:
    """Load the bundled services list, every `entries/*.jsonl` file and the catalogue of
    services the base does not cover."""
    import_items(kb, seed_dir / "items.csv")
    report = ImportReport()
    catalogue = seed_dir / "other_services.jsonl"
    if catalogue.is_file():
        others = import_other_services(kb, catalogue)
        report.errors += [(line, f"{catalogue.name}: {message}") for line, message in others.errors]
    for path in sorted((seed_dir / "entries").glob("*.jsonl")):
        part = import_entries(kb, path, updated_by="seed")
        report.imported += part.imported
        report.errors += [(line, f"{path.name}: {message}") for line, message in part.errors]
    return report


def export_entries(kb: KnowledgeBase, path: Path, fmt: str | None = None) -> int:
    fmt = detect_format(path, fmt)
    rows = [_export_row(entry) for entry in kb.entries()]
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as file:
            for row in rows:
                file.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as file:  # BOM: Excel reads UTF-8
            writer = csv.DictWriter(file, EXPORT_FIELDS)
            writer.writeheader()
            writer.writerows(_flat(row) for row in rows)
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = "entries"
        sheet.append(EXPORT_FIELDS)
        for row in rows:
            flat = _flat(row)
            sheet.append([flat[name] for name in EXPORT_FIELDS])
        book.save(path)
    return len(rows)


def _export_row(entry: Entry) -> dict[str, Any]:
    row = asdict(entry)
    return {name: row[name] for name in EXPORT_FIELDS}


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """Spreadsheets hold similar questions one per line in a single cell."""
    return {**row, "similar_questions": "\n".join(row["similar_questions"])}
