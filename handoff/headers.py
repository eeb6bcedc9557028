"""Security headers on every response the gateway sends, Socket.IO's included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

Scope = dict
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
EMBEDDABLE = ("/chat",)  # the citizen's chat may be framed by the allowed portals


def policy(frame_ancestors: str) -> str:
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
            f"object-src 'none'; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors {frame_ancestors}")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        embedders = " ".join(["'self'", *allowed_origins])
        common = [(b"referrer-policy", b"no-referrer"),
                  (b"x-content-type-options", b"nosniff"),
                  (b"permissions-policy", b"camera=(), geolocation=(), microphone=(self)")]
        self.embeddable = [*common, (b"content-security-policy", policy(embedders).encode())]
        self.private = [*common, (b"content-security-policy", policy("'none'").encode()),
                        (b"x-frame-options", b"DENY")]

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.embeddable if scope.get("path") in EMBEDDABLE else self.private

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)
