"""What Rasa redid on every message, done once (bot/per_message.py), does what Rasa did: the
compiled validator checks action replies against Rasa's own schema and rejects a bad one with
Rasa's error; action calls reuse one connection; the domain's emptiness and the event
classes are remembered."""

import subprocess

from xiaoshen import settings
from xiaoshen.stack import service_env

CHECK = """
import sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from bot import per_message
from bot.per_message import validate_action_result
action = RemoteAction("action_answer_question", None)
good = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "好"}]}
assert validate_action_result(action, good)
assert validate_action_result(action, {"events": [], "responses": []})
for bad in ({"events": "not a list"}, {"events": [{"event": "no such event"}]},
            {"events": [{"event": "slot", "name": 3}]}, {"events": [{"name": "x"}]},
            {"events": [{"event": "user", "text": 5}]}, {"responses": "text"}):
    try:
        validate_action_result(action, bad)
    except ValidationError as error:
        assert "Failed to validate Action server response" in error.message
    else:
        sys.exit(f"accepted {bad}")

# Two calls through Rasa's endpoint config: answered on one kept-alive connection.
import asyncio
from aiohttp import web
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig
per_message.install()
peers = []

async def webhook(request):
    peers.append(request.transport.get_extra_info("peername"))
    return web.json_response({"events": [], "responses": []})

async def two_calls():
    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"x-a": "1"})
    replies = [await endpoint.request(json={"n": n}) for n in range(2)]
    await runner.cleanup()
    return replies

assert asyncio.run(two_calls()) == [{"events": [], "responses": []}] * 2
assert len(peers) == 2 and peers[0] == peers[1], peers
assert Domain.empty().is_empty() and Domain.empty().is_empty()
domain = Domain.load("bot/domain.yml")
assert not domain.is_empty() and not domain.is_empty()

# Events come back from their dicts as before; unknown names still default or fail.
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
for _ in range(2):
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.from_parameters({"event": "action", "name": "x"}) == ActionExecuted("x")
assert Event.resolve_by_type("no such event", default=SlotSet) is SlotSet
assert Event.resolve_by_type("topic") is None
try:
    Event.resolve_by_type("no such event")
except ValueError:
    pass
else:
    sys.exit("an unknown event name was accepted")
"""


def test_valid_replies_pass_and_invalid_ones_are_rejected() -> None:
    result = subprocess.run([settings.load().rasa_python, "-c", CHECK], cwd=settings.ROOT,
                            env=service_env(settings.load()), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
