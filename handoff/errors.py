"""One error shape for every HTTP response: {"error": "<a plain sentence in Chinese>"}; never a
traceback (the log has it)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

MESSAGES = {400: "请求有误", 401: "请先登录", 403: "无权访问", 404: "没有这个地址",
            405: "不支持该请求方法", 413: "请求内容过大", 429: "请求过于频繁，请稍后再试",
            500: "服务暂时出错，请稍后再试"}


class HttpError(HTTPException):
    """An error a view answers with: its status and a sentence for the person."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status, message or MESSAGES.get(status, "请求未能处理"))


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status,
                        headers={"cache-control": "no-store"})


async def http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error, HttpError) else None
    return error_response(error.status_code,
                          detail or MESSAGES.get(error.status_code, "请求未能处理"))


async def server_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=error)
    return error_response(500, MESSAGES[500])


HANDLERS = {HTTPException: http_error, Exception: server_error}
