"""Reading request bodies safely: a size limit, UTF-8 JSON of a bounded depth."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from handoff.errors import HttpError

MAX_JSON_BYTES = 10_000


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HttpError(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HttpError(413)
    return bytes(body)


async def read_json(request: Request, limit: int = MAX_JSON_BYTES) -> Any:
    body = await read_body(request, limit)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise HttpError(400, "请求内容不是有效的 JSON") from None


async def read_object(request: Request, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The body as a JSON object (another JSON value is refused, 400)."""
    data = await read_json(request, limit)
    if not isinstance(data, dict):
        raise HttpError(400, "请求内容应为 JSON 对象")
    return data
