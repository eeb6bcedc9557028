"""The one owner of the database schema: every table, its typed columns, keys and indexes.

One SQLite file holds the knowledge base and the records the learning loop counts from (gap
tasks, ratings). `migrate` creates what is missing and brings older files up to date (added
columns, corrected types), then records `SCHEMA_VERSION` in SQLite's `user_version`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlite_utils

SCHEMA_VERSION = 13  # 1: ad hoc tables; 2: declared here; 3: turns; 4-9: the help desk;
# 10: grouped gap tasks (the one-row-per-miss `gaps` table became gap_questions);
# 11: entry versions with their review, and policies; 12: messages held for the bot;
# 13: gap questions indexed by task and text


class SchemaTooNew(Exception):
    """The file was written by a newer Xiaoshen than this one."""


@dataclass(frozen=True)
class Table:
    columns: dict[str, type]
    pk: str | tuple[str, ...]
    not_null: frozenset[str] = frozenset()
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()  # unique indexes
    defaults: dict[str, object] = field(default_factory=dict)


TABLES: dict[str, Table] = {
    # Services the base covers (items.csv); item_no is the stable id.
    "items": Table(
        {"item_no": int, "name": str, "department": str, "audience": str,
         "responsible_units": str},
        pk="item_no", not_null=frozenset({"name", "department"}),
    ),
    # Answer wordings (答复口径) with their questions; similar_questions is a JSON list.
    "entries": Table(
        {"entry_id": str, "item_no": int, "topic": str, "department": str, "question": str,
         "similar_questions": str, "answer": str, "source": str, "status": str,
         "effective_from": str, "effective_to": str, "version": int, "updated_by": str,
         "updated_at": str},
        pk="entry_id", not_null=frozenset({"item_no", "question", "answer", "status"}),
        foreign_keys=(("item_no", "items", "item_no"),), indexes=(("item_no",),),
    ),
    # Every version of every entry, immutable in its content: who wrote it, when, why and
    # from where (import, console, gap_task, seat_candidate, rollback), the version it was
    # edited from, and its review (draft → in_review → approved, or returned with a comment;
    # superseded when a later save replaced it unapproved). entries.version points at the
    # approved version the bot serves.
    "entry_versions": Table(
        {"id": int, "entry_id": str, "version": int, "item_no": int, "topic": str,
         "department": str, "question": str, "similar_questions": str, "answer": str,
         "status": str, "effective_from": str, "effective_to": str, "author": str,
         "created_at": str, "reason": str, "source": str, "base_version": int,
         "review": str, "submitted_at": str, "reviewer": str, "reviewed_at": str,
         "review_comment": str},
        pk="id", not_null=frozenset({"entry_id", "version", "item_no", "question", "answer",
                                     "status", "author", "created_at", "source", "review"}),
        indexes=(("review", "department"),), unique=(("entry_id", "version"),),
    ),
    # Policies (政策文件) and the entries that implement them: their wording must be approved
    # and published one working day before the policy takes effect. item_nos: a JSON list.
    "policies": Table(
        {"id": int, "title": str, "doc_number": str, "effective_on": str, "item_nos": str,
         "created_by": str, "created_at": str},
        pk="id", not_null=frozenset({"title", "effective_on", "created_at"}),
    ),
    "policy_entries": Table({"policy_id": int, "entry_id": str}, pk=("policy_id", "entry_id"),
                            foreign_keys=(("policy_id", "policies", "id"),)),
    # Services the base does not cover, so the bot can say so; questions is a JSON list.
    "other_services": Table({"name": str, "department": str, "questions": str}, pk="name"),
    # Counters such as the base's revision, which tells servers to reload their index.
    "meta": Table({"key": str, "value": str}, pk="key"),
    # Knowledge-gap tasks: what the bot could not answer, grouped by what was asked, owned by
    # the responsible department and due at the end of the 5th working day after created_at's
    # Shanghai day. centroid: the unit mean of its questions' vectors (float32 bytes);
    # version: bumped by every change, so two maintainers cannot both win silently.
    "gap_tasks": Table(
        {"id": int, "title": str, "item_no": int, "department": str, "status": str,
         "ask_count": int, "first_asked_at": str, "last_asked_at": str, "created_at": str,
         "due_on": str, "provisional": int, "overdue_at": str, "assignee": str,
         "entry_id": str, "reject_reason": str, "merged_into": int, "answered_by": str,
         "answered_at": str, "closed_at": str, "centroid": bytes, "version": int,
         "updated_by": str, "updated_at": str},
        pk="id", not_null=frozenset({"title", "department", "status", "created_at", "due_on"}),
        indexes=(("status", "department"), ("created_at",), ("entry_id",)),
        defaults={"ask_count": 0, "provisional": 0, "version": 1},
    ),
    # Each miss: the masked question as asked, why it is a miss, and the seat's answer when a
    # human took it. task_id is NULL until the grouper (which holds the embedder) places it.
    "gap_questions": Table(
        {"id": int, "task_id": int, "text": str, "reason": str, "item_no": int,
         "department": str, "conversation_id": str, "asked_at": str, "seat": str,
         "seat_answer": str, "candidate_entry_id": str, "vector": bytes},
        pk="id", not_null=frozenset({"text", "reason", "asked_at"}),
        # (task, text): the grouper reads a shortlist's distinct phrasings from the index
        # alone; with (task) only, it read every ask (20 tasks asked 100k times: 20 → 7.5 ms).
        indexes=(("task_id", "text"), ("conversation_id",)),
    ),
    # Official working-day schedules loaded for years the calendar package lacks.
    "calendar_days": Table({"day": str, "kind": str, "loaded_at": str}, pk="day",
                           not_null=frozenset({"kind"})),
    # Every bot turn's outcome and the citizen's feedback on it (已解决 / 没解决): what the
    # dashboard and the gap loop count from. text is masked.
    "turns": Table(
        {"id": int, "conversation_id": str, "turn": int, "text": str, "outcome": str,
         "item_no": int, "entry_id": str, "topic": str, "feedback": str, "created_at": str,
         "feedback_at": str, "gap_at": str},
        pk="id", not_null=frozenset({"conversation_id", "turn", "outcome", "created_at"}),
        indexes=(("conversation_id", "turn"), ("created_at",)),
    ),
    # Help-desk staff: seats (agent), knowledge-base maintainers, supervisors.
    "users": Table(
        {"name": str, "role": str, "department": str, "password_hash": str,
         "capacity": int, "created_at": str},
        pk="name", not_null=frozenset({"role", "password_hash", "created_at"}),
        defaults={"capacity": 3},
    ),
    # Logged-in sessions of staff (the cookie's token is stored hashed); idle ones expire,
    # logging out revokes.
    "staff_sessions": Table(
        {"token_hash": str, "user": str, "created_at": str, "expires_at": str,
         "last_seen_at": str, "revoked_at": str},
        pk="token_hash", not_null=frozenset({"user", "expires_at"}),
        foreign_keys=(("user", "users", "name"),),
    ),
    # Failed logins, by name and client address, for throttling (kept a day).
    "login_failures": Table(
        {"id": int, "name": str, "address": str, "created_at": str},
        pk="id", not_null=frozenset({"created_at"}),
        indexes=(("name", "created_at"), ("address", "created_at")),
    ),
    # A seat's presence: the status it chose (online, away), when a gateway last saw one of its
    # connections (heartbeat) and when its last connection closed.
    "presence": Table(
        {"user": str, "status": str, "updated_at": str, "seen_at": str,
         "disconnected_at": str},
        pk="user", not_null=frozenset({"status"}),
    ),
    # How far each seat has read each chat it holds (the console's unread counts).
    "seat_reads": Table(
        {"seat": str, "conversation_id": str, "last_id": int},
        pk=("seat", "conversation_id"),
    ),
    # Periodic work that exactly one gateway does at a time (the service-level sweep).
    "leases": Table({"name": str, "holder": str, "expires_at": float}, pk="name"),
    # Conversations through the gateway: who has them (bot, queue, seat) and their clock.
    "conversations": Table(
        {"id": str, "mode": str, "department": str, "item_no": int, "seat": str,
         "created_at": str, "escalated_at": str, "first_reply_at": str, "ended_at": str,
         "resolution": str, "transfers": int, "after_hours": int, "warned_at": str,
         "breached_at": str, "rated_at": str, "last_message_at": str,
         "recovering_since": str},
        pk="id", not_null=frozenset({"mode", "created_at"}),
        indexes=(("mode", "department"),), defaults={"transfers": 0},
    ),
    # Every message of a gateway conversation; the id orders them and lets a client re-sync.
    "messages": Table(
        {"id": int, "conversation_id": str, "sender": str, "author": str, "kind": str,
         "body": str, "extra": str, "created_at": str},
        pk="id", not_null=frozenset({"conversation_id", "sender", "kind", "created_at"}),
        foreign_keys=(("conversation_id", "conversations", "id"),),
        indexes=(("conversation_id", "id"),),
    ),
    # Citizens' messages waiting for the bot: every bot-mode message from its arrival until
    # its answer is stored (so neither a gateway restart nor a bot outage loses it). due_at
    # (epoch seconds): when a gateway may next try it (later while one is trying it).
    # conversations.recovering_since: when the conversation was told the bot is recovering
    # (once per outage; cleared when its held messages are answered).
    "held_messages": Table(
        {"message_id": int, "conversation_id": str, "held_at": str, "due_at": float,
         "attempts": int},
        pk="message_id", not_null=frozenset({"conversation_id", "held_at", "due_at"}),
        foreign_keys=(("message_id", "messages", "id"),),
        indexes=(("due_at",), ("conversation_id", "message_id")), defaults={"attempts": 0},
    ),
    # Images and voice messages; the files live on disk (`path`, named by their hash).
    "attachments": Table(
        {"id": str, "conversation_id": str, "kind": str, "mime": str, "size": int,
         "path": str, "uploader": str, "created_at": str},
        pk="id", not_null=frozenset({"conversation_id", "kind", "mime", "path", "created_at"}),
        foreign_keys=(("conversation_id", "conversations", "id"),),
    ),
    # Seat replies stopped for a forbidden phrase (禁语), for supervisors. text is masked.
    "forbidden_attempts": Table(
        {"id": int, "seat": str, "conversation_id": str, "phrase": str, "text": str,
         "created_at": str},
        pk="id", not_null=frozenset({"seat", "phrase", "created_at"}),
    ),
    # 5-level satisfaction ratings (好差评) of a conversation.
    "ratings": Table(
        {"id": int, "conversation_id": str, "level": int, "item_no": int, "seat": str,
         "comment": str, "created_at": str},
        pk="id", not_null=frozenset({"conversation_id", "level", "created_at"}),
        indexes=(("conversation_id",),),
    ),
}

_AFFINITY = {int: "INTEGER", str: "TEXT", float: "FLOAT", bytes: "BLOB"}


def version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns and indexes; fix column types of older files."""
    found = version(db)
    if found == SCHEMA_VERSION:
        return  # up to date: opening the file writes nothing (servers open it concurrently)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(f"the database has schema version {found}; this Xiaoshen knows "
                           f"up to {SCHEMA_VERSION}: upgrade Xiaoshen")
    with db.atomic():
        for name, spec in TABLES.items():
            _reconcile(db[name], spec)
        db["meta"].insert({"key": "revision", "value": "0"}, ignore=True)
        if found < 10 and db["gaps"].exists():
            _ungroup_old_gaps(db)
        if found < 11:
            _first_versions(db)
        if found < 13:  # (task_id, text) serves what (task_id) did
            db.execute("DROP INDEX IF EXISTS idx_gap_questions_task_id")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _ungroup_old_gaps(db: sqlite_utils.Database) -> None:
    """Version 9 kept one row per miss; they become questions for the grouper to place (and
    to drop when they are noise)."""
    db.execute("INSERT INTO gap_questions (text, reason, item_no, department, "
               "conversation_id, asked_at) SELECT question, reason, item_no, department, "
               "conversation_id, created_at FROM gaps")
    db["gaps"].drop()


