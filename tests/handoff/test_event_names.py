"""The browser scripts spell the gateway's event names themselves (handoff/web/static/
events.js): each must be the Python name's twin in handoff/protocol.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handoff import protocol

EVENTS_JS = Path(protocol.__file__).with_name("web") / "static" / "events.js"
EXPORTED = dict(re.findall(r'^export const ([A-Z_]+) = "([^"]*)";', EVENTS_JS.read_text(),
                           re.MULTILINE))


def test_the_scripts_export_event_names() -> None:
    assert {"USER_UTTERED", "BOT_UTTERED", "SEAT_MESSAGE", "MY_CHATS"} <= set(EXPORTED)


@pytest.mark.parametrize(("name", "value"), sorted(EXPORTED.items()))
def test_each_script_name_is_the_protocol_s(name: str, value: str) -> None:
    assert getattr(protocol, name, None) == value
