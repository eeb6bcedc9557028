"""The departments' gap tasks over HTTP: maintainers work their own department's tasks,
supervisors see every department's. A task of another department is answered as if it did
not exist (404), so its title never leaks. The gap report, as JSON and as a download."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse

from handoff.errors import HttpError
from handoff.staff import Role, Staff
from handoff.views.body import read_object
from kb import clock
from kb.errors import EntryNotFound, KnowledgeBaseError
from kb.gap_export import export_report
from kb.gap_report import GapReport, build_report
from kb.gap_tasks import STATUSES, GapTasks, TaskConflict, TaskFilter, TaskNotFound
from kb.gaps import PLATFORM_DEPARTMENT
from kb.store import KnowledgeBase
from nlu.privacy import mask_personal_data

MAX_CONVERSATIONS = 20  # the most recent conversations shown behind a task
MAX_MESSAGES = 200  # of each conversation
MAX_REPORT_DAYS = 366
DEFAULT_REPORT_DAYS = 28
REPORT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "csv": "application/zip"}
NO_DEPARTMENT = "您的账号未设置所属部门，请联系管理员"


# -- who may see what ----------------------------------------------------------------------

def kb_of(request: Request) -> KnowledgeBase:
    return request.app.state.desk.kb


def scope(request: Request) -> str | None:
    """The department the login may see: a maintainer's own; for a supervisor, the one asked
    for (?department=), or None for all."""
    staff: Staff = request.state.staff
    if staff.role == Role.SUPERVISOR:
        return request.query_params.get("department") or None
    if not staff.department:
        raise HttpError(403, NO_DEPARTMENT)
    return staff.department


def visible(request: Request, task_id: int) -> dict[str, Any]:
    """The task, if the login may see it (else 404, as for a task that does not exist)."""
    try:
        task = GapTasks(kb_of(request)).get(task_id)
    except TaskNotFound as error:
        raise HttpError(404, str(error)) from None
    staff: Staff = request.state.staff
    if staff.role != Role.SUPERVISOR and task["department"] != scope(request):
        raise HttpError(404, f"没有编号为 {task_id} 的缺口任务")
    return task


# -- reading -------------------------------------------------------------------------------

def task_id_of(request: Request) -> int:
    text = request.path_params["task_id"]
    if not text.isdigit() or len(text) > 12:
        raise HttpError(404, "没有这个缺口任务")
    return int(text)


def query_filter(request: Request) -> TaskFilter:
    params = request.query_params
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise HttpError(400, f"状态应为 {'、'.join(STATUSES)} 之一")
    item = params.get("item_no") or None
    if item is not None and not item.isdigit():
        raise HttpError(400, "事项编号应为数字")
    overdue = params.get("overdue") or None
    if overdue not in (None, "0", "1"):
        raise HttpError(400, "overdue 应为 1 或 0")
    return TaskFilter(status=status, department=scope(request),
                      item_no=int(item) if item is not None else None,
                      overdue=None if overdue is None else overdue == "1")


def with_service(kb: KnowledgeBase, task: dict[str, Any]) -> dict[str, Any]:
    item = kb.item(task["item_no"]) if task["item_no"] is not None else None
    return {**task, "service": item.name if item else None}


async def list_tasks(request: Request) -> JSONResponse:
    kb = kb_of(request)
    where = query_filter(request)
    tasks = GapTasks(kb).list(where)
    return JSONResponse({"tasks": [with_service(kb, task) for task in tasks]})


async def counts(request: Request) -> JSONResponse:
    return JSONResponse(GapTasks(kb_of(request)).counts(scope(request)))


async def departments(request: Request) -> JSONResponse:
    """The departments a supervisor may filter by; a maintainer's own."""
    staff: Staff = request.state.staff
    if staff.role != Role.SUPERVISOR:
        return JSONResponse({"departments": [scope(request)]})
    db = kb_of(request).db
    names = {row[0] for row in db.execute("SELECT DISTINCT department FROM items")}
    names |= {row[0] for row in db.execute("SELECT DISTINCT department FROM gap_tasks")}
    return JSONResponse({"departments": sorted(names | {PLATFORM_DEPARTMENT})})


