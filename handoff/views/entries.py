"""Knowledge-base entries over HTTP: maintainers work their own department's entries,
supervisors every department's (an entry of another department is answered 404, as if it did
not exist). The list with the bot's hits, one entry with its history and the diff of each
version, and saving a change, refused with the other editor's version and the diff when it
was edited from a version that is no longer the latest."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from handoff.errors import HttpError
from handoff.staff import Role, Staff
from handoff.views.body import read_object
from handoff.views.gaps import field, kb_of, scope
from kb import clock
from kb.errors import EntryNotFound, InvalidEntry
from kb.store import Entry, KnowledgeBase, entry_from_row
from kb.versions import (
    FIELD_NAMES,
    EntryVersions,
    OwnChange,
    ReviewRefused,
    StaleVersion,
    Version,
    diff,
)

HITS_DAYS = 30  # the bot's hits are counted over this many Shanghai days, today included
MAX_LISTED = 200
MAX_ENTRY_BYTES = 64_000  # an entry's JSON: a long answer wording and its similar questions
MAX_ANSWER_CHARS = 4000
MAX_SIMILAR = 50
# Each status filter: its condition and how many times it names today (Shanghai).
STATUS_CLAUSES = {
    "published": ("e.status = 'published' AND coalesce(e.effective_from, '') <= ? AND "
                  "coalesce(e.effective_to, '9999') >= ?", 2),
    "scheduled": ("e.status = 'published' AND e.effective_from > ?", 1),
    "expired": ("e.status = 'published' AND e.effective_to < ?", 1),
    "draft": ("e.status = 'draft'", 0), "retired": ("e.status = 'retired'", 0),
    "in_review": ("p.review = 'in_review'", 0), "returned": ("p.review = 'returned'", 0),
}
EDITABLE = ("published", "retired")  # what a change may make an entry: served, or withdrawn
NAMES = {**FIELD_NAMES, "reason": "原因", "comment": "审核意见"}  # fields, for errors


# -- who may see and change what -----------------------------------------------------------

def entry_id_of(request: Request) -> str:
    entry_id = request.path_params["entry_id"]
    if not 0 < len(entry_id) <= 100:
        raise HttpError(404, "没有这个条目")
    return entry_id


def visible(request: Request, entry_id: str) -> dict[str, Any]:
    """The entry's row, if the login may see it (else 404, as for one that does not exist)."""
    row = kb_of(request)._row(entry_id)
    staff: Staff = request.state.staff
    if row is None or (staff.role != Role.SUPERVISOR and row["department"] != scope(request)):
        raise HttpError(404, f"没有编号为 {entry_id} 的条目")
    return row


def check_item(request: Request, item_no: int) -> None:
    """A maintainer writes only for their own department's services."""
    item = kb_of(request).item(item_no)
    if item is None:
        raise HttpError(400, f"未知的事项编号 {item_no}")
    staff: Staff = request.state.staff
    if staff.role != Role.SUPERVISOR and item.department != scope(request):
        raise HttpError(403, "只能编辑本部门事项的条目")


def shown(kb: KnowledgeBase, version: Version, before: Entry | None) -> dict[str, Any]:
    """A version as the pages read it: its content and review, its service's name, and what
    it changed against `before`."""
    item = kb.item(version.entry.item_no)
    return {**version.as_dict(), "service": item.name if item else None,
            "changes": diff(before, version.entry)}


def stale_response(kb: KnowledgeBase, error: StaleVersion) -> JSONResponse:
    """409 with the other editor's version and what it changed, so the page can show it."""
    return JSONResponse({"error": str(error), "latest": shown(kb, error.latest, None),
                         "changes": error.changes}, status_code=409,
                        headers={"cache-control": "no-store"})


def change_versions(kb: KnowledgeBase, change: Callable[[], object]) -> JSONResponse | None:
    """Make a change of an entry's versions (a save or a review move): None once made, else
    the stale response; an unknown entry or version answers 404, an invalid entry 400, an
    approval by its author 403, a move its review state refuses 409."""
    try:
        change()
    except StaleVersion as error:
        return stale_response(kb, error)
    except EntryNotFound as error:
        raise HttpError(404, str(error)) from None
    except InvalidEntry as error:
        raise HttpError(400, str(error)) from None
    except OwnChange as error:
        raise HttpError(403, str(error)) from None
    except ReviewRefused as error:
        raise HttpError(409, str(error)) from None
    return None


