"""The knowledge-gap loop: every question the bot could not answer becomes a task.

The plan gives the responsible department 5 working days to add the answer wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kb import clock
from kb.store import KnowledgeBase
from kb.workdays import add_working_days
from nlu.privacy import mask_personal_data

DUE_WORKING_DAYS = 5
PLATFORM_DEPARTMENT = "区政府办公室（区“一网通办”专班）"  # owns misses no service claims
MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True)
class GapTask:
    id: int
    question: str
    item_no: int | None
    department: str
    reason: str
    due_on: str


class GapLog:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.table = kb.db["gaps"]

    def record_miss(
        self,
        question: str,
        reason: str,
        item_no: int | None = None,
        conversation_id: str = "",
        today: date | None = None,
        department: str | None = None,
    ) -> GapTask:
        """Open a task for `department`, else that of `item_no`, else the platform team."""
        item = self.kb.item(item_no) if item_no is not None else None
        department = department or (item.department if item else PLATFORM_DEPARTMENT)
        due_on = add_working_days(today or clock.today(), DUE_WORKING_DAYS).isoformat()
        row = {
            "question": mask_personal_data(question)[:MAX_QUESTION_CHARS],
            "item_no": item_no,
            "department": department,
            "reason": reason,
            "conversation_id": conversation_id,
            "status": "open",
            "created_at": clock.timestamp(),
            "due_on": due_on,
        }
        task_id = self.table.insert(row).last_pk
        return GapTask(task_id, row["question"], item_no, department, reason, due_on)

    def open_tasks(self) -> list[dict]:
        return list(self.table.rows_where("status = 'open'", order_by="due_on"))
