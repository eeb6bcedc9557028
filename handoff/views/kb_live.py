"""The bot's side of the knowledge base, for the editor: the hit test (what the bot would
answer a question with a draft published, decided by the action server's real retriever) and
whether a publish is live (the revision the bot answers from)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from handoff.bot import BotUnavailable
from handoff.errors import HttpError
from handoff.views.body import read_object
from handoff.views.entries import MAX_ENTRY_BYTES, entry_of, visible
from handoff.views.gaps import field

UNAVAILABLE = "小申的知识库服务暂时无法连接，请稍后再试"


async def hit_test(request: Request) -> JSONResponse:
    """{"question", "entry": the editor's fields} → the reply the bot would give."""
    data = await read_object(request, MAX_ENTRY_BYTES)
    question = field(data, "question", str).strip()
    if not question or len(question) > 200:
        raise HttpError(400, "请输入要测试的问题（不超过 200 字）")
    draft = field(data, "entry", dict)
    entry_id = field(draft, "entry_id", str, required=False)
    if entry_id:
        visible(request, entry_id)
    entry = entry_of(request, draft, entry_id or "hit-test")
    body = {"entry_id": entry_id, "item_no": entry.item_no, "topic": entry.topic,
            "question": entry.question, "similar": entry.similar_questions,
            "answer": entry.answer}
    try:
        reply = await request.app.state.desk.bot.hit_test(question, body)
    except BotUnavailable:
        raise HttpError(503, UNAVAILABLE) from None
    return JSONResponse(reply, headers={"cache-control": "no-store"})


async def status(request: Request) -> JSONResponse:
    """{"revision", "live_revision", "building", "built_at"} from the action server."""
    try:
        found = await request.app.state.desk.bot.kb_status()
    except BotUnavailable:
        raise HttpError(503, UNAVAILABLE) from None
    return JSONResponse(found, headers={"cache-control": "no-store"})
