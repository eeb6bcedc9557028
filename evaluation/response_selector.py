"""Baseline for `xiaoshen eval`: Rasa's own ResponseSelector trained on the knowledge base.

Every live entry becomes the retrieval intent `faq/<entry_id>` (its questions as examples,
its answer as `utter_faq/<entry_id>`), beside the non-service intents of `data/nlu/`. The
pipeline is config.yml's plus a ResponseSelector; `bot/response_selector_baseline.py` trains
it in the Rasa environment and parses the dev set once, and the selector's confidence
threshold is tuned here like the other baselines' thresholds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from evaluation.baselines import halves, pick
from evaluation.scoring import RETRIEVAL_CATEGORIES, Case, Prediction, Score, System, score
from kb.reply import Outcome
from kb.store import Entry
from nlu.normalize import normalize
from xiaoshen.settings import ROOT, Settings
from xiaoshen.stack import service_env
from xiaoshen.training import BUILD, step, write_nlu_examples

NAME = "Rasa ResponseSelector, tuned, held-out half"
RETRIEVAL_INTENT = "faq"
EPOCHS = 40  # training accuracy of the selector is ~98% by then; 100 epochs took 6-7 minutes
THRESHOLDS = tuple(i / 100 for i in range(100))
NEVER = 1.01  # a threshold no confidence reaches: nothing is answered
# What the stack replies to each intent Rasa may predict besides the retrieval intent
# (yes, no and ratings out of context get an acknowledgement); anything else is a fallback.
INTENT_OUTCOMES = {
    **dict.fromkeys(("greet", "thank", "goodbye", "chitchat", "bot_challenge", "affirm", "deny",
                     "rate_answer"), Outcome.CHITCHAT),
    "request_human": Outcome.HANDOFF, "out_of_scope_legal": Outcome.OUT_OF_SCOPE,
}


class BaselineFailed(Exception):
    """The Rasa environment is missing or training and parsing did not finish."""


@dataclass(frozen=True)
class Parse:
    intent: str
    confidence: float
    entry_id: str | None  # the selector's top entry
    entry_confidence: float


def selector_config(epochs: int) -> dict:
    """config.yml's NLU pipeline with a ResponseSelector before the fallback classifier."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    config.pop("policies", None)
    pipeline = config["pipeline"]
    names = [component["name"] for component in pipeline]
    at = names.index("FallbackClassifier") if "FallbackClassifier" in names else len(names)
    pipeline.insert(at, {"name": "ResponseSelector", "retrieval_intent": RETRIEVAL_INTENT,
                         "epochs": epochs, "constrain_similarities": True, "random_seed": 1})
    return config


