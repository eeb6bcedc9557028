"""The aspect asked (conditions, materials, steps, time limit, fees, location), scored through
the running stack on eval/aspects: a dev and a held-out set of first-turn questions and
two-turn follow-ups, written without sight of the knowledge base.

A question line: {"text", "item_no", "aspects": [asked, in order], "style"}. A follow-up line:
{"turns": [question line, …]}; its later turns are scored, in context.

An asked aspect counts as answered when the reply is about the right service and uses that
aspect's entry, or says plainly that the service lacks it (`missing`) when it truly does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.dialogues import MAIN_TOPICS, Tally, format_tallies, read_jsonl, topic_of
from kb.reply import Outcome
from kb.store import KnowledgeBase
from xiaoshen.client import ChatClient, Reply

MISSING = "missing"  # said plainly that the service lacks it
FOLLOW_UPS = "followups"
METRICS = ("right service", "wrong confident answers", "aspect asked answered",
           "single-aspect questions answered", "multi-aspect all answered")


@dataclass
class AspectScore:
    """One set's tallies and its confusion table (asked × answered)."""

    tally: Tally = field(default_factory=Tally)
    confusion: Counter = field(default_factory=Counter)


def answered_topics(reply: Reply, topics: dict[str, str | None]) -> list[str]:
    """The aspects a reply answered, in its order, "missing" for each it says is lacking."""
    payload = reply.payload
    if payload.outcome != Outcome.ANSWERED:
        return []
    ids = payload.entry_ids or ([payload.entry_id] if payload.entry_id else [])
    answered = [topic_of(topics.get(entry_id)) or "other" for entry_id in ids]
    return answered[: len(answered) - len(payload.missing)] if payload.missing else answered


def judge(row: dict, reply: Reply, topics: dict[str, str | None],
          lacking: set[tuple[int, str]], score: AspectScore) -> None:
    """Add one question's reply to `score`."""
    right = reply.outcome == Outcome.ANSWERED and reply.item_no == row["item_no"]
    score.tally.add("right service", right)
    score.tally.add("wrong confident answers",
                    reply.outcome == Outcome.ANSWERED and reply.item_no != row["item_no"])
    answered = answered_topics(reply, topics) if right else []
    missing = set(reply.payload.missing) if right else set()
    fallback = answered[0] if answered else (reply.outcome.value if not right or
                                              reply.outcome != Outcome.ANSWERED else MISSING)
    every = True
    for aspect in row["aspects"]:
        said_missing = aspect in missing and (row["item_no"], aspect) in lacking
        good = aspect in answered or said_missing
        every &= good
        score.tally.add("aspect asked answered", good)
        if reply.outcome == Outcome.ANSWERED and not right:
            got = "wrong service"
        else:
            got = aspect if aspect in answered else MISSING if said_missing else fallback
        score.confusion[aspect, got] += 1
    key = "single-aspect questions answered" if len(row["aspects"]) == 1 else \
        "multi-aspect all answered"
    score.tally.add(key, every)


def converse(rasa_url: str, turns: list[dict]) -> list[Reply]:
    client = ChatClient(rasa_url)
    try:
        return [client.send(turn["text"]) for turn in turns]
    finally:
        client.close()


def score_set(rasa_url: str, dialogues: list[list[dict]], kb: KnowledgeBase,
              first_turns: bool, workers: int = 4) -> AspectScore:
    """Scores the first turns (`first_turns`) or the later ones of each dialogue."""
    topics = {entry.entry_id: entry.topic for entry in kb.entries()}
    present = {(entry.item_no, entry.topic) for entry in kb.live_entries()}
    lacking = {(item_no, aspect) for item_no in kb.items() for aspect in MAIN_TOPICS
               if (item_no, aspect) not in present}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        replies = list(pool.map(lambda turns: converse(rasa_url, turns), dialogues))
    score = AspectScore()
    for turns, answers in zip(dialogues, replies, strict=True):
        pairs = list(zip(turns, answers, strict=True))
        for row, reply in pairs[:1] if first_turns else pairs[1:]:
            judge(row, reply, topics, lacking, score)
    return score


def format_confusion(title: str, confusion: Counter) -> str:
    columns = [*MAIN_TOPICS, "other", MISSING, *sorted(
        {got for _, got in confusion} - {*MAIN_TOPICS, "other", MISSING})]
    lines = [f"| {title}: asked ↓ answered → | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for asked in MAIN_TOPICS:
        lines.append(f"| {asked} | " + " | ".join(str(confusion[asked, got] or "·")
                                                  for got in columns) + " |")
    return "\n".join(lines)


def first_turn_sets(folder: Path) -> list[str]:
    """The sets of first-turn questions in `folder`: every .jsonl but the follow-ups, the dev
    set first (later sets are held out, the newest blind ones last by name)."""
    names = sorted(path.stem for path in folder.glob("*.jsonl") if path.stem != FOLLOW_UPS)
    return sorted(names, key=lambda name: name != "devset")


def run_aspects(rasa_url: str, folder: Path, kb: KnowledgeBase,
                sets: Iterable[str] | None = None, show: Callable[[str], None] = print) -> None:
    scores = {}
    for name in first_turn_sets(folder) if sets is None else sets:
        rows = read_jsonl(folder / f"{name}.jsonl")
        scores[name] = score_set(rasa_url, [[row] for row in rows], kb, first_turns=True)
        show(f"\naspects, {name}: {len(rows)} first-turn questions from {folder / name}.jsonl")
    followups = read_jsonl(folder / f"{FOLLOW_UPS}.jsonl")
    scores["follow-ups"] = score_set(rasa_url, [d["turns"] for d in followups], kb,
                                     first_turns=False)
    show(f"aspects, follow-ups: {sum(len(d['turns']) - 1 for d in followups)} later turns of "
         f"{len(followups)} dialogues from {folder / FOLLOW_UPS}.jsonl")
    show(format_tallies("aspects", {name: s.tally for name, s in scores.items()}, METRICS))
    for name, s in scores.items():
        show("\n" + format_confusion(name, s.confusion))
