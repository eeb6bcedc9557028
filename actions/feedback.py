"""已解决 / 没解决 after an answer: recorded on the answered turn; 没解决 offers a human seat."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import HUMAN_BUTTON
from actions.services import Services
from kb.gaps import Miss, MissReason


class ActionRecordFeedback(Action):
    def __init__(self, services: Services) -> None:
        self.services = services

    def name(self) -> str:
        return "action_record_feedback"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        resolved = tracker.latest_message.get("intent", {}).get("name") == "feedback_resolved"
        turn = self.services.turns.give_feedback(tracker.sender_id, resolved)
        if turn and not resolved:
            self.services.gaps.record(Miss(turn["text"], MissReason.UNRESOLVED, turn["item_no"],
                                           conversation_id=tracker.sender_id))
        if resolved:
            dispatcher.utter_message(response="utter_feedback_thanks")
            return []
        dispatcher.utter_message(response="utter_feedback_unresolved", buttons=[HUMAN_BUTTON])
        return [SlotSet("offered_human", True)]
