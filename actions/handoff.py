"""Hand the conversation to a human seat of the department responsible for the service."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import whole_number
from actions.services import Services
from kb.gaps import PLATFORM_DEPARTMENT
from kb.reply import Outcome, ReplyPayload


class ActionRequestHuman(Action):
    def __init__(self, services: Services) -> None:
        self.services = services

    def name(self) -> str:
        return "action_request_human"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        item_no = whole_number(tracker.get_slot("last_item_no"))
        item = self.services.kb.item(item_no) if item_no is not None else None
        dispatcher.utter_message(
            response="utter_handoff",
            department=item.department if item else PLATFORM_DEPARTMENT,
            json_message=ReplyPayload.of(Outcome.HANDOFF, item_no=item_no).as_dict(),
        )
        return [SlotSet("offered_human", False)]
