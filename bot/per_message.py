"""What Rasa 3.6 redoes on every message, done once (py-spy shares of Rasa's time per message
at 50-60 messages/s):

- Each action server reply is checked with `jsonschema.validate`, which re-validated the schema
  itself against the meta-schema on each call (two thirds of Rasa's time); a reused validator
  still took 7-10%, most of it trying each event against all 23 event kinds (the schema's
  `oneOf`). The kinds are told apart by the `event` name, so checking an event against its own
  kind's schema is the same check: fastjsonschema compiles the reply's shell and each kind
  once (0.82 → 0.04 ms a reply).
- Every parse asks `domain.is_empty()`, which serialises the whole domain and an empty one to
  compare them (2%); a loaded domain does not change, so the answer is kept.
- Every event read from the tracker store looks its class up among all subclasses of `Event`,
  listed afresh with `inspect.isabstract` on each (6.5% at 3 turns/s, REST): the classes
  found are kept by type name.
- Every call to the action server opened a new HTTP connection; connections are now kept
  alive (shorter than the action server's own keep-alive, so it never closes one under us).
- The first message paid for what Rasa sets up lazily (the reply checks' compilation, 17 ms;
  the graph runs' first orders): done once the model is loaded, before it is served. Several
  messages of different kinds are run, not one: with one, the first few citizens' parses still
  took 1.5-2x the later ones (`python -m bench.stack_start`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cache
from typing import Any

import aiohttp
import fastjsonschema
import jsonschema

IDLE_CONNECTION_SECONDS = 2.0  # the action server (Sanic) closes idle ones after 5 s
# Messages of the kinds citizens send: questions, a follow-up, a greeting, thanks, a request.
WARM_UPS = ("居住证怎么办理", "你好", "退休了养老金怎么领取", "那需要带什么材料", "谢谢",
            "公司注册地址变更要多久", "转人工", "新生儿医保怎么参保", "收费吗", "不满意")


@cache
def _reply_checks() -> tuple[Callable[[Any], Any], dict[str, Callable[[Any], Any]]]:
    """The reply without the events' `oneOf`, and each event kind's schema, compiled."""
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    events = schema["properties"]["events"]
    kinds = events["items"]["oneOf"]
    names = [kind["properties"]["event"]["const"] for kind in kinds]
    assert len(set(names)) == len(names), "event kinds no longer told apart by name"
    item = {key: value for key, value in events["items"].items() if key != "oneOf"}
    shell = {**schema, "properties": {**schema["properties"], "events": {**events,
                                                                         "items": item}}}
    return fastjsonschema.compile(shell), {
        name: fastjsonschema.compile(kind) for name, kind in zip(names, kinds, strict=True)}


def validate_action_result(action: Any, result: dict[str, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result`: the same schema and error."""
    check_shell, check_kind = _reply_checks()
    try:
        check_shell(result)
        for event in result.get("events") or ():
            if event["event"] not in check_kind:
                raise fastjsonschema.JsonSchemaException(f"unknown event {event['event']!r}")
            check_kind[event["event"]](event)
    except fastjsonschema.JsonSchemaException as error:
        raise jsonschema.ValidationError(
            f"{error}. Failed to validate Action server response from API, make sure "
            "your response from the Action endpoint is valid.") from None
    return True


def kept_alive_session(endpoint: Any) -> aiohttp.ClientSession:
    """Rasa's `EndpointConfig.session`, over connections shared by the event loop's calls."""
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    auth = (aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
            if endpoint.basic_auth else None)
    return aiohttp.ClientSession(headers=endpoint.headers, auth=auth,
                                 timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                                 connector=_connections(asyncio.get_running_loop()),
                                 connector_owner=False)


@cache
def _connections(loop: asyncio.AbstractEventLoop) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS)


def remembered_event_type(resolve: Callable[..., Any]) -> Callable[..., Any]:
    """Rasa's `Event.resolve_by_type`, keeping the classes it found: events of an unknown
    name, and the defaults given for them, still go through it."""
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        event_type = found.get(type_name)
        if event_type is None:
            event_type = resolve(type_name, default)
            if event_type is not default:  # found among the subclasses, not defaulted
                found[type_name] = event_type
        return event_type

    return resolve_by_type


async def warm_up(agent: Any) -> None:
    """WARM_UPS parsed and their next actions predicted, on a tracker of no conversation:
    neither the tracker store nor the action server is touched."""
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    for text in WARM_UPS:
        parsed = await agent.parse_message(text)
        tracker = DialogueStateTracker("warm-up", agent.domain.slots)
        tracker.update(UserUttered(text, parsed["intent"], parsed["entities"], parsed))
        agent.processor.predict_next_with_tracker(tracker)


def install() -> None:
    import rasa.core.run
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    _reply_checks()
    RemoteAction._validate_action_result = validate_action_result
    EndpointConfig.session = kept_alive_session
    is_empty = Domain.is_empty

    def remembered_is_empty(domain: Domain) -> bool:
        if "_xiaoshen_is_empty" not in domain.__dict__:
            domain.__dict__["_xiaoshen_is_empty"] = is_empty(domain)
        return domain.__dict__["_xiaoshen_is_empty"]

    Domain.is_empty = remembered_is_empty
    Event.resolve_by_type = staticmethod(remembered_event_type(Event.resolve_by_type))
    load_agent = rasa.core.run.load_agent_on_start

    async def load_and_warm_up(*args: Any, **kwargs: Any) -> Any:
        agent = await load_agent(*args, **kwargs)
        if agent.is_ready():
            await warm_up(agent)
        return agent

    rasa.core.run.load_agent_on_start = load_and_warm_up
