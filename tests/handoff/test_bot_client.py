"""The gateway asks the action server to place misses once per batch (handoff/bot.py): asks
made while a request is under way make one more request, not one each."""

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from handoff.bot import BotClient


def test_many_asks_while_placing_make_one_more_request() -> None:
    requests = []

    async def place(request) -> JSONResponse:
        requests.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.05)  # the grouper at work
        return JSONResponse({"placed": 0})

    app = Starlette(routes=[Route("/gaps/place", place, methods=["POST"])])

    async def asks() -> None:
        bot = BotClient("http://rasa.invalid", "http://actions.test")
        bot.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        for _ in range(500):  # a start that found 500 abandoned clarifications
            bot.place_gaps()
        await asyncio.sleep(0.02)  # the request under way places all 500
        for _ in range(500):  # 500 more recorded meanwhile
            bot.place_gaps()
        while bot.background:
            await asyncio.sleep(0.01)
        assert len(requests) == 2, len(requests)  # the first, then one for all the others
        bot.place_gaps()  # later, a new miss: a request of its own
        while bot.background:
            await asyncio.sleep(0.01)
        await bot.http.aclose()

    asyncio.run(asks())
    assert len(requests) == 3


def test_an_unreachable_action_server_leaves_the_misses_waiting() -> None:
    async def asks() -> None:
        bot = BotClient("http://rasa.invalid", "http://127.0.0.1:9")  # nothing listens
        bot.place_gaps()
        bot.place_gaps()
        while bot.background:
            await asyncio.sleep(0.01)
        await bot.http.aclose()

    asyncio.run(asks())  # logged, not raised
