"""The pages people open (rendered from handoff/web/templates) and the health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def page(template: str):
    async def view(request: Request) -> Response:
        return request.app.state.templates.TemplateResponse(request, template)
    view.__name__ = template.removesuffix(".html")
    return view


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})