def write_training_data(entries: Iterable[Entry], directory: Path, epochs: int) -> int:
    """Config, domain and training data for the baseline; returns the number of questions."""
    seen: set[str] = set()
    examples: dict[str, list[str]] = {}
    responses = {}
    for entry in entries:
        questions = [q for q in dict.fromkeys(map(normalize, entry.questions))
                     if q and q not in seen]
        seen.update(questions)
        if questions:
            examples[f"{RETRIEVAL_INTENT}/{entry.entry_id}"] = questions
            responses[f"utter_{RETRIEVAL_INTENT}/{entry.entry_id}"] = [{"text": entry.answer}]
    write_nlu_examples(examples, directory / "data" / "faq.yml", "xiaoshen/response_selector.py")
    intents = [RETRIEVAL_INTENT, *copy_non_service_data(directory / "data")]
    domain = {"version": "3.1", "intents": intents, "responses": responses}
    for name, document in (("config.yml", selector_config(epochs)), ("domain.yml", domain)):
        (directory / name).write_text(
            yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return len(seen)


def copy_non_service_data(out_dir: Path) -> list[str]:
    """data/nlu/*.yml without the `ask_service` examples; returns the intents kept."""
    intents = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        kept = [block for block in document.get("nlu", []) if block.get("intent") != "ask_service"]
        if kept:
            intents += [block["intent"] for block in kept if "intent" in block]
            (out_dir / path.name).write_text(
                yaml.safe_dump({**document, "nlu": kept}, allow_unicode=True, sort_keys=False),
                encoding="utf-8")
    return list(dict.fromkeys(intents))


def train_and_parse(settings: Settings, entries: list[Entry], texts: list[str],
                    epochs: int = EPOCHS) -> dict[str, Parse]:
    """Train the baseline in the Rasa environment and parse each text once."""
    rasa_python = settings.rasa_python
    if not shutil.which(rasa_python):
        raise BaselineFailed(f"no Rasa environment at {rasa_python}")
    BUILD.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="response-selector-", dir=BUILD) as tmp:
        directory = Path(tmp)
        count = write_training_data(entries, directory, epochs)
        step(f"training Rasa's ResponseSelector on {count} questions of {len(entries)} entries "
             f"({epochs} epochs), then parsing {len(texts)} texts")
        (directory / "texts.jsonl").write_text(
            "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
        started = time.monotonic()
        code = subprocess.call(
            [rasa_python, "-m", "bot.response_selector_baseline", str(directory),
             str(directory / "texts.jsonl"), str(directory / "parses.jsonl"),
             "--retrieval-intent", RETRIEVAL_INTENT],
            cwd=ROOT, env=service_env(settings), stdout=sys.stderr)
        if code != 0:
            raise BaselineFailed(f"training or parsing stopped with exit code {code}")
        print(f"    done in {time.monotonic() - started:.0f} s", flush=True)
        lines = (directory / "parses.jsonl").read_text(encoding="utf-8").splitlines()
    return {text: parse_from_json(json.loads(line))
            for text, line in zip(texts, lines, strict=True)}


def parse_from_json(row: dict) -> Parse:
    response = row.get("response") or ""
    prefix = f"{RETRIEVAL_INTENT}/"
    return Parse(row.get("intent") or "", row["confidence"],
                 response.removeprefix(prefix) if response.startswith(prefix) else None,
                 row["response_confidence"])


def selector_system(parses: dict[str, Parse], item_of: dict[str, int], threshold: float
                    ) -> System:
    """A parsed text as (outcome, item_no): a sure enough selector answers with its entry."""

    def predict(text: str) -> Prediction:
        parse = parses[text]
        if parse.intent != RETRIEVAL_INTENT:
            return INTENT_OUTCOMES.get(parse.intent, Outcome.FALLBACK), None
        if parse.entry_id in item_of and parse.entry_confidence >= threshold:
            return Outcome.ANSWERED, item_of[parse.entry_id]
        return Outcome.FALLBACK, None

    return predict


def tune_threshold(parses: dict[str, Parse], item_of: dict[str, int], cases: list[Case]
                   ) -> tuple[float, Score]:
    """The threshold tuned on every other retrieval line, scored on every other dev-set line
    (the held-out half and the intent-only categories, which the threshold cannot fit)."""
    tuning, held_out = halves(cases)
    best = pick(((t, selector_system(parses, item_of, t)) for t in THRESHOLDS), tuning, NEVER)
    unseen = held_out + [c for c in cases if c.category not in RETRIEVAL_CATEGORIES]
    return best, score(NAME, selector_system(parses, item_of, best), unseen)


def evaluate_response_selector(settings: Settings, entries: list[Entry], cases: list[Case]
                               ) -> Score | None:
    """The baseline's column, or None (said in one line) when it cannot be run."""
    try:
        parses = train_and_parse(settings, entries, [case.text for case in cases])
    except BaselineFailed as error:
        print(f"skipping the column “{NAME}”: {error}", flush=True)
        return None
    threshold, held = tune_threshold(parses, {e.entry_id: e.item_no for e in entries}, cases)
    print(f"    ResponseSelector threshold tuned on the other half: {threshold:.2f}")
    return held
