"""`xiaoshen eval`: score the running stack on the dev set beside retrieval-only baselines.

A dev-set line has `text`, `category` and, for in-scope questions, the expected `item_no`.
Each system maps a text to (outcome, item_no); the same scoring applies to all of them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache
from itertools import product
from pathlib import Path
from typing import TypeVar

from kb.retrieval import Evidence, Retriever, Thresholds, guesses_from_ranking
from xiaoshen.client import ask

Prediction = tuple[str, int | None]
System = Callable[[str], Prediction]
T = TypeVar("T")

# What counts as a success for each category.
SUCCESS: dict[str, Callable[[Prediction, int | None], bool]] = {
    "in_scope": lambda p, item: p == ("answered", item),
    "ambiguous": lambda p, _: p[0] != "answered",
    "not_covered": lambda p, _: p[0] != "answered",
    "noise": lambda p, _: p[0] != "answered",
    "out_of_scope": lambda p, _: p[0] == "out_of_scope",
    "human": lambda p, _: p[0] == "handoff",
    "greeting": lambda p, _: p[0] == "chitchat",
}


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
        if prediction[0] == "answered" and prediction[1] != case.item_no:
            wrong.append((case, prediction))
    return Score(name, {k: (v[0], v[1]) for k, v in per_category.items()}, wrong, len(cases))


RETRIEVAL_CATEGORIES = ("in_scope", "ambiguous", "not_covered", "noise")


def stack_system(text: str) -> Prediction:
    reply = ask(text)
    return reply.outcome, reply.item_no


def retrieval_system(
    retriever: Retriever,
    thresholds: Thresholds,
    evidence_of: Callable[[str], Evidence] | None = None,
    classifier: bool = True,
) -> System:
    """Retrieval and decision alone, without Rasa (its intents are out of reach).

    Without the classifier, the services' best fused scores stand in for its guesses.
    """
    evidence_of = evidence_of or retriever.evidence

    def predict(text: str) -> Prediction:
        evidence = evidence_of(text)
        if not classifier:
            evidence = Evidence(evidence.hits, guesses_from_ranking(
                retriever.rank(evidence.hits, thresholds)))
        result = retriever.judge(evidence, thresholds)
        return result.outcome, result.item_no

    return predict


GRID = {
    "dense_weight": (0.4, 0.5, 0.6),
    "support": (0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
    "margin": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    "retrieval_lead": (-1.0, 0.0, 0.03, 0.05, 0.08),
    "sure": (0.7, 0.8, 0.9, 1.01),
}


def halves(cases: list[Case]) -> tuple[list[Case], list[Case]]:
    """The retrieval lines split into a tuning half (every other line) and a held-out half."""
    retrieval_cases = [c for c in cases if c.category in RETRIEVAL_CATEGORIES]
    return retrieval_cases[::2], retrieval_cases[1::2]


def objective(result: Score) -> float:
    """Right answers minus four times wrong confident answers; minus infinity unless at least
    90% of questions about services the base lacks stay unanswered."""
    if (result.rate("not_covered") or 1.0) < 0.9:
        return float("-inf")
    return result.per_category.get("in_scope", (0, 0))[0] - 4 * len(result.wrong_confident)


def pick(candidates: Iterable[tuple[T, System]], tuning: list[Case], default: T) -> T:
    """The candidate whose system scores best on `tuning`; `default` when none qualifies."""
    best, best_value = default, float("-inf")
    for candidate, system in candidates:
        value = objective(score("tuning", system, tuning))
        if value > best_value:
            best, best_value = candidate, value
    return best


def tune(retriever: Retriever, cases: list[Case], classifier: bool = True,
         dense_weights: tuple[float, ...] = GRID["dense_weight"]) -> tuple[Thresholds, Score]:
    """Grid-search the thresholds on every other dev-set line; score them on the rest."""
    tuning, held_out = halves(cases)
    evidence_of = cache(retriever.evidence)  # retrieval once per text; only the decision varies
    grid = {**GRID, "dense_weight": dense_weights}
    grid_thresholds = (replace(retriever.thresholds, **dict(zip(grid, values, strict=True)))
                       for values in product(*grid.values()))
    best = pick(((t, retrieval_system(retriever, t, evidence_of, classifier))
                 for t in grid_thresholds), tuning, retriever.thresholds)
    held = score("held-out", retrieval_system(retriever, best, evidence_of, classifier), held_out)
    return best, held


def format_table(scores: Iterable[Score]) -> str:
    scores = list(scores)
    categories = ["in_scope", "ambiguous", "not_covered", "noise", "out_of_scope", "human",
                  "greeting"]
    lines = ["| metric | " + " | ".join(s.name for s in scores) + " |",
             "|---|" + "---|" * len(scores)]
    for category in categories:
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


def run_tuning(devset: Path) -> None:
    from xiaoshen.app import open_retriever

    best, held = tune(open_retriever(), load_cases(devset))
    print(f"best on the tuning half: {best}")
    print(format_table([held]))


def run_evaluation(devset: Path, baselines: bool) -> None:
    from xiaoshen.app import open_retriever

    cases = load_cases(devset)
    print(f"dev set: {len(cases)} queries from {devset}")
    scores = [score("stack (Rasa + hybrid KB)", stack_system, cases, workers=4)]
    if baselines:
        retriever = open_retriever()
        scores.append(score("KB alone (classifier + hybrid)",
                            retrieval_system(retriever, retriever.thresholds), cases))
        # Each baseline gets thresholds tuned for it on one half and is scored on the other.
        variants = [("KB alone", True, GRID["dense_weight"]),
                    ("hybrid retrieval only", False, GRID["dense_weight"]),
                    ("BM25 only", False, (0.0,)), ("dense only", False, (1.0,))]
        for name, classifier, weights in variants:
            _, held = tune(retriever, cases, classifier, weights)
            scores.append(replace(held, name=f"{name}, tuned, held-out half"))
        from xiaoshen.response_selector import evaluate_response_selector

        selector = evaluate_response_selector(retriever.kb.live_entries(), cases)
        if selector:
            scores.append(selector)
    print(format_table(scores))
    print("\nwrong confident answers of the stack:")
    for case, (_, item_no) in scores[0].wrong_confident:
        print(f"  [{case.category}] expected {case.item_no}, answered {item_no}: {case.text}")
