"""What the gateway asks of the action server, which holds the embedder and the index
already, so the gateway loads no model of its own: the seats' knowledge-base search, and
placing the misses the gateway recorded into gap tasks."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import JSONResponse, json

from kb.grouping import Grouper
from kb.reply import json_int
from kb.retrieval import Retriever

MAX_QUERY_CHARS = 500
MAX_RESULTS = 10


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
        return json({"placed": len(grouper.place_pending())})

    app.add_route(place, "/gaps/place", methods=["POST"])
