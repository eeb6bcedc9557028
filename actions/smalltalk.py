"""Greetings and small talk, unless the message also carries a question (a letter that opens
"领导您好，……" and then asks about 拆迁 is a question): that goes to the answer action."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import ActionAnswerQuestion
from nlu.triage import carries_question


class ActionGreet(Action):
    response = "utter_greet"

    def __init__(self, answer: ActionAnswerQuestion) -> None:
        self.answer = answer

    def name(self) -> str:
        return "action_greet"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if carries_question(tracker.latest_message.get("text") or ""):
            return self.answer.run(dispatcher, tracker, domain)
        dispatcher.utter_message(response=self.response)
        return []


class ActionChitchat(ActionGreet):
    response = "utter_chitchat"

    def name(self) -> str:
        return "action_chitchat"
