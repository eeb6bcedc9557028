"""`xiaoshen eval`: the stack on the dev set beside the baselines, as one table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from evaluation.baselines import GRID, retrieval_system, stack_system, tune
from evaluation.dialogues import run_dialogues
from evaluation.scoring import format_table, load_cases, score
from xiaoshen.app import open_kb, open_retriever
from xiaoshen.client import ask
from xiaoshen.settings import Settings


def run_tuning(settings: Settings, devset: Path) -> None:
    best, held = tune(open_retriever(settings), load_cases(devset))
    print(f"best on the tuning half: {best}")
    print(format_table([held]))


def run_evaluation(settings: Settings, devset: Path, baselines: bool,
                   dialogues: tuple[Path, Path] | None = None) -> None:
    cases = load_cases(devset)
    print(f"dev set: {len(cases)} queries from {devset}")
    ask("你好", settings.url("rasa"))  # the stack is up, before anything slow starts
    scores = [score("stack (Rasa + hybrid KB)", stack_system(settings.url("rasa")), cases,
                    workers=4)]
    if baselines:
        retriever = open_retriever(settings)
        scores.append(score("KB alone (classifier + hybrid)",
                            retrieval_system(retriever, retriever.thresholds), cases))
        # Each baseline gets thresholds tuned for it on one half and is scored on the other.
        variants = [("KB alone", True, GRID["dense_weight"]),
                    ("hybrid retrieval only", False, GRID["dense_weight"]),
                    ("BM25 only", False, (0.0,)), ("dense only", False, (1.0,))]
        for name, classifier, weights in variants:
            _, held = tune(retriever, cases, classifier, weights)
            scores.append(replace(held, name=f"{name}, tuned, held-out half"))
        from evaluation.response_selector import evaluate_response_selector

        selector = evaluate_response_selector(settings, retriever.kb.live_entries(), cases)
        if selector:
            scores.append(selector)
    print(format_table(scores))
    print("\nwrong confident answers of the stack:")
    for case, (_, item_no) in scores[0].wrong_confident:
        print(f"  [{case.category}] expected {case.item_no}, answered {item_no}: {case.text}")
    if dialogues:
        run_dialogues(settings.url("rasa"), *dialogues, open_kb(settings))
