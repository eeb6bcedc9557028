"""Rasa's SQL tracker store, with the same table and the same sessions, at a fraction of the
cost per turn (`type: bot.tracker_store.TurnTrackerStore` in bot/endpoints*.yml).

Rasa 3.6's SQLTrackerStore spent a quarter of Rasa's time per message (py-spy, 40 messages/s):
before every save it counts the session's stored events with an ORM query to learn which
events are new, and every query builds SQLAlchemy ORM statements afresh (their cache keys alone
were 12%). Here:

- the tracker remembers how many of its events are stored (set when it is loaded or saved),
  so a save writes the rest without asking the database; a tracker made elsewhere (a new
  conversation's) is counted, as Rasa's store counts every time;
- loading and saving are plain statements built once (Core, not the ORM), portable to any
  database SQLAlchemy speaks;
- the table gets SESSION_INDEXES, SQLite writes ahead, and connections stay in a pool
  (`prepare`).

The per-conversation lock (Rasa's lock store) keeps one load → save at a time per
conversation, which is what makes "how many are stored" a fact between them.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

# Rasa's store finds a session's events by the latest session start's timestamp (to load, and
# to count before saving); with only its index on sender_id that reads every event the
# conversation ever had.
SESSION_INDEXES = {"ix_events_sender_type_time": ("sender_id", "type_name", "timestamp"),
                   "ix_events_sender_time": ("sender_id", "timestamp")}
_STORED = "_xiaoshen_events_stored"  # on a tracker: how many of its events are in the table


class TurnTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare(self)
        table = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        self._session_start = sa.select(sa.func.max(table.c.timestamp)).where(
            table.c.sender_id == sender, table.c.type_name == SessionStarted.type_name)
        self._all_events = sa.select(table.c.data).where(
            table.c.sender_id == sender).order_by(table.c.id)
        self._session_events = sa.select(table.c.data).where(
            table.c.sender_id == sender,
            table.c.timestamp >= sa.bindparam("start")).order_by(table.c.id)
        self._count_all = sa.select(sa.func.count()).where(table.c.sender_id == sender)
        self._count_session = sa.select(sa.func.count()).where(
            table.c.sender_id == sender, table.c.timestamp >= sa.bindparam("start"))
        self._insert = table.insert()
        self._warm_up()

    def _warm_up(self) -> None:
        """Run every statement once, on a conversation with no events and an insert rolled
        back: the first citizen's turn paid 5 ms more to compile them and fill the pool."""
        nobody = {"sender_id": "", "start": 0.0}
        with self.engine.connect() as db:
            for statement in (self._session_start, self._all_events, self._session_events,
                              self._count_all, self._count_session):
                db.execute(statement, nobody)
            with db.begin() as transaction:
                db.execute(self._insert, [row("", SessionStarted())])
                transaction.rollback()

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool
                        ) -> DialogueStateTracker | None:
        with self.engine.connect() as db:
            start = None if fetch_events_from_all_sessions else db.execute(
                self._session_start, {"sender_id": sender_id}).scalar()
            rows = (db.execute(self._all_events, {"sender_id": sender_id}) if start is None
                    else db.execute(self._session_events,
                                    {"sender_id": sender_id, "start": start}))
            events = [json.loads(data) for (data,) in rows]
        if not self.domain or not events:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if not fetch_events_from_all_sessions:
            setattr(tracker, _STORED, len(events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        events = list(tracker.events)
        with self.engine.begin() as db:
            stored = getattr(tracker, _STORED, None)
            if stored is None or tracker.events.maxlen is not None:
                # Made elsewhere (a new conversation's tracker is made by Rasa's wrapper
                # store) or cut short: as Rasa's store does, the session's events are counted.
                stored = self._stored_in_session(db, tracker.sender_id)
            rows = [row(tracker.sender_id, event) for event in events[stored:]]
            if rows:
                db.execute(self._insert, rows)
        setattr(tracker, _STORED, len(events))

    def _stored_in_session(self, db: sa.engine.Connection, sender_id: str) -> int:
        start = db.execute(self._session_start, {"sender_id": sender_id}).scalar()
        if start is None:
            return db.execute(self._count_all, {"sender_id": sender_id}).scalar()
        return db.execute(self._count_session, {"sender_id": sender_id, "start": start}).scalar()


def row(sender_id: str, event: Any) -> dict[str, Any]:
    """An event as Rasa's SQLTrackerStore writes it."""
    data = event.as_dict()
    return {"sender_id": sender_id, "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"), "data": json.dumps(data)}


def prepare(store: SQLTrackerStore) -> None:
    """Create SESSION_INDEXES on the store's events table (once; kept by the database), and
    on SQLite write ahead: a turn's save is one commit, which in SQLite's default rollback
    journal waits for two fsyncs (7 ms at load 10 here; 0.04 ms in WAL with synchronous
    NORMAL, which after a power cut may lose the last turns, never the file's consistency).
    Its connections stay open in a pool: a save of one turn took p50 10.9 ms opening one
    (NullPool), 1.2 ms with the pool."""
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
