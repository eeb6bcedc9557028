"""A story, then the question: when the whole message leaves several services plausible, its
last clauses alone decide among those offered (kb/retrieval.py `asked_last`), through the real
retriever over the seed knowledge base."""

from kb.decision import Candidate, Decision
from kb.reply import Outcome
from nlu.segment import clauses

STORY = "我老公是外地户口，在闵行租房住了两年，去年刚生了孩子，二手房过户要交什么税"


def test_the_whole_story_leaves_services_open(seed_retriever) -> None:
    whole = seed_retriever.judge(seed_retriever.evidence(STORY), seed_retriever.thresholds)
    assert whole.outcome == Outcome.CLARIFY
    assert 14 in {candidate.item_no for candidate in whole.candidates}


def test_the_question_after_a_story_is_answered(seed_retriever) -> None:
    decision = seed_retriever.decision(STORY)
    assert (decision.outcome, decision.item_no) == (Outcome.ANSWERED, 14)


def test_the_last_clauses_pick_only_among_the_services_offered(seed_retriever) -> None:
    offered = [Candidate(3, "03-fees", "居住证签注收费吗", 0.5),
               Candidate(4, "04-fees", "居住证新办收费吗", 0.5)]
    whole = Decision(Outcome.CLARIFY, candidates=offered)
    assert seed_retriever.asked_last(STORY, whole) is None


def test_a_story_naming_another_service_is_not_overruled_by_its_last_clause(
        seed_retriever) -> None:
    # After "货运许可怎么办" offered 普通货运 (18) and 危险货物 (19): 危险品 is what is NOT asked.
    decision = seed_retriever.decision("普通货运，不是危险品")
    assert decision.item_no != 19


def test_clauses_split_at_punctuation() -> None:
    assert clauses("我是外地户口，在上海买了房。过户收费吗？ ") == ["我是外地户口", "在上海买了房",
                                                          "过户收费吗"]
    assert clauses("居住证签注") == ["居住证签注"]
