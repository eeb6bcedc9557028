"""Multi-turn conversations and real citizen letters, scored through the running stack.

A conversation line: {"id", "turns": [{"text", "kind", "expect", "item_no", "topic",
"tap_item_no"?}]}; a turn with `tap_item_no` taps that service's clarifying button (or, every
other time, types its number). A letter line: {"text", "category", "expect", "item_no"}.
The baseline sends every turn as a conversation of its own: context switched off.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kb.reply import Outcome
from kb.store import KnowledgeBase
from xiaoshen.client import ChatClient, Reply

MAIN_TOPICS = ("conditions", "materials", "steps", "time_limit", "fees", "location")
OTHER_TOPIC = "other"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def topic_of(entry_topic: str | None) -> str | None:
    """Entries carry finer topics (faq, login, …): all of them count as "other"."""
    if entry_topic is None:
        return None
    return entry_topic if entry_topic in MAIN_TOPICS else OTHER_TOPIC


@dataclass
class Tally:
    """Successes out of totals, per key."""

    good: Counter = field(default_factory=Counter)
    total: Counter = field(default_factory=Counter)

    def add(self, key: str, success: bool) -> None:
        self.total[key] += 1
        self.good[key] += bool(success)

    def cell(self, key: str) -> str:
        total = self.total[key]
        return f"{self.good[key] / total:.1%} ({self.good[key]}/{total})" if total else "—"


def tap_text(reply: Reply, item_no: int, typed: bool, names: dict[int, str]) -> str:
    """What a person sends to pick `item_no`: its button (tapped, or its number typed), or,
    when the bot offered no such button, the service's name."""
    for number, button in enumerate(reply.buttons, start=1):
        if f'"item_no": "{item_no}"' in button["payload"]:
            return str(number) if typed else button["payload"]
    return names[item_no]


def run_conversation(rasa_url: str, turns: list[dict], context: bool, names: dict[int, str]
                     ) -> list[tuple[Outcome, int | None, str | None]]:
    """(outcome, item_no, entry_id) per turn; without context each turn starts afresh."""
    client = ChatClient(rasa_url)
    results: list[tuple[Outcome, int | None, str | None]] = []
    previous = Reply()
    try:
        for number, turn in enumerate(turns):
            if not context:
                client.new_conversation()
            text = turn["text"]
            if turn.get("tap_item_no") is not None:
                text = tap_text(previous, turn["tap_item_no"], number % 2 == 1, names)
            previous = client.send(text)
            results.append((previous.outcome, previous.item_no, previous.payload.entry_id))
    finally:
        client.close()
    return results


def turn_success(turn: dict, outcome: Outcome, item_no: int | None,
                 topic: str | None) -> tuple[bool, bool]:
    """(right service, right service and topic) for one turn."""
    if turn["expect"] != Outcome.ANSWERED:
        right = outcome == turn["expect"]
        return right, right
    service = outcome == Outcome.ANSWERED and item_no == turn["item_no"]
    return service, service and topic == turn["topic"]


def score_conversations(rasa_url: str, conversations: list[dict], kb: KnowledgeBase,
                        context: bool, workers: int = 4) -> tuple[Tally, Tally]:
    """(service, service and topic) tallies of the follow-up turns, by kind and overall."""
    names = {item_no: item.name for item_no, item in kb.items().items()}
    topics = {entry.entry_id: entry.topic for entry in kb.entries()}

    def one(conversation: dict) -> list:
        return run_conversation(rasa_url, conversation["turns"], context, names)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, conversations))
    service, both = Tally(), Tally()
    for conversation, results in zip(conversations, outcomes, strict=True):
        for turn, (outcome, item_no, entry_id) in zip(conversation["turns"], results,
                                                      strict=True):
            if turn["kind"] == "first":
                continue
            right_service, right_both = turn_success(turn, outcome, item_no,
                                                     topic_of(topics.get(entry_id or "")))
            for key in (turn["kind"], "all follow-ups"):
                service.add(key, right_service)
                both.add(key, right_both)
    return service, both


def score_letters(ask: Callable[[str], Reply], letters: list[dict], workers: int = 4) -> Tally:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        replies = list(pool.map(lambda letter: ask(letter["text"]), letters))
    tally = Tally()
    for letter, reply in zip(letters, replies, strict=True):
        category = letter["category"]
        if category == "complaint":
            tally.add("complaints recognised (out of scope)", reply.outcome == Outcome.OUT_OF_SCOPE)
        elif category == "not_covered":
            tally.add("uncovered matters not answered", reply.outcome != Outcome.ANSWERED)
            tally.add("uncovered matters given clarifying buttons",
                      reply.outcome == Outcome.CLARIFY)
        else:
            tally.add("questions answered with the right service",
                      (reply.outcome, reply.item_no) == (Outcome.ANSWERED, letter["item_no"]))
        if category != "complaint":
            tally.add("real questions answered as small talk", reply.outcome == Outcome.CHITCHAT)
    return tally


def format_tallies(title: str, columns: dict[str, Tally], keys: Iterable[str]) -> str:
    lines = [f"| {title} | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {key} | " + " | ".join(t.cell(key) for t in columns.values()) + " |"
              for key in keys]
    return "\n".join(lines)


def run_dialogues(rasa_url: str, conversations_path: Path, letters_path: Path,
                  kb: KnowledgeBase) -> None:
    conversations = read_jsonl(conversations_path)
    with_context = score_conversations(rasa_url, conversations, kb, context=True)
    without = score_conversations(rasa_url, conversations, kb, context=False)
    kinds = ["all follow-ups", *sorted({t["kind"] for c in conversations for t in c["turns"]}
                                       - {"first"})]
    print(f"\nfollow-up turns: {with_context[0].total['all follow-ups']} in "
          f"{len(conversations)} conversations from {conversations_path}")
    print(format_tallies("follow-up turns", {
        "service, with context": with_context[0], "service and topic, with context":
        with_context[1], "service, context off": without[0],
        "service and topic, context off": without[1]}, kinds))
    letters = read_jsonl(letters_path)

    def ask_fresh(text: str) -> Reply:
        client = ChatClient(rasa_url)
        try:
            return client.send(text)
        finally:
            client.close()

    tally = score_letters(ask_fresh, letters)
    print(f"\ncitizen letters: {len(letters)} from {letters_path}")
    print(format_tallies("citizen letters", {"stack": tally}, list(tally.total)))
