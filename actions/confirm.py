"""Yes and no: after a fallback offered a human seat, "好的" means "hand me over"."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionRequestHuman
from actions.services import Services


class ActionAffirm(Action):
    def __init__(self, services: Services) -> None:
        self.hand_over = ActionRequestHuman(services)

    def name(self) -> str:
        return "action_affirm"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("offered_human"):
            return self.hand_over.run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_acknowledge")
        return []


class ActionDeny(Action):
    def name(self) -> str:
        return "action_deny"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        offered = tracker.get_slot("offered_human")
        dispatcher.utter_message(response="utter_deny_human" if offered else "utter_acknowledge")
        return [SlotSet("offered_human", False)]
