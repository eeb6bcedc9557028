"""Hand the conversation to a human seat of the department responsible for the service."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.payload import outcome_payload
from kb.gaps import PLATFORM_DEPARTMENT
from xiaoshen.app import shared_retriever


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        item_no = _int_or_none(tracker.get_slot("last_item_no"))
        item = shared_retriever().kb.item(item_no) if item_no is not None else None
        dispatcher.utter_message(
            response="utter_handoff",
            department=item.department if item else PLATFORM_DEPARTMENT,
            json_message=outcome_payload("handoff", item_no=item_no),
        )
        return [SlotSet("offered_human", False)]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
