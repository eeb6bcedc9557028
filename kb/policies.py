"""Policies (政策文件) and whether their answer wording was ready in time: every entry that
implements a policy must be approved and published by the end of the working day before the
policy takes effect (the official calendar, with 调休), so the bot answers on day one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kb import clock
from kb.errors import KnowledgeBaseError
from kb.gap_tasks import shanghai_day
from kb.store import KnowledgeBase
from kb.workdays import WorkCalendar

LEAD_WORKING_DAYS = 1


class InvalidPolicy(KnowledgeBaseError):
    pass


class PolicyNotFound(KnowledgeBaseError):
    pass


@dataclass(frozen=True)
class EntryReadiness:
    entry_id: str
    question: str
    department: str
    approved_on: date | None  # the Shanghai day its first published wording was approved
    state: str  # ready | late | missing (not approved and published yet)


@dataclass(frozen=True)
class PolicyStatus:
    id: int
    title: str
    doc_number: str
    effective_on: date
    item_nos: list[int]
    ready_by: date  # the last day its entries may be approved on
    provisional: bool  # ready_by was counted over a year without an official schedule
    entries: list[EntryReadiness] = field(default_factory=list)
    uncovered_items: list[int] = field(default_factory=list)  # services with no entry linked
    departments: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """Its wording was not (or will not be) ready one working day ahead."""
        late = any(entry.state == "late" for entry in self.entries)
        overdue = clock.today() > self.ready_by and (
            not self.entries or self.uncovered_items
            or any(entry.state == "missing" for entry in self.entries))
        return late or bool(overdue)

    @property
    def lacking(self) -> list[str]:
        """What it still lacks, in words for the console."""
        missing = [f"条目 {e.entry_id} 尚未审核发布" for e in self.entries if e.state == "missing"]
        late = [f"条目 {e.entry_id} 于 {e.approved_on} 才审核发布，晚于 {self.ready_by}"
                for e in self.entries if e.state == "late"]
        uncovered = [f"事项 {number} 还没有实施该政策的条目" for number in self.uncovered_items]
        return ["尚未关联任何条目"] * (not self.entries) + missing + late + uncovered

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "doc_number": self.doc_number,
                "effective_on": self.effective_on.isoformat(), "item_nos": self.item_nos,
                "ready_by": self.ready_by.isoformat(), "provisional": self.provisional,
                "flagged": self.flagged, "lacking": self.lacking,
                "departments": self.departments,
                "entries": [{"entry_id": e.entry_id, "question": e.question,
                             "department": e.department, "state": e.state,
                             "approved_on": e.approved_on.isoformat() if e.approved_on
                             else None} for e in self.entries]}


class Policies:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.db = kb.db

    def add(self, title: str, effective_on: date, *, doc_number: str = "",
            item_nos: list[int] | None = None, entry_ids: list[str] | None = None,
            by: str) -> PolicyStatus:
        title = title.strip()
        if not title:
            raise InvalidPolicy("政策名称不能为空")
        items = self.kb.items()
        unknown = [n for n in item_nos or [] if n not in items]
        if unknown:
            raise InvalidPolicy(f"未知的事项编号：{'、'.join(map(str, unknown))}")
        with self.kb.write():
            policy_id = self.db["policies"].insert({
                "title": title[:200], "doc_number": doc_number.strip()[:100],
                "effective_on": effective_on.isoformat(),
                "item_nos": json.dumps(sorted(set(item_nos or []))), "created_by": by,
                "created_at": clock.timestamp()}).last_pk
            self.link(policy_id, entry_ids or [])
        return self.get(policy_id)

    def link(self, policy_id: int, entry_ids: list[str]) -> None:
        """Name entries that implement the policy (their services join its services)."""
        with self.kb.write():
            self._row(policy_id)
            for entry_id in entry_ids:
                if self.kb._row(entry_id) is None:
                    raise InvalidPolicy(f"没有编号为 {entry_id} 的条目")
            self.db["policy_entries"].insert_all(
                ({"policy_id": policy_id, "entry_id": e} for e in entry_ids), ignore=True)

    def _row(self, policy_id: int) -> dict[str, Any]:
        rows = list(self.db["policies"].rows_where("id = ?", [policy_id]))
        if not rows:
            raise PolicyNotFound(f"没有编号为 {policy_id} 的政策")
        return rows[0]

    def get(self, policy_id: int) -> PolicyStatus:
        return self._status(self._row(policy_id), WorkCalendar.of(self.db))

    def list(self, department: str | None = None, upcoming: bool = False
             ) -> list[PolicyStatus]:
        """Policies by effective date (only those not yet in effect, with `upcoming`), of
        one department's services or entries, or all."""
        where, args = (("effective_on >= ?", [clock.today().isoformat()]) if upcoming
                       else (None, None))
        calendar = WorkCalendar.of(self.db)
        found = [self._status(row, calendar) for row in self.db["policies"].rows_where(
            where, args, order_by="effective_on, id")]
        return [p for p in found if department is None or department in p.departments]

    def _status(self, row: dict[str, Any], calendar: WorkCalendar) -> PolicyStatus:
        effective_on = date.fromisoformat(row["effective_on"])
        deadline = calendar.add(effective_on, -LEAD_WORKING_DAYS)
        entry_ids = [r[0] for r in self.db.execute(
            "SELECT entry_id FROM policy_entries WHERE policy_id = ? ORDER BY entry_id",
            [row["id"]])]
        entries = [self._readiness(entry_id, deadline.day) for entry_id in entry_ids]
        item_nos = json.loads(row["item_nos"] or "[]")
        covered = {self.kb._row(e)["item_no"] for e in entry_ids}
        items = self.kb.items()
        departments = {e.department for e in entries} | {
            items[n].department for n in item_nos if n in items}
        return PolicyStatus(row["id"], row["title"], row["doc_number"] or "", effective_on,
                            sorted(set(item_nos) | covered), deadline.day, deadline.provisional,
                            entries, [n for n in item_nos if n not in covered],
                            sorted(departments))

    def _readiness(self, entry_id: str, ready_by: date) -> EntryReadiness:
        entry = self.kb._row(entry_id)
        # Ready since its first published wording was approved (a later correction does not
        # make it late).
        approved = self.db.execute(
            "SELECT min(reviewed_at) FROM entry_versions WHERE entry_id = ? AND "
            "review = 'approved' AND status = 'published'", [entry_id]).fetchone()
        if entry["status"] != "published" or not approved or not approved[0]:
            return EntryReadiness(entry_id, entry["question"], entry["department"], None,
                                  "missing")
        day = shanghai_day(approved[0])
        return EntryReadiness(entry_id, entry["question"], entry["department"], day,
                              "ready" if day <= ready_by else "late")
