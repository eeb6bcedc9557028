"""Dev-set cases and their scoring, the same for the stack and every baseline.

A dev-set line has `text`, `category` and, for in-scope questions, the expected `item_no`.
Each system maps a text to (outcome, item_no); the same scoring applies to all of them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kb.reply import Outcome

Prediction = tuple[Outcome, int | None]
System = Callable[[str], Prediction]

# What counts as a success for each category.
SUCCESS: dict[str, Callable[[Prediction, int | None], bool]] = {
    "in_scope": lambda p, item: p == (Outcome.ANSWERED, item),
    "ambiguous": lambda p, _: p[0] != Outcome.ANSWERED,
    "not_covered": lambda p, _: p[0] != Outcome.ANSWERED,
    "noise": lambda p, _: p[0] != Outcome.ANSWERED,
    "out_of_scope": lambda p, _: p[0] == Outcome.OUT_OF_SCOPE,
    "human": lambda p, _: p[0] == Outcome.HANDOFF,
    "greeting": lambda p, _: p[0] == Outcome.CHITCHAT,
}
CATEGORIES = tuple(SUCCESS)
RETRIEVAL_CATEGORIES = ("in_scope", "ambiguous", "not_covered", "noise")


@dataclass(frozen=True)
class Case:
    text: str
    category: str
    item_no: int | None


@dataclass
class Score:
    name: str
    per_category: dict[str, tuple[int, int]]  # category → (successes, total)
    wrong_confident: list[tuple[Case, Prediction]]
    total: int

    def rate(self, category: str) -> float | None:
        good, total = self.per_category.get(category, (0, 0))
        return good / total if total else None

    @property
    def wrong_confident_rate(self) -> float:
        return len(self.wrong_confident) / self.total if self.total else 0.0


def load_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(Case(row["text"], row["category"], row.get("item_no")))
    return cases


def score(name: str, system: System, cases: list[Case], workers: int = 1) -> Score:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        predictions = list(pool.map(lambda case: system(case.text), cases))
    per_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[tuple[Case, Prediction]] = []
    for case, prediction in zip(cases, predictions, strict=True):
        tally = per_category[case.category]
        tally[0] += SUCCESS[case.category](prediction, case.item_no)
        tally[1] += 1
        if prediction[0] == Outcome.ANSWERED and prediction[1] != case.item_no:
            wrong.append((case, prediction))
    return Score(name, {k: (v[0], v[1]) for k, v in per_category.items()}, wrong, len(cases))


def format_table(scores: Iterable[Score]) -> str:
    scores = list(scores)
    lines = ["| metric | " + " | ".join(s.name for s in scores) + " |",
             "|---|" + "---|" * len(scores)]
    for category in CATEGORIES:
        cells = []
        for s in scores:
            rate = s.rate(category)
            good, total = s.per_category.get(category, (0, 0))
            cells.append("—" if rate is None else f"{rate:.1%} ({good}/{total})")
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    lines.append("| wrong confident answers (all queries) | "
                 + " | ".join(f"{s.wrong_confident_rate:.1%} ({len(s.wrong_confident)})"
                              for s in scores) + " |")
    return "\n".join(lines)


