"""Each action called directly with a tracker, a dispatcher and the domain."""

import json

import pytest
from rasa_sdk.events import SlotSet

from actions.answer import ActionAnswerQuestion
from actions.confirm import ActionAffirm, ActionDeny
from actions.handoff import ActionRequestHuman
from actions.rating import ActionRecordRating, rating_from_text
from actions.server import executor_for
from kb.gap_tasks import GapTasks
from kb.gaps import PLATFORM_DEPARTMENT
from kb.reply import Outcome, ReplyPayload


def payload(message: dict) -> ReplyPayload:
    return ReplyPayload.from_dict(message["custom"])


def slots(events: list) -> dict:
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


def test_every_action_of_the_domain_is_served(services, domain) -> None:
    assert set(executor_for(services).actions) == set(domain["actions"])


def test_a_clear_question_gets_the_entry_wording(services, dispatcher, tracker, domain) -> None:
    events = ActionAnswerQuestion(services).run(dispatcher, tracker("居住证签注要带什么材料"),
                                                domain)
    [message] = dispatcher.messages
    assert message["text"] == services.kb.get("03-materials").answer
    reply = payload(message)
    assert (reply.outcome, reply.item_no, reply.entry_id) == (Outcome.ANSWERED, 3, "03-materials")
    assert slots(events) == {"last_item_no": "3", "last_topic": "materials",
                             "pending_question": None, "offered_items": None,
                             "offered_human": False, "item_no": None}
    assert [b["title"] for b in message["buttons"]] == ["已解决", "没解决"]
    [turn] = services.turns.of_conversation("test-test_a_clear_question_gets_the_entry_wording")
    assert (turn["outcome"], turn["item_no"], turn["entry_id"], turn["topic"]) == (
        "answered", 3, "03-materials", "materials")


