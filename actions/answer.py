"""Answer a service question from the knowledge base (in the light of the conversation's
context), ask which service is meant, or admit not knowing (offering a human seat and
opening a knowledge-gap task)."""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import Context, Follower, whole_number
from actions.services import Services
from kb.decision import Decision
from kb.gaps import Miss, MissReason
from kb.reply import Outcome, ReplyPayload
from nlu.legal import is_legal_matter
from nlu.normalize import normalize
from nlu.privacy import mask_personal_data
from nlu.topics import TOPIC_NAMES, detect_topics

log = logging.getLogger(__name__)

HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
FEEDBACK_BUTTONS = [{"title": "已解决", "payload": "/feedback_resolved"},
                    {"title": "没解决", "payload": "/feedback_unresolved"}]
MAX_PENDING_CHARS = 500


class ActionAnswerQuestion(Action):
    def __init__(self, services: Services) -> None:
        self.services = services
        self.follower = Follower(services.retriever)

    def name(self) -> str:
        return "action_answer_question"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        context = Context.of(tracker)
        chosen = chosen_item(tracker)
        if chosen is not None and context.pending:  # a tapped button
            question = context.pending
            decision = self.follower.within(chosen, detect_topics(question), question)
        else:
            question = tracker.latest_message.get("text") or ""
            if not normalize(question):
                dispatcher.utter_message(
                    response="utter_empty_message",
                    json_message=ReplyPayload.of(Outcome.FALLBACK).as_dict())
                return []
            decision = decide_question(self.follower, question, context)
        log.info("%s → %s %.3f", mask_personal_data(question)[:80], decision.outcome,
                 decision.score)
        entry = decision.entry
        self.services.turns.record(tracker.sender_id, question, decision.outcome,
                                   entry.item_no if entry else None,
                                   entry.entry_id if entry else None,
                                   entry.topic if entry else None)
        if decision.outcome == Outcome.OUT_OF_SCOPE:
            dispatcher.utter_message(response="utter_out_of_scope_legal")
            return [SlotSet("pending_question", None), SlotSet("offered_items", None)]
        if decision.outcome == Outcome.ANSWERED:
            if decision.missing:
                self._admit_missing(dispatcher, decision, question, tracker.sender_id)
            return self._answer(dispatcher, decision, question)
        if decision.outcome == Outcome.CLARIFY:
            return self._clarify(dispatcher, decision, question)
        return self._fall_back(dispatcher, decision, question, tracker.sender_id)

    @staticmethod
    def _answer(dispatcher: CollectingDispatcher, decision: Decision, question: str
                ) -> list[EventType]:
        entry = decision.entry
        assert entry is not None
        dispatcher.utter_message(text=answer_text(decision), buttons=FEEDBACK_BUTTONS,
                                 json_message=reply_payload(decision).as_dict())
        asked = detect_topics(question)
        return [SlotSet("last_item_no", str(entry.item_no)),
                # The topic asked about, which a sibling follow-up carries over.
                SlotSet("last_topic", asked[0] if asked else entry.topic or None),
                SlotSet("pending_question", None),
                SlotSet("offered_items", None), SlotSet("offered_human", False),
                SlotSet("item_no", None)]

    def _admit_missing(self, dispatcher: CollectingDispatcher, decision: Decision,
                       question: str, sender_id: str) -> None:
        """Say plainly which aspects asked the base lacks for the service, and record them
        as a miss of that service, named in the miss (and so in its gap task's title)."""
        assert decision.entry is not None
        names = "、".join(TOPIC_NAMES.get(topic, topic) for topic in decision.missing)
        dispatcher.utter_message(response="utter_aspect_missing", aspects=names,
                                 buttons=[HUMAN_BUTTON])
        self.services.gaps.record(Miss(
            f"【待补充：{names}】{question}", MissReason.MISSING_ASPECT,
            item_no=decision.entry.item_no, conversation_id=sender_id))

    def _clarify(
        self, dispatcher: CollectingDispatcher, decision: Decision, question: str
    ) -> list[EventType]:
        items = self.services.retriever.items()
        buttons = [
            {"title": items[c.item_no].name,
             "payload": "/choose_service" + json.dumps({"item_no": str(c.item_no)})}
            for c in decision.candidates
        ]
        payload = ReplyPayload.of(Outcome.CLARIFY, score=decision.score,
                                  candidates=decision.candidates)
        human = {**HUMAN_BUTTON, "title": "都不是，转人工"} if buttons else HUMAN_BUTTON
        dispatcher.utter_message(response="utter_clarify" if buttons else "utter_ask_service",
                                 buttons=[*buttons, human], json_message=payload.as_dict())
        offered = ",".join(str(c.item_no) for c in decision.candidates)
        return [SlotSet("pending_question", question[:MAX_PENDING_CHARS]),
                SlotSet("offered_items", offered), SlotSet("item_no", None)]

    def _fall_back(
        self, dispatcher: CollectingDispatcher, decision: Decision, question: str,
        sender_id: str,
    ) -> list[EventType]:
        kb = self.services.kb
        other = kb.other_service(decision.other_service) if decision.other_service else None
        # A service the base lacks goes to its department; anything else where the grouper
        # guesses it belongs.
        self.services.gaps.record(Miss(
            question, MissReason.NOT_COVERED if other else MissReason.FALLBACK,
            department=other.department if other else None, conversation_id=sender_id))
        template = {"response": "utter_not_covered", "service": other.name,
                    "department": other.department} if other else {"response": "utter_fallback"}
        payload = ReplyPayload.of(Outcome.FALLBACK, score=decision.score)
        dispatcher.utter_message(**template, buttons=[HUMAN_BUTTON],
                                 json_message=payload.as_dict())
        return [SlotSet("offered_human", True), SlotSet("pending_question", None),
                SlotSet("offered_items", None), SlotSet("item_no", None)]


def answer_text(decision: Decision) -> str:
    """The official wording of each entry used; under its topic's heading when the answer
    is more than the one entry asked for."""
    entries = decision.used
    if len(entries) == 1 and not decision.missing:
        return entries[0].answer
    return "\n\n".join(f"【{TOPIC_NAMES.get(e.topic, '常见问题')}】\n{e.answer}" for e in entries)


def reply_payload(decision: Decision) -> ReplyPayload:
    """The payload of an answer: its service, every entry used (the first as entry_id) and
    the aspects asked that the service lacks."""
    entry = decision.entry
    assert entry is not None
    return ReplyPayload.of(Outcome.ANSWERED, entry.item_no, entry.entry_id, decision.score,
                           decision.candidates, entry.topic or None,
                           [e.entry_id for e in decision.used], decision.missing)


def decide_question(follower: Follower, question: str, context: Context) -> Decision:
    """The decision on a typed question (the hit test asks it too, of a draft's snapshot)."""
    if is_legal_matter(question):
        # The intent model can mistake "投诉办居住证的窗口" for a service question.
        return Decision(Outcome.OUT_OF_SCOPE)
    return follower.decide(question, context)


def chosen_item(tracker: Tracker) -> int | None:
    """The service tapped on the clarifying buttons, if this turn is that tap."""
    if tracker.latest_message.get("intent", {}).get("name") != "choose_service":
        return None
    value = next(tracker.get_latest_entity_values("item_no"), None) or tracker.get_slot("item_no")
    return whole_number(value)
