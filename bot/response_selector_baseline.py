"""`python -m bot.response_selector_baseline DIR TEXTS OUT`: Rasa's ResponseSelector baseline.

Runs in the Rasa environment (Python 3.10) for `xiaoshen eval`. Trains an NLU-only model from
DIR (`config.yml`, `domain.yml`, training data in `data/`), then parses every text of TEXTS
(one JSON string per line) and writes one JSON line per text to OUT: the predicted intent and
its confidence, and the ResponseSelector's top retrieval intent (e.g. `faq/03-materials`) and
its confidence.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any


def log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def quiet_rasa() -> None:
    """Warnings and errors only: Rasa would otherwise log every parsed text at debug level."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def train(directory: Path) -> str:
    from rasa.model_training import train_nlu

    model = train_nlu(str(directory / "config.yml"), str(directory / "data"),
                      str(directory / "models"), domain=str(directory / "domain.yml"))
    if not model:
        raise SystemExit("Error: Rasa trained no model")
    return model


def summary(parse: dict[str, Any], retrieval_intent: str) -> dict[str, Any]:
    intent = parse.get("intent") or {}
    selected = parse.get("response_selector", {}).get(retrieval_intent, {}).get("response", {})
    return {
        "intent": intent.get("name"),
        "confidence": float(intent.get("confidence") or 0.0),
        "response": selected.get("intent_response_key"),
        "response_confidence": float(selected.get("confidence") or 0.0),
    }


async def parse_all(model: str, texts: list[str], retrieval_intent: str) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    results = []
    for done, text in enumerate(texts, 1):
        results.append(summary(await agent.parse_message(text), retrieval_intent))
        if done % 100 == 0 or done == len(texts):
            log(f"parsed {done}/{len(texts)} texts")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("texts", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--retrieval-intent", default="faq")
    args = parser.parse_args()
    texts = [json.loads(line) for line in args.texts.read_text(encoding="utf-8").splitlines()]
    quiet_rasa()
    started = time.monotonic()
    model = train(args.directory)
    log(f"trained in {time.monotonic() - started:.0f} s")
    results = asyncio.run(parse_all(model, texts, args.retrieval_intent))
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results),
                        encoding="utf-8")


if __name__ == "__main__":
    main()
