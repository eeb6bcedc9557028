import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from kb.errors import ImportFormatError
from kb.io import export_entries, import_entries, import_other_services, import_seed
from kb.store import KnowledgeBase

GOOD = {"entry_id": "03-fees", "item_no": 3, "question": "居住证签注收费吗？",
        "similar_questions": ["签注要钱吗", "签注费用多少"], "answer": "您好，不收费。"}


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_jsonl_bad_rows_are_reported_and_good_rows_kept(memory_kb, tmp_path) -> None:
    good = json.dumps(GOOD, ensure_ascii=False).encode()
    other = json.dumps({**GOOD, "entry_id": "03-other"}, ensure_ascii=False).encode()
    path = write_jsonl(tmp_path / "e.jsonl", [
        good,
        b"{not json",
        '{"entry_id": "x", "item_no": 3, "question": "\xe5\xb1'.encode("latin-1") + b'"}',
        json.dumps({**GOOD, "entry_id": "x2", "item_no": 77}).encode(),
        b"[1, 2]",
        other,
    ])
    report = import_entries(memory_kb, path)
    assert report.imported == 2
    assert [line for line, _ in report.errors] == [2, 3, 4, 5]
    messages = dict(report.errors)
    assert messages[2].startswith("not valid JSON")
    assert messages[3] == "not valid UTF-8"
    assert messages[4] == "unknown item_no 77"
    assert messages[5] == "not a JSON object"
    assert memory_kb.get("03-other").similar_questions == ["签注要钱吗", "签注费用多少"]


def test_csv_invalid_utf8_row_is_skipped(memory_kb, tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(
        b"entry_id,item_no,question,answer\n"
        + "a,3,签注收费吗,不收费\n".encode()
        + b"b,3,\xff\xfe bad,answer\n"
        + "c,4,新办居住证要多久,一般15个工作日\n".encode()
    )
    report = import_entries(memory_kb, path)
    assert report.imported == 2
    assert report.errors == [(3, "not valid UTF-8")]


def test_xlsx_round_trip(memory_kb, tmp_path) -> None:
    import_entries(memory_kb, write_jsonl(tmp_path / "e.jsonl",
                                          [json.dumps(GOOD, ensure_ascii=False).encode()]))
    path = tmp_path / "out.xlsx"
    assert export_entries(memory_kb, path) == 1
    fresh = KnowledgeBase()
    fresh.upsert_items(memory_kb.items().values())
    report = import_entries(fresh, path)
    assert (report.imported, report.errors) == (1, [])
    assert fresh.get("03-fees").similar_questions == GOOD["similar_questions"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_round_trip(memory_kb, tmp_path, fmt) -> None:
    import_entries(memory_kb, write_jsonl(tmp_path / "e.jsonl",
                                          [json.dumps(GOOD, ensure_ascii=False).encode()]))
    path = tmp_path / f"out.{fmt}"
    export_entries(memory_kb, path)
    fresh = KnowledgeBase()
    fresh.upsert_items(memory_kb.items().values())
    assert import_entries(fresh, path).imported == 1
    assert fresh.get("03-fees").answer == GOOD["answer"]


def test_xlsx_blank_sheet(memory_kb, tmp_path) -> None:
    path = tmp_path / "blank.xlsx"
    Workbook().save(path)
    with pytest.raises(ImportFormatError, match="no header row"):
        import_entries(memory_kb, path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.txt", b"x", "unknown format 'txt'"),
        ("e.xlsx", b"not a zip", "cannot read e.xlsx as XLSX"),
        ("e.csv", b"", "no header row"),
    ],
)
def test_unreadable_files(memory_kb, tmp_path, name, content, message) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFormatError, match=message):
        import_entries(memory_kb, path)


def test_missing_file(memory_kb, tmp_path) -> None:
    with pytest.raises(ImportFormatError, match="no such file"):
        import_entries(memory_kb, tmp_path / "nope.jsonl")


def test_seed_covers_every_service() -> None:
    kb = KnowledgeBase()
    report = import_seed(kb, Path(__file__).parents[2] / "kb" / "seed")
    assert report.errors == []
    per_item: dict[int, list] = {}
    for entry in kb.entries():
        per_item.setdefault(entry.item_no, []).append(entry)
    assert sorted(per_item) == list(range(36))
    for item_no, entries in per_item.items():
        assert len(entries) >= 6, item_no
        assert all(len(e.similar_questions) >= 5 for e in entries), item_no
        assert all("示例内容" in e.source for e in entries), item_no


def test_other_services_bad_rows_are_reported_and_good_rows_kept(memory_kb, tmp_path) -> None:
    path = write_jsonl(tmp_path / "others.jsonl", [
        json.dumps({"name": "普通护照申领", "department": "市公安局",
                    "questions": ["护照怎么办", "护照过期了咋换"]}, ensure_ascii=False).encode(),
        b'{"name": "", "questions": ["x"]}',
        b"\xff\xfe not utf-8",
        json.dumps({"name": "结婚登记", "questions": "not a list"}).encode(),
    ])
    report = import_other_services(memory_kb, path)
    assert report.imported == 1
    assert [line for line, _ in report.errors] == [2, 3, 4]
    assert memory_kb.other_service("普通护照申领").questions == ("护照怎么办", "护照过期了咋换")


def test_seed_catalogue_names_no_covered_service() -> None:
    kb = KnowledgeBase()
    assert import_seed(kb, Path(__file__).parents[2] / "kb" / "seed").errors == []
    others = kb.other_services()
    assert len(others) >= 150
    covered = {item.name for item in kb.items().values()}
    assert not covered & {other.name for other in others}
    assert all(len(other.questions) >= 4 for other in others)
