"""Conversations in the database: one seat per chat, whoever asks at the same moment."""

from concurrent.futures import ThreadPoolExecutor

from handoff.store import HUMAN, QUEUED, ConversationStore
from kb.store import KnowledgeBase


def test_a_queued_chat_is_claimed_by_exactly_one_seat(file_kb) -> None:
    store = ConversationStore(file_kb)
    store.open("a" * 32)
    store.escalate("a" * 32, "市公安局", 6)
    path = file_kb.path

    def claim(seat: str) -> bool:  # each seat through its own connection, as processes do
        return ConversationStore(KnowledgeBase(path)).claim("a" * 32, seat)

    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(claim, [f"seat-{n}" for n in range(8)]))
    assert won.count(True) == 1
    conversation = store.get("a" * 32)
    assert conversation["mode"] == HUMAN and conversation["seat"] == f"seat-{won.index(True)}"


def test_messages_keep_their_order_and_notes_stay_with_staff(memory_kb) -> None:
    store = ConversationStore(memory_kb)
    store.open("b" * 32)
    ids = [store.add("b" * 32, sender, text).id for sender, text in
           [("customer", "你好"), ("bot", "您好"), ("note", "内部备注"), ("seat", "请讲")]]
    assert ids == sorted(ids)
    assert [m.body for m in store.messages("b" * 32)] == ["你好", "您好", "请讲"]
    assert [m.body for m in store.messages("b" * 32, notes=True)][2] == "内部备注"
    assert [m.body for m in store.messages("b" * 32, after=ids[1])] == ["请讲"]


def test_requeue_and_position(memory_kb) -> None:
    store = ConversationStore(memory_kb)
    for name in ("c" * 32, "d" * 32):
        store.open(name)
        store.escalate(name, "市税务局", 28)
    assert [store.position("c" * 32), store.position("d" * 32)] == [1, 2]
    assert store.claim("c" * 32, "li")
    assert store.requeue("li") == ["c" * 32]
    assert store.get("c" * 32)["mode"] == QUEUED and store.load("li") == 0
