"""Tracker, dispatcher and domain fixtures for calling actions directly (as Rasa's examples
test theirs), over the real retriever and a real SQLite base."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.services import Services
from xiaoshen.settings import ROOT


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def services(seed_retriever) -> Services:
    return Services.over(seed_retriever)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def tracker(request) -> Callable[..., Tracker]:
    """tracker(text, intent=…, slots=…, entities=…): a tracker whose latest message is `text`
    in a conversation of its own."""

    def make(text: str, intent: str = "ask_service", slots: dict | None = None,
             entities: list[dict] | None = None) -> Tracker:
        return Tracker(
            sender_id=f"test-{request.node.name}",
            slots=slots or {},
            latest_message={"text": text, "intent": {"name": intent, "confidence": 1.0},
                            "entities": entities or []},
            events=[], paused=False, followup_action=None, active_loop={},
            latest_action_name="action_listen",
        )

    return make
