"""Only Rasa and the gateway may call the action server: every route but the health check
needs the shared secret in the X-Xiaoshen-Secret header (Rasa's action endpoint sends it as
one of its headers, never as a `?token=`, which Rasa's error log would print with the URL)."""

from __future__ import annotations

import hmac

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from xiaoshen.secrets import SECRET_HEADER

OPEN_PATHS = frozenset({"/health"})


def require_secret(app: Sanic, secret: str) -> None:
    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(SECRET_HEADER) or ""
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return json({"error": "a shared secret is required"}, status=403)
        return None

    app.register_middleware(check, "request")