def _first_versions(db: sqlite_utils.Database) -> None:
    """Entries older than versioning get their current content as their first version."""
    db.execute(
        "INSERT INTO entry_versions (entry_id, version, item_no, topic, department, question, "
        "similar_questions, answer, status, effective_from, effective_to, author, created_at, "
        "reason, source, review, reviewer, reviewed_at) SELECT entry_id, coalesce(version, 1), "
        "item_no, topic, department, question, similar_questions, answer, status, "
        "effective_from, effective_to, coalesce(nullif(updated_by, ''), 'import'), "
        "coalesce(nullif(updated_at, ''), datetime('now') || '+00:00'), '版本记录之前的内容', "
        "'import', 'approved', coalesce(nullif(updated_by, ''), 'import'), "
        "coalesce(nullif(updated_at, ''), datetime('now') || '+00:00') FROM entries")


def _reconcile(table: sqlite_utils.db.Table, spec: Table) -> None:
    if not table.exists():
        table.create(spec.columns, pk=spec.pk, not_null=set(spec.not_null),
                     foreign_keys=list(spec.foreign_keys), defaults=spec.defaults)
    else:
        present = {column.name: column.type.upper() for column in table.columns}
        for column, kind in spec.columns.items():
            if column not in present:
                table.add_column(column, kind)
        wrong = {column: kind for column, kind in spec.columns.items()
                 if column in present and present[column] != _AFFINITY[kind]}
        pk = [spec.pk] if isinstance(spec.pk, str) else list(spec.pk)
        if wrong or table.pks != pk:  # e.g. ratings, once guessed from its first row
            table.transform(types=wrong, pk=spec.pk)
    for columns in spec.indexes:
        table.create_index(list(columns), if_not_exists=True)
    for columns in spec.unique:
        table.create_index(list(columns), unique=True, if_not_exists=True)
