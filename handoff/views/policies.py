"""Policies (政策文件) over HTTP: the upcoming ones (or all) with what they still lack and
whether they are flagged, of the login's department (a supervisor's: every department's, or
?department=); adding one with its services and the entries that implement it, and linking
more entries later. Another department's policy answers 404."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse

from handoff.errors import HttpError
from handoff.views.body import read_object
from handoff.views.entries import check_item
from handoff.views.entries import visible as visible_entry
from handoff.views.gaps import field, kb_of, scope
from kb.policies import InvalidPolicy, Policies, PolicyNotFound, PolicyStatus

MAX_LINKED = 100


def shown(request: Request, policy: PolicyStatus) -> dict:
    items = kb_of(request).items()
    return {**policy.as_dict(), "services": [
        {"item_no": n, "name": items[n].name if n in items else str(n)}
        for n in policy.item_nos]}


async def list_policies(request: Request) -> JSONResponse:
    upcoming = request.query_params.get("upcoming", "1")
    if upcoming not in ("0", "1"):
        raise HttpError(400, "upcoming 应为 1 或 0")
    found = Policies(kb_of(request)).list(scope(request), upcoming=upcoming == "1")
    return JSONResponse({"policies": [shown(request, policy) for policy in found]})


def numbers(data: dict, name: str, kind: type) -> list:
    values = field(data, name, list, required=False) or []
    if len(values) > MAX_LINKED or not all(
            isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise HttpError(400, f"{name} 格式不对")
    return values


async def add(request: Request) -> JSONResponse:
    """A policy; a maintainer names only their own department's services and entries."""
    data = await read_object(request)
    try:
        effective_on = date.fromisoformat(field(data, "effective_on", str))
    except ValueError:
        raise HttpError(400, "生效日期格式应为 YYYY-MM-DD") from None
    item_nos = numbers(data, "item_nos", int)
    entry_ids = numbers(data, "entry_ids", str)
    for item_no in item_nos:
        check_item(request, item_no)
    for entry_id in entry_ids:
        visible_entry(request, entry_id)
    if not item_nos and not entry_ids:
        raise HttpError(400, "请至少选择一个受影响的事项或条目")
    try:
        policy = Policies(kb_of(request)).add(
            field(data, "title", str), effective_on,
            doc_number=field(data, "doc_number", str, required=False) or "",
            item_nos=item_nos, entry_ids=entry_ids, by=request.state.staff.name)
    except InvalidPolicy as error:
        raise HttpError(400, str(error)) from None
    return JSONResponse(shown(request, policy), status_code=201)


def visible(request: Request) -> PolicyStatus:
    text = request.path_params["policy_id"]
    try:
        policy = Policies(kb_of(request)).get(int(text)) if text.isdigit() and len(
            text) <= 12 else None
    except PolicyNotFound:
        policy = None
    department = scope(request)
    if policy is None or (department and department not in policy.departments):
        raise HttpError(404, "没有这个政策")
    return policy


async def link(request: Request) -> JSONResponse:
    """Name more entries that implement the policy."""
    policy = visible(request)
    data = await read_object(request)
    entry_ids = numbers(data, "entry_ids", str)
    if not entry_ids:
        raise HttpError(400, "请填写要关联的条目编号")
    for entry_id in entry_ids:
        visible_entry(request, entry_id)
    policies = Policies(kb_of(request))
    policies.link(policy.id, entry_ids)
    return JSONResponse(shown(request, policies.get(policy.id)))
