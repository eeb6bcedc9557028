"""How well misses are grouped into gap tasks, on a dev set of misses written for it: pairwise
precision and recall of the grouping (two misses in one task that ask the same thing, and two
that ask the same thing that share a task), and how much noise is kept out, at the chosen
threshold and around it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from kb.gaps import GapLog, Miss, MissReason
from kb.grouping import SAME_QUESTION, Grouper, service_guess
from kb.retrieval import Retriever
from kb.store import KnowledgeBase

SWEEP = (0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90)


@dataclass(frozen=True)
class GroupingScore:
    threshold: float
    precision: float
    recall: float
    tasks: int
    groups: int
    noise_kept_out: float  # of the lines that are no question, the share that opened nothing
    misses_dropped: float  # of the real misses, the share wrongly taken for noise


def load_misses(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def group(lines: list[dict], retriever: Retriever, threshold: float) -> list[int | None]:
    """The task each line was placed in (None: taken for noise), in a fresh base holding the
    services and the catalogue of the real one."""
    kb = KnowledgeBase()
    kb.upsert_items(retriever.kb.items().values())
    kb.upsert_other_services(retriever.kb.other_services())
    grouper = Grouper(kb, retriever.embedder, service_guess(retriever), threshold)
    log = GapLog(kb, grouper.place_pending)
    placed = []
    for number, line in enumerate(lines):
        question_id = log.record(Miss(line["text"], MissReason.FALLBACK,
                                      conversation_id=f"eval-{number}"))
        placed.append(None if question_id is None else
                      kb.db["gap_questions"].get(question_id)["task_id"])
    return placed


def score_grouping(lines: list[dict], placed: list[int | None], threshold: float
                   ) -> GroupingScore:
    truth = [line.get("group") if line.get("kind", "miss") == "miss" else None
             for line in lines]
    same_task = {(a, b) for a, b in combinations(range(len(lines)), 2)
                 if placed[a] is not None and placed[a] == placed[b]}
    same_group = {(a, b) for a, b in combinations(range(len(lines)), 2)
                  if truth[a] is not None and truth[a] == truth[b]}
    both = len(same_task & same_group)
    noise = [p for p, t in zip(placed, truth, strict=True) if t is None]
    misses = [p for p, t in zip(placed, truth, strict=True) if t is not None]
    return GroupingScore(
        threshold, both / len(same_task) if same_task else 1.0,
        both / len(same_group) if same_group else 1.0,
        len({p for p in placed if p is not None}), len({t for t in truth if t is not None}),
        sum(p is None for p in noise) / len(noise) if noise else 1.0,
        sum(p is None for p in misses) / len(misses) if misses else 0.0)


def run_grouping(retriever: Retriever, path: Path, sweep: bool = True) -> list[GroupingScore]:
    lines = load_misses(path)
    thresholds = sorted(set(SWEEP) | {SAME_QUESTION}) if sweep else [SAME_QUESTION]
    scores = [score_grouping(lines, group(lines, retriever, t), t) for t in thresholds]
    print(f"\ngrouping of misses: {len(lines)} lines from {path}")
    print("threshold  precision  recall  tasks/groups  noise kept out  misses dropped")
    for s in scores:
        mark = "  ← chosen" if s.threshold == SAME_QUESTION else ""
        print(f"{s.threshold:9.2f}  {s.precision:9.3f}  {s.recall:6.3f}  {s.tasks:5}/{s.groups:<6}"
              f"  {s.noise_kept_out:14.3f}  {s.misses_dropped:14.3f}{mark}")
    return scores

