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
  starts without its slots, as before (`carry_over_slots_to_new_session: false`). Rasa's SQL
  tracker store loads only the events since the last session start, found through an index
  of its own (SESSION_INDEXES) rather than by reading the whole conversation.
- The action server is sent the current turn's events (since the citizen's last message)
  with the slots, the latest message and the rest of the tracker's state: every Xiaoshen
  action reads only those (actions/context.py: slots; actions/answer.py: the latest message).

All rules of this bot are one intent → one action, and no slot influences the conversation,
so a new session predicts exactly what the long one did.
"""

from __future__ import annotations

import time
from typing import Any

SESSION_EVENTS = 60  # about six bot turns (each logs nine events or so)
# Rasa's SQL tracker store finds a session's events by the latest session start's timestamp
# (twice a turn: to load, and to count before saving); with only its index on sender_id that
# reads every event the conversation ever had.
SESSION_INDEXES = {"ix_events_sender_type_time": ("sender_id", "type_name", "timestamp"),
                   "ix_events_sender_time": ("sender_id", "timestamp")}


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


def prepare_store(store: Any) -> None:
    """Create SESSION_INDEXES on the store's events table (once; kept by the database), and
    on SQLite write ahead: a turn's save is one commit, which in SQLite's default rollback
    journal waits for two fsyncs (7 ms at load 10 here; 0.04 ms in WAL with synchronous
    NORMAL, which after a power cut may lose the last turns, never the file's consistency).
    Its connections stay open in a pool: a save of one turn took p50 10.9 ms opening one
    (NullPool), 1.2 ms with the pool."""
    import sqlalchemy as sa

    if store.engine.dialect.name == "sqlite":
        # SQLAlchemy 1.4 opens a new SQLite connection for every session (NullPool): twice a
        # turn, each with its pragmas. A pool keeps them open (SQLAlchemy 2's default).
        store.engine = sa.create_engine(store.engine.url, poolclass=sa.pool.QueuePool,
                                        connect_args={"check_same_thread": False})
        store.sessionmaker = sa.orm.sessionmaker(bind=store.engine)
        sa.event.listen(store.engine, "connect",
                        lambda connection, _: connection.execute("PRAGMA synchronous=NORMAL"))
        with store.engine.connect() as db:
            db.execute(sa.text("PRAGMA journal_mode=WAL"))  # kept by the file
    table = store.SQLEvent.__table__
    existing = {index.name: index for index in table.indexes}
    for name, columns in SESSION_INDEXES.items():
        index = existing.get(name) or sa.Index(name, *(table.c[column] for column in columns))
        index.create(store.engine, checkfirst=True)


def install() -> None:
    from rasa.core.actions.action import ActionSessionStart, RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import SlotSet

    open_store = SQLTrackerStore.__init__

    def open_indexed_store(self: SQLTrackerStore, *args: Any, **kwargs: Any) -> None:
        open_store(self, *args, **kwargs)
        prepare_store(self)

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

    SQLTrackerStore.__init__ = open_indexed_store
    MessageProcessor._has_session_expired = has_session_expired
    MessageProcessor.fetch_tracker_with_initial_session = fetch_with_bounded_session
    ActionSessionStart.run = run_session_start
    RemoteAction._action_call_format = action_call_format
