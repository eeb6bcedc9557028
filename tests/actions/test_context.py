"""Follow-ups decided in the light of the conversation's context, through the answer action
(the real retriever), and the pure parts of the context alone."""

import pytest

from actions.answer import ActionAnswerQuestion
from actions.context import Context, Follower, name_bigrams
from actions.feedback import ActionRecordFeedback
from actions.rating import ActionRecordRating
from actions.smalltalk import ActionGreet
from kb.reply import Outcome, ReplyPayload


def answer(services, dispatcher, tracker, domain, text, **slots):
    ActionAnswerQuestion(services).run(dispatcher, tracker(text, slots=slots), domain)
    message = dispatcher.messages[-1]
    reply = ReplyPayload.from_dict(message["custom"]) if message.get("custom") else None
    entry = services.kb.get(reply.entry_id) if reply and reply.entry_id else None
    return message, reply, entry


@pytest.mark.parametrize(("text", "topic"), [
    ("那要带什么材料", "materials"), ("多久能到账", "time_limit"), ("收费吗", "fees"),
    ("在哪办", "location"), ("网上能办吗", "steps"), ("要本人去吗", "conditions"),
    ("外地户口也能办吗", "conditions"),
])
def test_a_topic_follow_up_stays_with_the_service(services, dispatcher, tracker, domain, text,
                                                  topic) -> None:
    _, reply, entry = answer(services, dispatcher, tracker, domain, text, last_item_no="15",
                             last_topic="steps")
    assert (reply.outcome, entry.item_no, entry.topic) == (Outcome.ANSWERED, 15, topic)


@pytest.mark.parametrize(("last", "text", "sibling"), [
    ("15", "那退休的呢", 16), ("29", "专票呢", 28), ("3", "新办呢", 4), ("2", "初中的呢", 1),
])
def test_a_sibling_follow_up_switches_and_keeps_the_topic(services, dispatcher, tracker, domain,
                                                          last, text, sibling) -> None:
    _, reply, entry = answer(services, dispatcher, tracker, domain, text, last_item_no=last,
                             last_topic="materials")
    assert (reply.outcome, entry.item_no, entry.topic) == (Outcome.ANSWERED, sibling,
                                                          "materials")


def test_a_new_question_switches_service(services, dispatcher, tracker, domain) -> None:
    _, reply, _ = answer(services, dispatcher, tracker, domain, "无犯罪记录证明在哪里开",
                         last_item_no="15", last_topic="materials")
    assert (reply.outcome, reply.item_no) == (Outcome.ANSWERED, 6)


@pytest.mark.parametrize(("text", "response"), [
    ("那护照呢", "utter_not_covered"), ("你们窗口态度太差了我要投诉", "utter_out_of_scope_legal"),
])
def test_context_never_forces_an_answer(services, dispatcher, tracker, domain, text,
                                        response) -> None:
    message, _, _ = answer(services, dispatcher, tracker, domain, text, last_item_no="15",
                           last_topic="materials")
    assert message["response"] == response


@pytest.mark.parametrize("reply", ["1", "第一个", "租房的", "提取住房公积金支付房屋租赁费用"])
def test_after_a_clarification_the_pending_question_is_answered(services, dispatcher, tracker,
                                                                domain, reply) -> None:
    _, answered, entry = answer(services, dispatcher, tracker, domain, reply,
                                pending_question="公积金提取要带什么材料", offered_items="15,16")
    assert (answered.outcome, entry.item_no, entry.topic) == (Outcome.ANSWERED, 15, "materials")


def test_a_service_name_after_an_unrelated_clarification(services, dispatcher, tracker,
                                                         domain) -> None:
    _, reply, entry = answer(services, dispatcher, tracker, domain, "居住证签注",
                             pending_question="需要带什么材料", offered_items="25,34,19")
    assert (reply.outcome, entry.item_no, entry.topic) == (Outcome.ANSWERED, 3, "materials")


def test_a_bare_number_after_a_clarification_is_a_choice_not_a_rating(services, dispatcher,
                                                                      tracker, domain) -> None:
    conversation = tracker("2", "rate_answer", {"pending_question": "公积金怎么提取",
                                                "offered_items": "15,16"})
    ActionRecordRating(services, ActionAnswerQuestion(services)).run(dispatcher, conversation,
                                                                     domain)
    assert ReplyPayload.from_dict(dispatcher.messages[0]["custom"]).item_no == 16
    assert services.ratings.of_conversation(conversation.sender_id) == []


@pytest.mark.parametrize(("text", "response"), [
    ("领导您好，我是**小区的居民，请问我们小区有拆迁计划吗？", "utter_fallback"),
    ("您好，我在杨浦租房三年了，想用公积金付房租，请问要什么条件？", None),
])
def test_a_greeting_with_a_story_is_a_question(services, dispatcher, tracker, domain, text,
                                               response) -> None:
    ActionGreet(ActionAnswerQuestion(services)).run(dispatcher, tracker(text, "greet"), domain)
    [message] = dispatcher.messages
    assert message.get("response") == response
    if response is None:  # answered with the entry's wording
        assert ReplyPayload.from_dict(message["custom"]).item_no == 15
    else:  # no clarifying buttons of unrelated services
        assert [b["payload"] for b in message["buttons"]] == ["/request_human"]


def test_a_plain_greeting_is_greeted(services, dispatcher, tracker, domain) -> None:
    ActionGreet(ActionAnswerQuestion(services)).run(dispatcher, tracker("您好小申", "greet"),
                                                    domain)
    assert dispatcher.messages[0]["response"] == "utter_greet"


@pytest.mark.parametrize(("intent", "feedback", "response"), [
    ("feedback_resolved", "resolved", "utter_feedback_thanks"),
    ("feedback_unresolved", "unresolved", "utter_feedback_unresolved"),
])
def test_feedback_is_stored_on_the_answered_turn(services, dispatcher, tracker, domain, intent,
                                                 feedback, response) -> None:
    conversation = tracker("居住证签注要带什么材料")
    ActionAnswerQuestion(services).run(dispatcher, conversation, domain)
    events = ActionRecordFeedback(services).run(dispatcher, tracker("/" + intent, intent),
                                                domain)
    assert dispatcher.messages[-1]["response"] == response
    [turn] = services.turns.of_conversation(conversation.sender_id)
    assert (turn["feedback"], turn["entry_id"]) == (feedback, "03-materials")
    assert turn["feedback_at"].endswith("+08:00")
    if feedback == "unresolved":
        assert dispatcher.messages[-1]["buttons"][0]["payload"] == "/request_human"
        assert events[0]["value"] is True


def test_turn_texts_are_masked(services, dispatcher, tracker, domain) -> None:
    conversation = tracker("我身份证310101199001011234，手机13912345678，居住证签注要带什么")
    ActionAnswerQuestion(services).run(dispatcher, conversation, domain)
    [turn] = services.turns.of_conversation(conversation.sender_id)
    assert "310101199001011234" not in turn["text"] and "13912345678" not in turn["text"]


def test_numbers_and_names() -> None:
    assert Follower.numbered("第二个", (15, 16)) == 16
    assert Follower.numbered("3", (15, 16)) is None
    assert Follower.numbered("最后一个", (3, 4, 5)) == 5
    assert Follower.numbered("租房的", (15, 16)) is None
    assert "签注" in name_bigrams("居住证签注") and "办理" not in name_bigrams("居住证办理")


def test_context_from_slots(tracker) -> None:
    context = Context.of(tracker("x", slots={"last_item_no": "15", "last_topic": "fees",
                                             "offered_items": "3,4,x"}))
    assert context == Context(15, "fees", None, (3, 4))
