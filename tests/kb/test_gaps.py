"""The gap loop in the library: misses grouped into tasks with real embeddings, deadlines in
Shanghai working days, and tasks worked through answer, publish, reject and merge."""

from typing import Any

import faiss
import pytest

from kb.gap_tasks import GapTasks, InvalidTaskChange, TaskConflict, TaskFilter
from kb.gaps import PLATFORM_DEPARTMENT, GapLog, Miss, MissReason
from kb.grouping import Grouper, TaskIndex
from kb.store import KnowledgeBase
from kb.versions import EntryVersions, ReviewRefused
from kb.workdays import parse_schedule


@pytest.fixture
def gaps(memory_kb: KnowledgeBase, seed_retriever) -> GapLog:
    return GapLog(memory_kb, Grouper(memory_kb, seed_retriever.embedder).place_pending)


def ask(gaps: GapLog, text: str, **fields: Any) -> dict[str, Any] | None:
    question_id = gaps.record(Miss(text, fields.pop("reason", MissReason.FALLBACK), **fields))
    if question_id is None:
        return None
    row = gaps.kb.db["gap_questions"].get(question_id)
    return GapTasks(gaps.kb).get(row["task_id"])


def test_the_same_question_joins_one_task_and_a_different_one_opens_another(gaps) -> None:
    first = ask(gaps, "护照怎么办理")
    again = ask(gaps, "办护照需要什么手续")
    other = ask(gaps, "驾照到期换证要体检吗")
    assert again["id"] == first["id"]
    assert again["ask_count"] == 2
    assert [q["text"] for q in again["questions"]] == ["护照怎么办理", "办护照需要什么手续"]
    assert other["id"] != first["id"]


def test_noise_small_talk_and_complaints_open_no_task(gaps) -> None:
    for text in ("asdfgh", "啊啊啊啊啊", "' OR 1=1 --", "https://example.com/a?b=1", "你好",
                 "谢谢", "转人工", "我要投诉窗口工作人员态度差", "<script>alert(1)</script>", ""):
        assert ask(gaps, text) is None, text
    assert gaps.kb.db["gap_tasks"].count == 0


def test_guessed_services_that_differ_keep_misses_apart(gaps) -> None:
    first = ask(gaps, "证件丢了怎么补办", item_no=3)
    second = ask(gaps, "证件丢了怎么补办", item_no=11)
    assert first["id"] != second["id"]
    assert second["department"] == gaps.kb.item(11).department


def test_a_task_is_its_departments_and_its_phrasings_are_masked(gaps) -> None:
    task = ask(gaps, "居住证签注我手机13912345678收不到验证码", item_no=3, conversation_id="c1")
    assert task["department"] == "市公安局"
    assert "13912345678" not in task["title"]
    assert task["questions"][0]["conversation_id"] == "c1"
    assert ask(gaps, "护照过期了能在网上续吗")["department"] == PLATFORM_DEPARTMENT


def test_due_is_the_end_of_the_fifth_working_day_in_shanghai(gaps, at) -> None:
    # 00:30 on Wednesday 2 December in Shanghai is still Tuesday in UTC: Wednesday counts.
    at("2026-12-01T16:30:00+00:00")
    task = ask(gaps, "社区事务受理中心几点下班")
    assert task["created_at"].startswith("2026-12-02T00:30:00+08:00")
    assert (task["due_on"], task["provisional"]) == ("2026-12-09", False)
    at("2026-09-29T10:00:00+08:00")  # 30 September, 8, 9, Saturday 10 (调休), 12 October
    assert ask(gaps, "老年人乘车卡怎么申请")["due_on"] == "2026-10-12"


def test_loading_next_years_schedule_redates_provisional_tasks(gaps, at) -> None:
    at("2026-12-28T09:00:00+08:00")
    task = ask(gaps, "新生儿落户要带哪些材料")
    assert (task["due_on"], task["provisional"]) == ("2027-01-05", True)
    tasks = GapTasks(gaps.kb)
    loaded, redated = tasks.load_calendar(parse_schedule(
        ["2027-01-01 holiday", "2027-01-04 holiday"]))
    assert (loaded, redated) == (2, 1)
    task = tasks.get(task["id"])
    assert (task["due_on"], task["provisional"]) == ("2027-01-06", False)


def test_overdue_is_marked_once_and_never_redated(gaps, at) -> None:
    at("2026-11-02T09:00:00+08:00")
    task = ask(gaps, "公租房申请进度在哪里查")
    at("2026-11-10T08:00:00+08:00")
    [overdue] = GapTasks(gaps.kb).mark_overdue()
    assert overdue["id"] == task["id"] and overdue["overdue"]
    assert overdue["due_on"] == task["due_on"] == "2026-11-09"
    assert GapTasks(gaps.kb).mark_overdue() == []
    assert GapTasks(gaps.kb).list(TaskFilter(overdue=True))[0]["id"] == task["id"]