def test_an_unclear_question_asks_which_service(services, dispatcher, tracker, domain) -> None:
    events = ActionAnswerQuestion(services).run(dispatcher, tracker("代开发票要什么材料"), domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_clarify"
    assert payload(message).outcome == Outcome.CLARIFY
    *picks, human = message["buttons"]
    assert len(picks) >= 2 and human["payload"] == "/request_human"
    names = {item.name for item in services.kb.items().values()}
    assert all(button["title"] in names for button in picks)
    assert slots(events)["pending_question"] == "代开发票要什么材料"
    offered = [json.loads(b["payload"].removeprefix("/choose_service"))["item_no"] for b in picks]
    assert slots(events)["offered_items"] == ",".join(offered)


def test_a_bare_topic_asks_for_the_service_without_buttons(services, dispatcher, tracker,
                                                          domain) -> None:
    events = ActionAnswerQuestion(services).run(dispatcher, tracker("需要带什么材料"), domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_service"
    assert payload(message).outcome == Outcome.CLARIFY
    assert [b["payload"] for b in message["buttons"]] == ["/request_human"]
    assert slots(events)["pending_question"] == "需要带什么材料"


def test_the_picked_service_answers_the_pending_question(services, dispatcher, tracker,
                                                         domain) -> None:
    picked = tracker('/choose_service{"item_no": "22"}', intent="choose_service",
                     slots={"pending_question": "需要带什么材料", "offered_items": "22,25"},
                     entities=[{"entity": "item_no", "value": "22"}])
    ActionAnswerQuestion(services).run(dispatcher, picked, domain)
    reply = payload(dispatcher.messages[0])
    assert (reply.outcome, reply.item_no) == (Outcome.ANSWERED, 22)
    assert services.kb.get(reply.entry_id).topic == "materials"


def gap_tasks_of(services, conversation_id: str) -> list[dict]:
    ids = {row["task_id"] for row in services.kb.db["gap_questions"].rows_where(
        "conversation_id = ?", [conversation_id])}
    return [GapTasks(services.kb).get(task_id) for task_id in sorted(ids)]


def test_gibberish_falls_back_and_opens_no_gap_task(services, dispatcher, tracker,
                                                    domain) -> None:
    conversation = tracker("qwpoeiru zxmcvn")
    events = ActionAnswerQuestion(services).run(dispatcher, conversation, domain)
    [message] = dispatcher.messages
    assert (message["response"], payload(message).outcome) == ("utter_fallback",
                                                               Outcome.FALLBACK)
    assert message["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    assert slots(events)["offered_human"] is True
    assert gap_tasks_of(services, conversation.sender_id) == []


def test_a_question_the_base_lacks_opens_a_gap_task(services, dispatcher, tracker,
                                                    domain) -> None:
    conversation = tracker("社区食堂老年人助餐补贴怎么申请")
    ActionAnswerQuestion(services).run(dispatcher, conversation, domain)
    assert payload(dispatcher.messages[0]).outcome == Outcome.FALLBACK
    [task] = gap_tasks_of(services, conversation.sender_id)
    assert task["title"] == "社区食堂老年人助餐补贴怎么申请" and task["status"] == "open"


def test_an_uncovered_service_is_named_with_its_department(services, dispatcher, tracker,
                                                           domain) -> None:
    conversation = tracker("护照过期了怎么换新的")
    ActionAnswerQuestion(services).run(dispatcher, conversation, domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_not_covered"
    assert "护照" in message["service"] and message["department"] == "市公安局"
    [task] = gap_tasks_of(services, conversation.sender_id)
    assert (task["questions"][0]["reason"], task["department"]) == ("not_covered", "市公安局")


@pytest.mark.parametrize(("text", "response"), [
    ("我要投诉办居住证的窗口", "utter_out_of_scope_legal"),
    ("   ", "utter_empty_message"),
])
def test_complaints_and_empty_messages(services, dispatcher, tracker, domain, text,
                                       response) -> None:
    ActionAnswerQuestion(services).run(dispatcher, tracker(text), domain)
    assert dispatcher.messages[0]["response"] == response


@pytest.mark.parametrize(("last_item_no", "department"), [
    ("6", "市公安局"), (None, PLATFORM_DEPARTMENT), ("not a number", PLATFORM_DEPARTMENT),
    ("999", PLATFORM_DEPARTMENT),
])
def test_handoff_names_the_responsible_department(services, dispatcher, tracker, domain,
                                                  last_item_no, department) -> None:
    events = ActionRequestHuman(services).run(
        dispatcher, tracker("转人工", "request_human", {"last_item_no": last_item_no}), domain)
    [message] = dispatcher.messages
    assert (message["response"], message["department"]) == ("utter_handoff", department)
    assert payload(message).outcome == Outcome.HANDOFF
    assert events == [SlotSet("offered_human", False)]


def test_yes_after_an_offer_hands_over(services, dispatcher, tracker, domain) -> None:
    ActionAffirm(services).run(dispatcher, tracker("好的", "affirm", {"offered_human": True}),
                               domain)
    assert dispatcher.messages[0]["response"] == "utter_handoff"


def test_yes_without_an_offer_is_acknowledged(services, dispatcher, tracker, domain) -> None:
    ActionAffirm(services).run(dispatcher, tracker("好的", "affirm"), domain)
    assert dispatcher.messages[0]["response"] == "utter_acknowledge"


@pytest.mark.parametrize(("offered", "response"), [(True, "utter_deny_human"),
                                                   (False, "utter_acknowledge")])
def test_no(dispatcher, tracker, domain, offered, response) -> None:
    events = ActionDeny().run(dispatcher, tracker("不用", "deny", {"offered_human": offered}),
                              domain)
    assert dispatcher.messages[0]["response"] == response
    assert events == [SlotSet("offered_human", False)]


@pytest.mark.parametrize(("text", "level"), [
    ("5分", 5), ("打1分", 1), ("非常不满意", 1), ("不满意", 2), ("满意", 4), ("非常满意", 5),
    ("一般吧", 3), ("嗯", None), ("我有3个问题", None),
])
def test_rating_from_text(text, level) -> None:
    assert rating_from_text(text) == level


def test_a_rating_is_stored_with_its_service(services, dispatcher, tracker, domain) -> None:
    conversation = tracker("5分", "rate_answer", {"last_item_no": "3"})
    ActionRecordRating(services, ActionAnswerQuestion(services)).run(dispatcher, conversation,
                                                                     domain)
    assert dispatcher.messages[0]["response"] == "utter_rating_thanks"
    [row] = services.ratings.of_conversation(conversation.sender_id)
    assert (row["level"], row["item_no"]) == (5, 3)
    assert row["created_at"].endswith("+08:00")


def test_no_level_stores_no_rating(services, dispatcher, tracker, domain) -> None:
    conversation = tracker("嗯嗯", "rate_answer")
    ActionRecordRating(services, ActionAnswerQuestion(services)).run(dispatcher, conversation,
                                                                     domain)
    assert services.ratings.of_conversation(conversation.sender_id) == []
    assert dispatcher.messages[0]["response"] == "utter_rating_thanks"


def test_button_payload_is_valid_json(services, dispatcher, tracker, domain) -> None:
    ActionAnswerQuestion(services).run(dispatcher, tracker("代开发票要什么材料"), domain)
    for button in dispatcher.messages[0]["buttons"][:-1]:
        intent, _, entities = button["payload"].partition("{")
        assert intent == "/choose_service"
        assert json.loads("{" + entities)["item_no"].isdigit()
