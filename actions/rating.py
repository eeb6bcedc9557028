"""Record a 5-level satisfaction rating (好差评) of the last answer."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import ActionAnswerQuestion
from actions.context import Context, whole_number
from actions.services import Services
from kb.gaps import Miss, MissReason
from kb.ratings import LOW_RATING

_DIGIT = re.compile(r"[1-5](?=\s*[分星颗]|$)")
# Words checked most negative first: 不满意 contains 满意.
_WORDS = (("非常不满意", 1), ("很差", 1), ("差评", 1), ("不满意", 2), ("没用", 2),
          ("答非所问", 2), ("一般", 3), ("还行", 3), ("非常满意", 5), ("好评", 5),
          ("满意", 4), ("有帮助", 4), ("有用", 4))


def rating_from_text(text: str) -> int | None:
    """1 (very unhappy) … 5 (very happy), or None when the text gives no level."""
    digit = _DIGIT.search(text.strip())
    if digit:
        return int(digit.group())
    return next((level for word, level in _WORDS if word in text), None)


class ActionRecordRating(Action):
    """Also the first to hear a bare "1" after a clarifying question: that is a choice."""

    def __init__(self, services: Services, answer: ActionAnswerQuestion) -> None:
        self.services = services
        self.answer = answer

    def name(self) -> str:
        return "action_record_rating"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if Context.of(tracker).pending:
            return self.answer.run(dispatcher, tracker, domain)
        level = rating_from_text(tracker.latest_message.get("text") or "")
        if level is not None:
            self.services.ratings.record(tracker.sender_id, level,
                                         whole_number(tracker.get_slot("last_item_no")))
            turn = self.services.turns.last_answered(tracker.sender_id)
            if level <= LOW_RATING and turn:
                self.services.gaps.record(Miss(turn["text"], MissReason.LOW_RATING,
                                               turn["item_no"], conversation_id=tracker.sender_id))
        dispatcher.utter_message(response="utter_rating_thanks")
        return []