# -- the list ------------------------------------------------------------------------------

def hits_since() -> str:
    """The first Shanghai day the hits count from (turns' timestamps sort as text)."""
    return (clock.today() - timedelta(days=HITS_DAYS - 1)).isoformat()


def hits(kb: KnowledgeBase, entry_ids: list[str]) -> dict[str, int]:
    """How often the bot answered with each entry over the last HITS_DAYS days (the turns it
    recorded, each answered turn naming its entry)."""
    if not entry_ids:
        return {}
    marks = ", ".join("?" * len(entry_ids))
    return dict(kb.db.execute(
        "SELECT entry_id, count(*) FROM turns WHERE created_at >= ? AND outcome = 'answered' "
        f"AND entry_id IN ({marks}) GROUP BY entry_id", [hits_since(), *entry_ids]).fetchall())


def list_filter(request: Request) -> tuple[str, list[Any]]:
    params = request.query_params
    where, args = ["1 = 1"], []
    department = scope(request)
    if department:
        where.append("e.department = ?")
        args.append(department)
    if item := params.get("item_no"):
        if not item.isdigit():
            raise HttpError(400, "事项编号应为数字")
        where.append("e.item_no = ?")
        args.append(int(item))
    if status := params.get("status"):
        if status not in STATUS_CLAUSES:
            raise HttpError(400, f"状态应为 {'、'.join(STATUS_CLAUSES)} 之一")
        clause, days = STATUS_CLAUSES[status]
        where.append(clause)
        args += [clock.today().isoformat()] * days
    if policy := params.get("policy"):
        if not policy.isdigit():
            raise HttpError(400, "政策编号应为数字")
        where.append("e.entry_id IN (SELECT entry_id FROM policy_entries WHERE policy_id = ?)")
        args.append(int(policy))
    if text := (params.get("q") or "").strip()[:100]:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(e.entry_id LIKE ? ESCAPE '\\' OR e.question LIKE ? ESCAPE '\\' OR "
                     "e.similar_questions LIKE ? ESCAPE '\\' OR e.answer LIKE ? ESCAPE '\\')")
        args += [pattern] * 4
    return " AND ".join(where), args


def listing(request: Request) -> dict[str, Any]:
    """The first MAX_LISTED entries that match, by service, with their pending change and
    the bot's hits."""
    kb = kb_of(request)
    where, args = list_filter(request)
    query = ("FROM entries AS e LEFT JOIN entry_versions AS p ON p.entry_id = e.entry_id AND "
             f"p.review IN ('draft', 'in_review', 'returned') WHERE {where}")
    rows = list(kb.db.query(
        "SELECT e.entry_id, e.item_no, e.department, e.question, e.status, e.version, "
        "e.effective_from, e.effective_to, e.updated_by, e.updated_at, p.version AS "
        f"pending_version, p.review AS pending_review, p.author AS pending_author {query} "
        "ORDER BY e.item_no, e.entry_id LIMIT ?", [*args, MAX_LISTED + 1]))
    more, rows = len(rows) > MAX_LISTED, rows[:MAX_LISTED]
    counted = hits(kb, [row["entry_id"] for row in rows])
    items = kb.items()
    return {"more": more, "hits_days": HITS_DAYS, "today": clock.today().isoformat(),
            "entries": [{**row, "service": items[row["item_no"]].name if row["item_no"] in items
                         else None, "hits": counted.get(row["entry_id"], 0)} for row in rows]}


async def list_entries(request: Request) -> JSONResponse:
    # In a thread: counting the hits reads a month of turns, the chats must not wait for it.
    return JSONResponse(await run_in_threadpool(listing, request))


# -- one entry -----------------------------------------------------------------------------

