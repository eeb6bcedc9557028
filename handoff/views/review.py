"""Review before publish over HTTP: the queue of changes waiting (with their source: import,
console, gap task, seat candidate) and the moves of one change: submit (提交审核), withdraw,
approve (通过, never by its author), return (退回, with a comment), and rollback (回滚) to an
older published version. An approval by its author answers 403, a move refused by the state
of the change 409; an approval of a change made on a version no longer current 409 with the
diff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from handoff.views.body import read_object
from handoff.views.entries import change_versions, detail, entry_id_of, shown, text, visible
from handoff.views.gaps import field, kb_of, scope
from kb.gap_tasks import GapTasks
from kb.versions import EntryVersions, Version

MAX_SHOWN = 100  # the oldest changes waiting, with their diffs


def waiting(request: Request) -> dict[str, Any]:
    """Changes in review of the login's department (a supervisor's: all, or ?department=),
    the oldest MAX_SHOWN first, each with its diff against the version the bot serves, and
    how many wait in all."""
    kb = kb_of(request)
    versions = EntryVersions(kb)
    me = request.state.staff.name
    changes, pending = [], versions.queue(scope(request))
    for change in pending[:MAX_SHOWN]:
        published = versions.current(change.entry_id)
        changes.append({**shown(kb, change, published.entry if published else None),
                        "own": change.author == me, "new": published is None})
    return {"changes": changes, "total": len(pending)}


async def queue(request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(waiting, request))


async def move(request: Request, act: Callable[[EntryVersions, str, int, str, dict[str, Any]],
                                                Version]) -> JSONResponse:
    """One move of a version of a visible entry, by the login; the entry as it is after, with
    the base's revision (the bot serves the change once its live revision reaches it)."""
    entry_id = visible(request, entry_id_of(request))["entry_id"]
    data = await read_object(request)
    number = field(data, "version", int)
    kb = kb_of(request)
    if stale := change_versions(kb, lambda: act(EntryVersions(kb), entry_id, number,
                                        request.state.staff.name, data)):
        return stale
    return JSONResponse({**await run_in_threadpool(detail, request, entry_id),
                         "revision": kb.revision})


async def submit(request: Request) -> JSONResponse:
    return await move(request, lambda versions, entry_id, number, by, data:
                      versions.submit(entry_id, number, by))


async def withdraw(request: Request) -> JSONResponse:
    return await move(request, lambda versions, entry_id, number, by, data:
                      versions.withdraw(entry_id, number, by))


def approved(versions: EntryVersions, entry_id: str, number: int, by: str,
             data: dict[str, Any]) -> Version:
    """Approve and publish; a gap task the entry answers closes with it."""
    version = versions.approve(entry_id, number, by, text(data, "comment", 500))
    GapTasks(versions.kb).close_published(by)
    return version


async def approve(request: Request) -> JSONResponse:
    return await move(request, approved)


async def return_(request: Request) -> JSONResponse:
    return await move(request, lambda versions, entry_id, number, by, data:
                      versions.return_(entry_id, number, by,
                                       text(data, "comment", 500, required=True)))


async def rollback(request: Request) -> JSONResponse:
    return await move(request, lambda versions, entry_id, number, by, data:
                      versions.rollback(entry_id, number, by,
                                        text(data, "reason", 500, required=True)))
