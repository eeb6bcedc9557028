"""Gap tasks as departments work them: open → answered (a draft entry linked) → published;
or rejected with a reason, or merged into another task. Every change names the version it
was made on, so of two maintainers changing one task at once the second is refused, not lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from kb import clock
from kb.errors import EntryNotFound, KnowledgeBaseError
from kb.gaps import DUE_WORKING_DAYS, MAX_ANSWER_CHARS
from kb.grouping import as_bytes, from_bytes
from kb.store import Entry, KnowledgeBase
from kb.versions import EntryVersions, Source
from kb.workdays import WorkCalendar, days_of

STATUSES = ("open", "answered", "published", "rejected", "merged")
PENDING = ("open", "answered")  # the deadline still runs
MAX_SIMILAR = 50
TASK_COLUMNS = ("id, title, item_no, department, status, ask_count, first_asked_at, "
                "last_asked_at, created_at, due_on, provisional, overdue_at, assignee, entry_id, "
                "reject_reason, merged_into, answered_by, answered_at, closed_at, version, "
                "updated_by, updated_at")


class TaskNotFound(KnowledgeBaseError):
    pass


class TaskConflict(KnowledgeBaseError):
    """The task changed since the version the change was made on."""

    def __init__(self, task: dict[str, Any]) -> None:
        super().__init__(f"任务 #{task['id']} 已被 {task['updated_by'] or '他人'} 修改"
                         f"（当前版本 {task['version']}），请刷新后再操作")
        self.task = task


class InvalidTaskChange(KnowledgeBaseError):
    pass


@dataclass(frozen=True)
class TaskFilter:
    status: str | None = None
    department: str | None = None
    item_no: int | None = None
    overdue: bool | None = None


def shanghai_day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone(clock.SHANGHAI).date()


def is_overdue(task: dict[str, Any], today: date) -> bool:
    return task["status"] in PENDING and today.isoformat() > task["due_on"]


class GapTasks:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.db = kb.db

    # -- reading --------------------------------------------------------------------------

    def list(self, where: TaskFilter = TaskFilter(), limit: int = 500, offset: int = 0
             ) -> list[dict[str, Any]]:
        """Tasks, the most urgent first (earliest due), with their overdue flag."""
        clauses, args = self._clauses(where)
        sql = (f"SELECT {TASK_COLUMNS} FROM gap_tasks {clauses} ORDER BY status IN ('open', "
               "'answered') DESC, due_on, id LIMIT ? OFFSET ?")
        rows = self.db.execute(sql, [*args, limit, offset]).fetchall()
        columns = [c.strip() for c in TASK_COLUMNS.split(",")]
        today = clock.today()
        return [self._shown(dict(zip(columns, row, strict=True)), today) for row in rows]

    def _clauses(self, where: TaskFilter) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if where.status:
            clauses.append("status = ?")
            args.append(where.status)
        if where.department:
            clauses.append("department = ?")
            args.append(where.department)
        if where.item_no is not None:
            clauses.append("item_no = ?")
            args.append(where.item_no)
        if where.overdue is not None:
            test = "status IN ('open', 'answered') AND due_on < ?"
            clauses.append(test if where.overdue else f"NOT ({test})")
            args.append(clock.today().isoformat())
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def counts(self, department: str | None = None) -> dict[str, int]:
        """Tasks per status, and how many are overdue now (the console's badge)."""
        clauses, args = self._clauses(TaskFilter(department=department))
        found = dict(self.db.execute(
            f"SELECT status, count(*) FROM gap_tasks {clauses} GROUP BY status", args))
        overdue_clauses, overdue_args = self._clauses(
            TaskFilter(department=department, overdue=True))
        overdue = self.db.execute(f"SELECT count(*) FROM gap_tasks {overdue_clauses}",
                                  overdue_args).fetchone()[0]
        return {**{status: found.get(status, 0) for status in STATUSES}, "overdue": overdue}

    def get(self, task_id: int) -> dict[str, Any]:
        """A task with every phrasing behind it (masked) and the conversations they came
        from."""
        rows = self.db.execute(f"SELECT {TASK_COLUMNS} FROM gap_tasks WHERE id = ?",
                               [task_id]).fetchall()
        if not rows:
            raise TaskNotFound(f"没有编号为 {task_id} 的缺口任务")
        columns = [c.strip() for c in TASK_COLUMNS.split(",")]
        task = self._shown(dict(zip(columns, rows[0], strict=True)), clock.today())
        task["questions"] = [
            {key: value for key, value in row.items() if key != "vector"}
            for row in self.db["gap_questions"].rows_where("task_id = ?", [task_id],
                                                           order_by="asked_at, id")]
        return task

    @staticmethod
    def _shown(task: dict[str, Any], today: date) -> dict[str, Any]:
        return {**task, "provisional": bool(task["provisional"]),
                "overdue": is_overdue(task, today)}

    def phrasings(self, task_id: int) -> list[str]:
        """The distinct phrasings of a task, most asked first."""
        return [row[0] for row in self.db.execute(
            "SELECT text FROM gap_questions WHERE task_id = ? GROUP BY text "
            "ORDER BY count(*) DESC, min(id)", [task_id])]

    # -- changing -------------------------------------------------------------------------

    def _change(self, task_id: int, version: int, allowed: tuple[str, ...], by: str,
                **fields: Any) -> dict[str, Any]:
        """One conditional UPDATE: applied only on `version` and from an `allowed` status."""
        fields |= {"updated_by": by, "updated_at": clock.timestamp()}
        sets = ", ".join(f"{name} = ?" for name in fields)
        marks = ", ".join("?" * len(allowed))
        changed = self.db.execute(
            f"UPDATE gap_tasks SET {sets}, version = version + 1 WHERE id = ? AND version = ? "
            f"AND status IN ({marks})", [*fields.values(), task_id, version, *allowed]).rowcount
        if not changed:
            current = self.get(task_id)  # TaskNotFound when there is none
            if current["version"] != version:
                raise TaskConflict(current)
            raise InvalidTaskChange(f"任务 #{task_id} 当前为“{current['status']}”，不能这样修改")
        return self.get(task_id)

    def assign(self, task_id: int, assignee: str, by: str, version: int) -> dict[str, Any]:
        with self.kb.write():
            return self._change(task_id, version, PENDING, by, assignee=assignee or None)

    def answer(self, task_id: int, answer: str, by: str, version: int, *,
               question: str | None = None, item_no: int | None = None,
               candidate_entry_id: str | None = None) -> dict[str, Any]:
        """Write the answer wording (or take a seat's candidate) as a change of an entry whose
        similar questions are the task's phrasings, in the review queue; the task becomes
        answered, linked to it. It is published when someone else approves it."""
        answer = (answer or "").strip()
        if not answer and candidate_entry_id:
            answer = self._candidate(candidate_entry_id).answer
        if not answer:
            raise InvalidTaskChange("请填写答复口径后再提交")
        if len(answer) > MAX_ANSWER_CHARS:
            raise InvalidTaskChange(f"答复口径不能超过 {MAX_ANSWER_CHARS} 字")
        with self.kb.write():
            task = self.get(task_id)
            item_no = item_no if item_no is not None else task["item_no"]
            if item_no is None or self.kb.item(item_no) is None:
                raise InvalidTaskChange("请先选择该问题所属的事项")
            phrasings = self.phrasings(task_id)
            standard = (question or "").strip() or task["title"]
            entry_id = candidate_entry_id or task["entry_id"] or f"gap-{task_id}"
            entry = Entry(entry_id, item_no, standard, answer,
                          similar_questions=[p for p in phrasings if p != standard][:MAX_SIMILAR],
                          source=f"知识缺口任务 #{task_id}", status="published")
            changed = self._change(task_id, version, PENDING, by, status="answered",
                                   entry_id=entry_id, item_no=item_no, answered_by=by,
                                   answered_at=clock.timestamp())
            EntryVersions(self.kb).save(entry, by, self.kb.latest_version(entry_id),
                                        reason=f"知识缺口任务 #{task_id}",
                                        source=Source.GAP_TASK, submit=True)
        return changed

    def _candidate(self, entry_id: str) -> Entry:
        try:
            entry = self.kb.get(entry_id)
        except EntryNotFound:
            raise InvalidTaskChange(f"没有编号为 {entry_id} 的候选答复") from None
        if entry.status != "draft":
            raise InvalidTaskChange(f"{entry_id} 已发布，不是待审核的候选答复")
        return entry

    def publish(self, task_id: int, by: str, version: int) -> list[int]:
        """Approve the task's answer (never by its author; the bot answers from it from now
        on) and close every task it answers; the closed tasks' ids."""
        with self.kb.write():
            task = self.get(task_id)
            if task["version"] != version:
                raise TaskConflict(task)
            pending = task["entry_id"] and EntryVersions(self.kb).pending(task["entry_id"])
            if task["status"] != "answered" or not pending:
                raise InvalidTaskChange("请先填写答复口径并提交审核，再发布")
            EntryVersions(self.kb).approve(task["entry_id"], pending.version, by)
            return self.close_published(by)

    def close_published(self, by: str = "system") -> list[int]:
        """Close answered tasks whose entry is published (here, or by an import)."""
        now = clock.timestamp()
        with self.kb.write():
            ids = [row[0] for row in self.db.execute(
                "SELECT id FROM gap_tasks WHERE status = 'answered' AND entry_id IN "
                "(SELECT entry_id FROM entries WHERE status = 'published')")]
            for task_id in ids:
                self.db.execute(
                    "UPDATE gap_tasks SET status = 'published', closed_at = ?, updated_by = ?, "
                    "updated_at = ?, version = version + 1 WHERE id = ?", [now, by, now, task_id])
        return ids

    def reject(self, task_id: int, reason: str, by: str, version: int) -> dict[str, Any]:
        reason = (reason or "").strip()
        if not reason:
            raise InvalidTaskChange("驳回需要填写理由")
        with self.kb.write():
            return self._change(task_id, version, PENDING, by, status="rejected",
                                reject_reason=reason[:500], closed_at=clock.timestamp())

    def merge(self, task_id: int, into: int, by: str, version: int) -> dict[str, Any]:
        """Move the task's phrasings into task `into` (which keeps its own deadline)."""
        if task_id == into:
            raise InvalidTaskChange("不能把任务合并到它自己")
        with self.kb.write():
            target = self.get(into)
            if target["status"] not in PENDING:
                raise InvalidTaskChange(f"任务 #{into} 已关闭，不能再合并进去")
            self._change(task_id, version, PENDING, by, status="merged", merged_into=into,
                         closed_at=clock.timestamp())
            self.db.execute("UPDATE gap_questions SET task_id = ? WHERE task_id = ?",
                            [into, task_id])
            self._recount(into, by)
            return self.get(into)

    def _recount(self, task_id: int, by: str) -> None:
        rows = self.db.execute("SELECT vector, asked_at FROM gap_questions WHERE task_id = ?",
                               [task_id]).fetchall()
        vectors = [from_bytes(row[0]) for row in rows if row[0]]
        fields: dict[str, Any] = {
            "ask_count": len(rows), "first_asked_at": min(row[1] for row in rows),
            "last_asked_at": max(row[1] for row in rows), "updated_by": by,
            "updated_at": clock.timestamp()}
        if vectors:
            fields["centroid"] = as_bytes(np.mean(np.vstack(vectors), axis=0))
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE gap_tasks SET {sets}, version = version + 1 WHERE id = ?",
                        [*fields.values(), task_id])

    # -- the clock ------------------------------------------------------------------------

    def mark_overdue(self, today: date | None = None) -> list[dict[str, Any]]:
        """Mark, once, the pending tasks whose due day has passed (never re-dating them)."""
        today = today or clock.today()
        with self.kb.write():
            ids = [row[0] for row in self.db.execute(
                "SELECT id FROM gap_tasks WHERE status IN ('open', 'answered') AND due_on < ? "
                "AND overdue_at IS NULL", [today.isoformat()])]
            now = clock.timestamp()
            for task_id in ids:
                self.db.execute("UPDATE gap_tasks SET overdue_at = ? WHERE id = ?",
                                [now, task_id])
        return [self.get(task_id) for task_id in ids]

    def load_calendar(self, schedule: dict[date, str]) -> tuple[int, int]:
        """Load official schedules (replacing those of the same years) and recompute the
        open tasks' provisional deadlines; (days loaded, tasks re-dated)."""
        years = sorted({day.year for day in schedule})
        with self.kb.write():
            for year in years:
                self.db.execute("DELETE FROM calendar_days WHERE substr(day, 1, 4) = ?",
                                [str(year)])
            self.db["calendar_days"].insert_all(days_of(schedule))
            calendar = WorkCalendar.of(self.db)
            redated = 0
            for task_id, created_at, due_on in self.db.execute(
                    "SELECT id, created_at, due_on FROM gap_tasks WHERE provisional = 1 AND "
                    "status IN ('open', 'answered')").fetchall():
                due = calendar.add(shanghai_day(created_at), DUE_WORKING_DAYS)
                self.db.execute("UPDATE gap_tasks SET due_on = ?, provisional = ?, "
                                "version = version + 1 WHERE id = ?",
                                [due.day.isoformat(), int(due.provisional), task_id])
                redated += due.day.isoformat() != due_on
        return len(schedule), redated
