"""What the gateway asks of the action server, which holds the embedder and the index
already, so the gateway loads no model of its own: the seats' knowledge-base search, placing
the misses the gateway recorded into gap tasks, the editor's hit test (命中测试) and whether
a publish is live yet."""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import Request, Sanic
from sanic.response import JSONResponse, json

from actions.answer import answer_text, decide_question, reply_payload
from actions.context import Context, Follower
from actions.services import PLACE_BATCH
from kb.errors import InvalidEntry
from kb.grouping import Grouper
from kb.reply import Outcome, ReplyPayload, json_int
from kb.retrieval import Retriever
from kb.snapshot import LiveSnapshot
from kb.store import Entry, entry_from_row
from nlu.normalize import normalize

MAX_QUERY_CHARS = 500
MAX_RESULTS = 10
DRAFT_ID = "\x00draft"  # a new draft's id while it is tested (no stored id starts so)


def search_results(retriever: Retriever, query: str, item_no: int | None, limit: int
                   ) -> list[dict[str, Any]]:
    """The best entries with their answer wording, for a seat to insert."""
    found = []
    for candidate in retriever.search(query, k=limit, item_no=item_no):
        entry = retriever.entry(candidate.entry_id)
        found.append({**candidate.as_dict(), "answer": entry.answer, "topic": entry.topic})
    return found


def add_search_route(app: Sanic, retriever: Retriever) -> None:
    async def search(request: Request) -> JSONResponse:
        body = request.json if isinstance(request.json, dict) else {}
        query = body.get("query")
        if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
            return json({"error": f"query must be text of 1 to {MAX_QUERY_CHARS} characters"},
                        status=400)
        limit = json_int(body.get("limit")) or 5
        results = search_results(retriever, query, json_int(body.get("item_no")),
                                 max(1, min(limit, MAX_RESULTS)))
        return json({"candidates": results})

    app.add_route(search, "/kb/search", methods=["POST"])


def add_gap_route(app: Sanic, grouper: Grouper) -> None:
    """Misses recorded elsewhere (the gateway's escalations) wait for this process's
    embedder; the gateway asks for them to be placed."""
    async def place(request: Request) -> JSONResponse:
        placed = 0
        while batch := grouper.place_pending(limit=PLACE_BATCH):
            placed += len(batch)
            await asyncio.sleep(0)  # the questions waiting meanwhile go first
        return json({"placed": placed})

    app.add_route(place, "/gaps/place", methods=["POST"])


def add_live_routes(app: Sanic, retriever: Retriever, live: LiveSnapshot) -> None:
    """GET /kb/status: is the base's latest revision what the bot answers from; POST
    /kb/hit-test: what the bot would answer were a draft published."""
    async def status(request: Request) -> JSONResponse:
        return json(live.status())

    async def hit_test(request: Request) -> JSONResponse:
        body = request.json if isinstance(request.json, dict) else {}
        question = body.get("question")
        if not isinstance(question, str) or not question.strip() or len(
                question) > MAX_QUERY_CHARS:
            return json({"error": f"question must be text of 1 to {MAX_QUERY_CHARS} "
                                  "characters"}, status=400)
        try:
            draft = draft_entry(body.get("entry"), retriever)
        except InvalidEntry as error:
            return json({"error": f"entry: {error}"}, status=400)
        return json(hit_test_reply(retriever.pinned(live.with_draft(draft)), question, draft))

    app.add_route(status, "/kb/status", methods=["GET"])
    app.add_route(hit_test, "/kb/hit-test", methods=["POST"])


def draft_entry(given: Any, retriever: Retriever) -> Entry:
    """The hit test's draft as an entry, checked as an import checks one (InvalidEntry)."""
    if not isinstance(given, dict):
        raise InvalidEntry("must be an object with item_no, topic, question, similar, answer")
    entry_id, similar = given.get("entry_id"), given.get("similar") or []
    if entry_id is not None and (not isinstance(entry_id, str) or not entry_id.strip()):
        raise InvalidEntry("entry_id must be an entry's id or null (a new entry)")
    for name in ("question", "answer", "topic"):
        if given.get(name) is not None and not isinstance(given[name], str):
            raise InvalidEntry(f"{name} must be text")
    if not isinstance(similar, list):
        raise InvalidEntry("similar must be a list of questions")
    item_no = json_int(given.get("item_no"))
    if item_no is None or retriever.kb.item(item_no) is None:
        raise InvalidEntry(f"item_no must be a service of the base, not {given.get('item_no')!r}")
    return entry_from_row({"entry_id": entry_id or DRAFT_ID, "item_no": item_no,
                           "topic": given.get("topic"), "question": given.get("question"),
                           "similar_questions": similar, "answer": given.get("answer")})


def hit_test_reply(retriever: Retriever, question: str, draft: Entry) -> dict[str, Any]:
    """The bot's reply payload to `question` from `retriever` (holding the draft), with the
    answer's wording and whether it is the draft's."""
    if not normalize(question):
        return {**ReplyPayload.of(Outcome.FALLBACK).as_dict(), "answer": None,
                "uses_draft": False}
    decision = decide_question(Follower(retriever), question, Context())
    entry = decision.entry
    payload = reply_payload(decision) if entry else ReplyPayload.of(
        decision.outcome, score=decision.score, candidates=decision.candidates)
    uses_draft = any(used.entry_id == draft.entry_id for used in decision.used)
    reply = {**payload.as_dict(), "answer": answer_text(decision) if entry else None,
             "uses_draft": uses_draft}
    # A new entry has no id yet: wherever the reply names it, it is null.
    reply["entry_id"] = unless_draft(reply["entry_id"])
    if "entry_ids" in reply:
        reply["entry_ids"] = [unless_draft(entry_id) for entry_id in reply["entry_ids"]]
    for candidate in reply["candidates"]:
        candidate["entry_id"] = unless_draft(candidate["entry_id"])
    return reply


def unless_draft(entry_id: str | None) -> str | None:
    return None if entry_id == DRAFT_ID else entry_id
