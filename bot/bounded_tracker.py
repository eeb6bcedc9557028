"""A bot turn costs the same on the 80th message as on the first.

Rasa 3.6 reloads, replays and predicts over every event of a conversation's current session on
each message, and sends them all to the action server (then the gateway's appended human-mode
messages get the whole tracker back). A conversation that never pauses for an hour stays one
session, so its turns grew slower with its length (bench/turn_profile.py: 31 ms for turns
1-10, 122 ms for turns 71-80). Two changes bound that work:

- A session holds at most SESSION_EVENTS events: the next message (a bot turn, or a
  human-mode message the gateway records) starts a new session first, with the slots' values
  carried over, so the context a follow-up needs (service, topic, pending question, offered
  services) is intact. Only a session left idle for the domain's `session_expiration_time`
  starts without its slots, as before (`carry_over_slots_to_new_session: false`). The tracker
  store loads only the events since the last session start (bot/tracker_store.py).
- The action server is sent the current turn's events (since the citizen's last message)
  with the slots, the latest message and the rest of the tracker's state: every Xiaoshen
  action reads only those (actions/context.py: slots; actions/answer.py: the latest message).

All rules of this bot are one intent → one action, and no slot influences the conversation,
so a new session predicts exactly what the long one did.
"""

from __future__ import annotations

import time
from typing import Any

SESSION_EVENTS = 30  # about three bot turns (each logs nine events or so)


def is_long(tracker: Any) -> bool:
    """Whether the tracker's current session has reached SESSION_EVENTS events."""
    return len(tracker.applied_events()) >= SESSION_EVENTS


def idle_too_long(tracker: Any, session_config: Any) -> bool:
    """Whether the session expired by time (as Rasa's processor decides it)."""
    from rasa.shared.core.events import UserUttered

    if not session_config.are_sessions_enabled():
        return False
    last = tracker.get_last_event_for(UserUttered)
    return bool(last) and (time.time() - last.timestamp) / 60 > (
        session_config.session_expiration_time)


def current_turn(events: list[Any]) -> list[Any]:
    """The events since the last user message, that message included."""
    from rasa.shared.core.events import UserUttered

    for start in range(len(events) - 1, -1, -1):
        if isinstance(events[start], UserUttered):
            return events[start:]
    return events


class CurrentTurn:
    """A tracker seen by the action server's request: its state with the current turn's
    events only."""

    def __init__(self, tracker: Any) -> None:
        self._tracker = tracker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracker, name)

    def current_state(self, verbosity: Any) -> dict[str, Any]:
        from rasa.shared.core.trackers import EventVerbosity

        state = self._tracker.current_state(EventVerbosity.NONE)
        state["events"] = [event.as_dict() for event in current_turn(list(self._tracker.events))]
        return state


def install() -> None:
    from rasa.core.actions.action import ActionSessionStart, RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import SlotSet

    expired = MessageProcessor._has_session_expired

    def has_session_expired(self: MessageProcessor, tracker: Any) -> bool:
        return is_long(tracker) or expired(self, tracker)

    fetch = MessageProcessor.fetch_tracker_with_initial_session

    async def fetch_with_bounded_session(self: MessageProcessor, sender_id: str,
                                         output_channel: Any = None, metadata: Any = None
                                         ) -> Any:
        """Also for the events the gateway appends (human mode): a long session is closed
        before they are added."""
        tracker = await fetch(self, sender_id, output_channel, metadata)
        if is_long(tracker):
            await self._update_tracker_session(tracker, output_channel, metadata)
        return tracker

    start_session = ActionSessionStart.run

    async def run_session_start(self: ActionSessionStart, output_channel: Any, nlg: Any,
                                tracker: Any, domain: Any) -> list[Any]:
        events = await start_session(self, output_channel, nlg, tracker, domain)
        if domain.session_config.carry_over_slots or idle_too_long(tracker,
                                                                   domain.session_config):
            return events
        carried = [SlotSet(name, value)
                   for name, value in tracker.current_slot_values().items() if value is not None]
        return events[:1] + carried + events[1:]  # after SessionStarted, before action_listen

    build_body = RemoteAction._action_call_format

    def action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> dict[str, Any]:
        return build_body(self, CurrentTurn(tracker), domain)

    MessageProcessor._has_session_expired = has_session_expired
    MessageProcessor.fetch_tracker_with_initial_session = fetch_with_bounded_session
    ActionSessionStart.run = run_session_start
    RemoteAction._action_call_format = action_call_format
