"""`python -m bot.rasa_server run …`: Rasa's own command line, with action replies validated
by compiled code, each turn's work bounded (bot/bounded_tracker.py), the prediction graph run
without dask (bot/graph_runner.py) and TensorFlow loaded only for a model that uses it
(bot/lean_imports.py).

Rasa 3.6 checks every action server reply with `jsonschema.validate`, which re-validates the
schema itself against the meta-schema on each call: two thirds of Rasa's time per message
(measured with py-spy); a reused validator still took 7-10%, most of it trying each event
against all 23 event kinds (the schema's `oneOf`). The kinds are told apart by the `event`
name, so checking an event against its own kind's schema is the same check; fastjsonschema
compiles the reply's shell and each kind once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema
import jsonschema

from bot import bounded_tracker, lean_imports
from xiaoshen import turn_timing


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

if __name__ == "__main__":
    lean_imports.install()  # before anything imports Rasa
    from rasa.core.actions.action import RemoteAction

    from bot import graph_runner

    RemoteAction._validate_action_result = validate_action_result
    bounded_tracker.install()
    graph_runner.install()
    timing = turn_timing.path_from_env()
    if timing:  # bench/turn_profile.py: each turn's stages
        turn_timing.install_rasa(timing)
    # The HTTP API's token comes in the environment (a command line is visible to `ps`).
    if os.environ.get("XIAOSHEN_RASA_TOKEN") and sys.argv[1:2] == ["run"]:
        sys.argv += ["--auth-token", os.environ["XIAOSHEN_RASA_TOKEN"]]
    from rasa.__main__ import main

    main()