def detail(request: Request, entry_id: str) -> dict[str, Any]:
    kb = kb_of(request)
    row = visible(request, entry_id)
    versions = EntryVersions(kb)
    history = versions.history(entry_id)
    by_number = {version.version: version for version in history}
    published = versions.current(entry_id)
    pending = versions.pending(entry_id)
    me = request.state.staff.name

    def before(version: Version) -> Entry | None:
        base = by_number.get(version.base_version)
        return base.entry if base else None
    return {
        "entry_id": entry_id, "department": row["department"], "status": row["status"],
        "today": clock.today().isoformat(),
        "current_version": row["version"], "latest_version": history[0].version if history
        else 0, "hits": hits(kb, [entry_id]).get(entry_id, 0), "hits_days": HITS_DAYS,
        "published": shown(kb, published, None) if published else None,
        "pending": {**shown(kb, pending, published.entry if published else None),
                    "own": pending.author == me} if pending else None,
        "history": [shown(kb, version, before(version)) for version in history],
        "policies": [dict(row) for row in kb.db.query(
            "SELECT p.id, p.title, p.doc_number, p.effective_on FROM policies AS p JOIN "
            "policy_entries AS l ON l.policy_id = p.id WHERE l.entry_id = ? "
            "ORDER BY p.effective_on", [entry_id])],
    }


async def show(request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(detail, request, entry_id_of(request)))


def text(data: dict[str, Any], name: str, limit: int, required: bool = False) -> str:
    """A text field of the request, stripped; refused in words when too long, or missing
    and `required`."""
    value = data.get(name)
    if (value is None and not required) or isinstance(value, str):
        value = (value or "").strip()
        if len(value) <= limit:
            return value
    raise HttpError(400, f"{NAMES.get(name, name)}应为不超过 {limit} 字的文字")


def entry_of(request: Request, data: dict[str, Any], entry_id: str) -> Entry:
    """The edited entry in the request, checked (the library checks the rest)."""
    similar = data.get("similar_questions") or []
    if not isinstance(similar, list) or len(similar) > MAX_SIMILAR or not all(
            isinstance(q, str) and len(q) <= 200 for q in similar):
        raise HttpError(400, f"相似问法最多 {MAX_SIMILAR} 条，每条不超过 200 字")
    status = field(data, "status", str, required=False) or "published"
    if status not in EDITABLE:
        raise HttpError(400, "状态应为 published（上线）或 retired（下线）")
    item_no = data.get("item_no")
    if not isinstance(item_no, int) or isinstance(item_no, bool):
        raise HttpError(400, "请选择所属事项")
    check_item(request, item_no)
    dates = {name: text(data, name, 10) or None for name in ("effective_from", "effective_to")}
    if dates["effective_from"] and dates["effective_to"] and (
            dates["effective_to"] < dates["effective_from"]):
        raise HttpError(400, "失效日期不能早于生效日期")
    try:
        return entry_from_row({
            "entry_id": entry_id, "item_no": item_no, "status": status, **dates,
            "question": text(data, "question", 200), "answer": text(data, "answer",
                                                                   MAX_ANSWER_CHARS),
            "topic": text(data, "topic", 50), "similar_questions": similar,
            "department": kb_of(request).item(item_no).department})
    except InvalidEntry as error:
        raise HttpError(400, f"{error}（标准问题、答复口径必填；日期格式如 2026-01-31）") from None


async def write(request: Request, entry_id: str, new: bool) -> JSONResponse:
    """Save the request's change of `entry_id` (edited from the version its base_version
    names; a new entry from none) as a draft, or in review with submit."""
    data = await read_object(request, MAX_ENTRY_BYTES)
    base_version = 0 if new else field(data, "base_version", int)
    if data.get("submit") not in (None, True, False):
        raise HttpError(400, "submit 应为 true 或 false")
    entry = entry_of(request, data, entry_id)
    kb = kb_of(request)
    if stale := change_versions(kb, lambda: EntryVersions(kb).save(
            entry, request.state.staff.name, base_version, reason=text(data, "reason", 500),
            submit=data.get("submit") is True)):
        return stale
    return JSONResponse(await run_in_threadpool(detail, request, entry_id),
                        status_code=201 if new else 200)


async def save(request: Request) -> JSONResponse:
    """A change of an existing entry of the login's department."""
    return await write(request, visible(request, entry_id_of(request))["entry_id"], new=False)


async def create(request: Request) -> JSONResponse:
    """A new entry, as a draft (or in review): served once someone else approves it."""
    return await write(request, f"kb-{uuid.uuid4().hex[:10]}", new=True)