def test_answer_then_approval_by_another_closes_the_task_with_a_live_entry(gaps) -> None:
    task = ask(gaps, "公积金提取到账要几天", item_no=16)
    ask(gaps, "住房公积金提取多久到账", item_no=16)
    tasks = GapTasks(gaps.kb)
    with pytest.raises(InvalidTaskChange, match="答复口径"):
        tasks.answer(task["id"], "  ", "maintainer", task["version"])
    task = tasks.get(task["id"])
    answered = tasks.answer(task["id"], "一般 3 个工作日内到账。", "maintainer", task["version"])
    entry = gaps.kb.get(answered["entry_id"])
    assert entry.status == "draft"
    assert entry.questions == ["公积金提取到账要几天", "住房公积金提取多久到账"]
    assert EntryVersions(gaps.kb).pending(entry.entry_id).source == "gap_task"  # in review
    with pytest.raises(ReviewRefused):  # its author cannot approve it
        tasks.publish(task["id"], "maintainer", answered["version"])
    assert tasks.publish(task["id"], "reviewer", answered["version"]) == [task["id"]]
    assert gaps.kb.get(entry.entry_id).status == "published"
    closed = tasks.get(task["id"])
    assert closed["status"] == "published" and closed["closed_at"]


def test_two_maintainers_cannot_both_win(gaps) -> None:
    task = ask(gaps, "残疾证年审在哪里办", item_no=5)
    tasks = GapTasks(gaps.kb)
    tasks.answer(task["id"], "第一个人的口径", "alice", task["version"])
    with pytest.raises(TaskConflict, match="alice"):
        tasks.answer(task["id"], "第二个人的口径", "bob", task["version"])
    assert gaps.kb.get(tasks.get(task["id"])["entry_id"]).answer == "第一个人的口径"


def test_reject_needs_a_reason_and_merge_moves_the_phrasings(gaps) -> None:
    first = ask(gaps, "婚姻登记可以预约周末吗")
    second = ask(gaps, "驾照到期换证要体检吗")
    tasks = GapTasks(gaps.kb)
    with pytest.raises(InvalidTaskChange, match="理由"):
        tasks.reject(first["id"], "", "alice", first["version"])
    merged = tasks.merge(second["id"], first["id"], "alice", second["version"])
    assert merged["ask_count"] == 2
    assert tasks.get(second["id"])["status"] == "merged"
    assert tasks.counts()["merged"] == 1
    rejected = tasks.reject(first["id"], "不属于本区事项", "alice", merged["version"])
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "不属于本区事项")
    # A closed task takes no new miss: the same question opens a new one.
    assert ask(gaps, "婚姻登记可以预约周末吗")["id"] not in (first["id"], second["id"])


def test_misses_recorded_without_a_grouper_wait_for_one(memory_kb, seed_retriever) -> None:
    """The gateway records; the action server, which holds the embedder, places."""
    waiting = GapLog(memory_kb)
    waiting.record(Miss("下班后能不能留言", MissReason.AFTER_HOURS, conversation_id="c9"))
    assert waiting.waiting() == 1
    waiting.attach_seat_answer("c9", "seat1", "可以留言，次日回复 13912345678")
    [task_id] = Grouper(memory_kb, seed_retriever.embedder).place_pending()
    [question] = GapTasks(memory_kb).get(task_id)["questions"]
    assert question["seat_answer"] == "可以留言，次日回复 139****5678"
    assert waiting.waiting() == 0


def test_many_open_tasks_switch_to_an_inverted_file_and_still_group(
        memory_kb, seed_retriever, monkeypatch) -> None:
    monkeypatch.setattr(TaskIndex, "IVF_FROM", 8)
    grouper = Grouper(memory_kb, seed_retriever.embedder)
    gaps = GapLog(memory_kb, grouper.place_pending)
    subjects = ("护照", "驾照", "社保卡", "营业执照", "医保卡", "户口本", "结婚证")
    needs = ("丢了怎么补办", "到期了怎么换", "可以找人代办吗", "办好了能邮寄吗", "收费标准是多少",
             "外地人能办吗")
    placed = {subject + need: ask(gaps, subject + need)["id"]
              for subject in subjects for need in needs}
    assert isinstance(grouper.index.faiss, faiss.IndexIVFFlat)
    assert ask(gaps, "护照丢了怎么补办呢")["id"] == placed["护照丢了怎么补办"]