async def items(request: Request) -> JSONResponse:
    """The services list (事项), for filters and for the service an answer belongs to."""
    services = kb_of(request).items().values()
    return JSONResponse({"items": [{"item_no": s.item_no, "name": s.name,
                                    "department": s.department} for s in services]})


def phrasings(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The task's questions by wording: how often, first and last asked, why, and where."""
    grouped: dict[str, dict[str, Any]] = {}
    for question in questions:
        shown = grouped.setdefault(question["text"], {
            "text": question["text"], "count": 0, "first_asked_at": question["asked_at"],
            "last_asked_at": question["asked_at"], "reasons": [], "conversation_ids": []})
        shown["count"] += 1
        shown["first_asked_at"] = min(shown["first_asked_at"], question["asked_at"])
        shown["last_asked_at"] = max(shown["last_asked_at"], question["asked_at"])
        if question["reason"] not in shown["reasons"]:
            shown["reasons"].append(question["reason"])
        conversation = question["conversation_id"]
        if conversation and conversation not in shown["conversation_ids"]:
            shown["conversation_ids"].append(conversation)
    return sorted(grouped.values(), key=lambda p: (-p["count"], p["first_asked_at"]))


def conversations(kb: KnowledgeBase, questions: list[dict[str, Any]]
                  ) -> dict[str, list[dict[str, Any]]]:
    """The messages of the conversations behind the questions (the most recent first, notes
    never), personal data masked; images and voice are named, not shown."""
    ids: list[str] = []
    for question in sorted(questions, key=lambda q: q["asked_at"], reverse=True):
        if question["conversation_id"] and question["conversation_id"] not in ids:
            ids.append(question["conversation_id"])
    shown = {}
    for conversation_id in ids[:MAX_CONVERSATIONS]:
        rows = kb.db["messages"].rows_where(
            "conversation_id = ? AND sender != 'note'", [conversation_id], order_by="id",
            limit=MAX_MESSAGES, select="sender, kind, body, created_at")
        shown[conversation_id] = [
            {"sender": row["sender"], "kind": row["kind"], "created_at": row["created_at"],
             "body": mask_personal_data(row["body"] or "") if row["kind"] == "text" else ""}
            for row in rows]
    return shown


def candidates(kb: KnowledgeBase, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """The entries seats saved from their answers: entry id → its question and answer."""
    found = {}
    for entry_id in {q["candidate_entry_id"] for q in questions if q["candidate_entry_id"]}:
        try:
            entry = kb.get(entry_id)
        except EntryNotFound:
            continue
        found[entry_id] = {"question": entry.question, "answer": entry.answer,
                           "status": entry.status, "item_no": entry.item_no}
    return found


def detail(kb: KnowledgeBase, task: dict[str, Any]) -> dict[str, Any]:
    questions = task["questions"]
    entry = None
    if task["entry_id"]:
        try:
            found = kb.get(task["entry_id"])
            entry = {"entry_id": found.entry_id, "question": found.question,
                     "answer": found.answer, "status": found.status, "item_no": found.item_no}
        except EntryNotFound:
            pass
    return {**with_service(kb, task), "phrasings": phrasings(questions),
            "conversations": conversations(kb, questions),
            "candidates": candidates(kb, questions), "entry": entry}


async def show(request: Request) -> JSONResponse:
    return JSONResponse(detail(kb_of(request), visible(request, task_id_of(request))))


# -- changing ------------------------------------------------------------------------------

def field(data: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise HttpError(400, f"请求缺少 {name}，或其格式不对")
    return value


async def change_body(request: Request) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The task (visible to the login), the request's JSON object and the version it names."""
    task = visible(request, task_id_of(request))
    data = await read_object(request)
    return task, data, field(data, "version", int)


def attempt(request: Request, change: Callable[[GapTasks, str], Any], shown: int
            ) -> JSONResponse:
    """Make the change as the logged-in staff member; the task `shown` as it is after, or the
    library's refusal as the page reads it: a conflict carries the task as it is now, so
    the page can show who changed it."""
    kb = kb_of(request)
    tasks = GapTasks(kb)
    try:
        change(tasks, request.state.staff.name)
    except TaskNotFound as error:
        raise HttpError(404, str(error)) from None
    except TaskConflict as error:
        return JSONResponse({"error": str(error), "task": detail(kb, error.task)},
                            status_code=409, headers={"cache-control": "no-store"})
    except KnowledgeBaseError as error:  # InvalidTaskChange, and an entry refused
        raise HttpError(400, str(error)) from None
    return JSONResponse(detail(kb, tasks.get(shown)))


async def answer(request: Request) -> JSONResponse:
    task, data, version = await change_body(request)
    wording = field(data, "answer", str, required=False) or ""
    question = field(data, "question", str, required=False)
    item_no = field(data, "item_no", int, required=False)
    candidate = field(data, "candidate_entry_id", str, required=False) or None
    if candidate and candidate not in {q["candidate_entry_id"] for q in task["questions"]}:
        raise HttpError(400, "该候选答复不属于这个任务")
    return attempt(request, lambda tasks, by: tasks.answer(
        task["id"], wording, by, version, question=question, item_no=item_no,
        candidate_entry_id=candidate), task["id"])


async def publish(request: Request) -> JSONResponse:
    task, _, version = await change_body(request)
    return attempt(request, lambda tasks, by: tasks.publish(task["id"], by, version),
                   task["id"])


async def reject(request: Request) -> JSONResponse:
    task, data, version = await change_body(request)
    reason = field(data, "reason", str, required=False) or ""
    return attempt(request, lambda tasks, by: tasks.reject(task["id"], reason, by, version),
                   task["id"])


async def merge(request: Request) -> JSONResponse:
    task, data, version = await change_body(request)
    into = visible(request, field(data, "into", int))  # only into a task the login may see
    return attempt(request, lambda tasks, by: tasks.merge(task["id"], into["id"], by, version),
                   into["id"])


async def assign(request: Request) -> JSONResponse:
    task, data, version = await change_body(request)
    assignee = (field(data, "assignee", str, required=False) or "").strip()
    if assignee:
        person = request.app.state.desk.staff.find(assignee)
        if person is None or person.role == Role.AGENT or (
                request.state.staff.role != Role.SUPERVISOR
                and person.department != task["department"]):
            raise HttpError(400, f"没有名为“{assignee[:100]}”的本部门知识库维护员")
    return attempt(request, lambda tasks, by: tasks.assign(task["id"], assignee, by, version),
                   task["id"])


# -- the report ----------------------------------------------------------------------------

def day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HttpError(400, "日期格式应为 YYYY-MM-DD") from None


def report_range(request: Request) -> tuple[date, date]:
    """The Shanghai days asked for (?from=&to=), by default the last four weeks."""
    end = day(request.query_params.get("to"), clock.today())
    start = day(request.query_params.get("from"), end - timedelta(days=DEFAULT_REPORT_DAYS - 1))
    if start > end:
        raise HttpError(400, "开始日期不能晚于结束日期")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise HttpError(400, f"一次最多统计 {MAX_REPORT_DAYS} 天")
    return start, end


def build(request: Request) -> GapReport:
    start, end = report_range(request)
    return build_report(kb_of(request), start, end, scope(request))


async def report(request: Request) -> JSONResponse:
    built = await run_in_threadpool(build, request)
    return JSONResponse(built.as_dict())


async def download(request: Request) -> FileResponse:
    fmt = request.query_params.get("format", "xlsx")
    if fmt not in REPORT_TYPES:
        raise HttpError(400, "下载格式应为 xlsx 或 csv")
    start, end = report_range(request)
    built = await run_in_threadpool(build, request)
    folder = Path(tempfile.mkdtemp(prefix="gap-report-"))
    suffix = "zip" if fmt == "csv" else fmt
    path = folder / f"report.{suffix}"
    try:
        await run_in_threadpool(export_report, built, fmt, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    name = f"知识缺口报告_{start.isoformat()}_{end.isoformat()}.{suffix}"
    return FileResponse(path, media_type=REPORT_TYPES[fmt], headers={
        "content-disposition": f"attachment; filename=\"gap-report.{suffix}\"; "
                               f"filename*=UTF-8''{quote(name)}",
        "cache-control": "no-store"},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
