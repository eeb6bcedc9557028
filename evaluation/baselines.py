"""Systems to score besides the stack: the knowledge base alone, retrieval without the
classifier, BM25 only, dense only; each with thresholds tuned on one half of the dev set."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cache
from itertools import product
from typing import TypeVar

import numpy as np

from evaluation.scoring import RETRIEVAL_CATEGORIES, Case, Prediction, Score, System, score
from kb.classifier import ServiceGuess
from kb.decision import Candidate, Evidence, Thresholds, best_per_service
from kb.retrieval import Retriever
from xiaoshen.client import ask

T = TypeVar("T")

GRID = {
    "dense_weight": (0.4, 0.5, 0.6),
    "support": (0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
    "margin": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    "retrieval_lead": (-1.0, 0.0, 0.03, 0.05, 0.08),
    "sure": (0.7, 0.8, 0.9, 1.01),
}


def stack_system(rasa_url: str) -> System:
    def predict(text: str) -> Prediction:
        reply = ask(text, rasa_url)
        return reply.outcome, reply.item_no

    return predict


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
                retriever.rank(evidence, thresholds)))
        result = retriever.judge(evidence, thresholds)
        return result.outcome, result.item_no

    return predict


def guesses_from_ranking(ranked: list[Candidate], temperature: float = 10.0) -> list[ServiceGuess]:
    """Service guesses from retrieval alone: a softmax over each service's best fused score
    (to compare retrieval without the classifier under the same decision rule)."""
    best = best_per_service(ranked)
    if not best:
        return []
    scores = np.array([c.score for c in best.values()]) * temperature
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    return [ServiceGuess(item_no, c.title, float(w))
            for (item_no, c), w in zip(best.items(), weights, strict=True)]


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
