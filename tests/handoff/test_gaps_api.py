"""The gap tasks' HTTP API on the running gateway: who may see which department's tasks, the
changes a maintainer makes, and the refusals (401/403/404/409/400) that lose nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kb.gap_tasks import GapTasks
from kb.store import KnowledgeBase
from tests.handoff import test_gateway
from tests.handoff.test_gateway import PASSWORD, session_cookie

gateway = test_gateway.gateway  # the fixtures: the running stack's gateway URL, its staff
staff = test_gateway.staff

pytestmark = pytest.mark.stack
# Not about what tests/web/test_gap_loop.py asks the bot (published answers serve the stack).
ANSWER = "社区图书馆借书证请携带本人身份证到任一街道图书馆服务台办理，当场发放。"


def open_task(kb: KnowledgeBase, department: str, title: str, *,
              due_on: str = "2099-01-01") -> int:
    """A task as the grouper leaves it: open, with two askers' phrasings."""
    stamp = "2026-12-01T10:00:00+08:00"
    task_id = kb.db["gap_tasks"].insert({
        "title": title, "item_no": 0, "department": department, "status": "open",
        "ask_count": 2, "first_asked_at": stamp, "last_asked_at": stamp, "created_at": stamp,
        "due_on": due_on, "provisional": 0, "version": 1}).last_pk
    kb.db["gap_questions"].insert_all(
        {"task_id": task_id, "text": text, "reason": "fallback", "asked_at": stamp,
         "department": department, "conversation_id": f"conv-{uuid.uuid4().hex[:8]}"}
        for text in (title, f"{title}？请问"))
    return task_id


@pytest.fixture(scope="module")
def kb(stack_env) -> KnowledgeBase:
    return KnowledgeBase(stack_env["XIAOSHEN_DB"])


@pytest.fixture(scope="module")
def departments() -> tuple[str, str]:
    """Two departments of this module's own, so other tests' tasks do not count here."""
    tag = uuid.uuid4().hex[:6]
    return f"甲部门{tag}", f"乙部门{tag}"


def client(gateway: str, staff, role: str, department: str = "") -> httpx.Client:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    staff.add(name, role, PASSWORD, department)
    return httpx.Client(base_url=gateway, headers={"Cookie": session_cookie(gateway, name)},
                        timeout=20)


def test_only_maintainers_and_supervisors_see_tasks(gateway, staff, departments) -> None:
    assert httpx.get(f"{gateway}/api/gaps").status_code == 401
    seat = client(gateway, staff, "agent", departments[0])
    refused = seat.get("/api/gaps")
    assert refused.status_code == 403 and refused.json()["error"]
    assert httpx.get(f"{gateway}/gaps").status_code == 200  # the page asks for a login itself


def test_a_maintainer_sees_their_department_only(gateway, staff, kb, departments) -> None:
    ours, theirs = departments
    own = open_task(kb, ours, "图书馆借书证怎么办")
    other = open_task(kb, theirs, "另一个部门的问题")
    maintainer = client(gateway, staff, "maintainer", ours)

    listed = maintainer.get("/api/gaps", params={"status": "open"}).json()["tasks"]
    assert own in [task["id"] for task in listed]
    assert {task["department"] for task in listed} == {ours}
    # Another department's task is as if it did not exist; asking for it by department too.
    assert maintainer.get(f"/api/gaps/{other}").status_code == 404
    assert {task["department"] for task in maintainer.get(
        "/api/gaps", params={"department": theirs}).json()["tasks"]} == {ours}

    shown = maintainer.get(f"/api/gaps/{own}").json()
    assert shown["title"] == "图书馆借书证怎么办" and shown["ask_count"] == 2
    assert {p["text"] for p in shown["phrasings"]} == {"图书馆借书证怎么办",
                                                       "图书馆借书证怎么办？请问"}

    supervisor = client(gateway, staff, "supervisor")
    both = supervisor.get("/api/gaps", params={"status": "open"}).json()["tasks"]
    assert {own, other} <= {task["id"] for task in both}
    assert supervisor.get(f"/api/gaps/{other}").status_code == 200
    assert {task["department"] for task in supervisor.get(
        "/api/gaps", params={"department": theirs}).json()["tasks"]} == {theirs}


def test_overdue_tasks_are_counted_for_the_badge(gateway, staff, kb, departments) -> None:
    department = f"{departments[0]}逾期"
    late = open_task(kb, department, "逾期未答的问题", due_on="2026-01-05")
    open_task(kb, department, "尚未到期的问题")
    maintainer = client(gateway, staff, "maintainer", department)
    counts = maintainer.get("/api/gaps/counts").json()
    assert (counts["open"], counts["overdue"]) == (2, 1)
    overdue = maintainer.get("/api/gaps", params={"overdue": "1"}).json()["tasks"]
    assert [(task["id"], task["overdue"]) for task in overdue] == [(late, True)]


def change(session: httpx.Client, task_id: int, action: str, **data: Any) -> httpx.Response:
    return session.post(f"/api/gaps/{task_id}/{action}", json=data)


def test_answer_and_another_maintainer_publishes_it(gateway, staff, kb, departments) -> None:
    task_id = open_task(kb, departments[0], "借书证去哪里办")
    maintainer = client(gateway, staff, "maintainer", departments[0])

    empty = change(maintainer, task_id, "answer", answer="  ", item_no=0, version=1)
    assert empty.status_code == 400 and "答复口径" in empty.json()["error"]
    answered = change(maintainer, task_id, "answer", answer=ANSWER, item_no=0, version=1)
    assert answered.status_code == 200, answered.text
    draft = answered.json()
    assert draft["status"] == "answered" and draft["entry"]["status"] == "draft"
    assert draft["entry"]["answer"] == ANSWER

    assert draft["entry"]["status"] == "draft"  # a new entry, in the review queue
    own = change(maintainer, task_id, "publish", version=draft["version"])
    assert own.status_code == 400 and "不能审核自己" in own.json()["error"]
    reviewer = client(gateway, staff, "maintainer", departments[0])
    published = change(reviewer, task_id, "publish", version=draft["version"]).json()
    assert published["status"] == "published" and published["entry"]["status"] == "published"
    assert kb.get(published["entry_id"]).status == "published"
    again = change(maintainer, task_id, "reject", reason="重复", version=published["version"])
    assert again.status_code == 400  # a published task is closed


def test_two_maintainers_answering_at_once_cannot_both_win(gateway, staff, kb,
                                                          departments) -> None:
    task_id = open_task(kb, departments[0], "借书证多久能拿到")
    first = client(gateway, staff, "maintainer", departments[0])
    second = client(gateway, staff, "maintainer", departments[0])
    assert change(first, task_id, "answer", answer=ANSWER, item_no=0, version=1).is_success
    stale = change(second, task_id, "answer", answer="另一种说法", item_no=0, version=1)
    assert stale.status_code == 409
    assert stale.json()["task"]["entry"]["answer"] == ANSWER  # shown what won
    assert GapTasks(kb).get(task_id)["version"] == 2


def test_reject_merge_and_assign(gateway, staff, kb, departments) -> None:
    ours, theirs = departments
    maintainer = client(gateway, staff, "maintainer", ours)
    colleague = client(gateway, staff, "maintainer", ours).get("/api/me").json()["name"]
    rejected = open_task(kb, ours, "我要投诉窗口态度")
    assert change(maintainer, rejected, "reject", reason="", version=1).status_code == 400
    done = change(maintainer, rejected, "reject", reason="属于投诉，请走12345", version=1).json()
    assert (done["status"], done["reject_reason"]) == ("rejected", "属于投诉，请走12345")

    kept, merged = open_task(kb, ours, "图书馆在哪"), open_task(kb, ours, "图书馆地址")
    into = change(maintainer, merged, "merge", into=kept, version=1).json()
    assert into["id"] == kept and into["ask_count"] == 4
    assert GapTasks(kb).get(merged)["status"] == "merged"
    foreign = open_task(kb, theirs, "别人的任务")
    assert change(maintainer, kept, "merge", into=foreign,
                  version=into["version"]).status_code == 404

    assigned = change(maintainer, kept, "assign", assignee=colleague, version=into["version"])
    assert assigned.json()["assignee"] == colleague
    assert change(maintainer, kept, "assign", assignee="nobody-here",
                  version=assigned.json()["version"]).status_code == 400


@pytest.mark.parametrize("path, status", [
    ("/api/gaps?status=bogus", 400), ("/api/gaps?item_no=abc", 400),
    ("/api/gaps?overdue=maybe", 400), ("/api/gaps/999999999", 404),
    ("/api/gaps/abc", 404), ("/api/gaps/report?from=2026-13-01", 400),
    ("/api/gaps/report?from=2026-12-01&to=2026-11-01", 400),
    ("/api/gaps/report/download?format=pdf", 400),
])
def test_bad_requests_get_a_clear_error(gateway, staff, departments, path, status) -> None:
    maintainer = client(gateway, staff, "maintainer", departments[0])
    response = maintainer.get(path)
    assert response.status_code == status
    assert response.json()["error"] and "Traceback" not in response.text


def test_malformed_changes_are_refused_and_lose_nothing(gateway, staff, kb,
                                                       departments) -> None:
    task_id = open_task(kb, departments[0], "借书押金是多少")
    maintainer = client(gateway, staff, "maintainer", departments[0])
    for body in (b"{not json", "\ufeff".encode("utf-16"), b"[1, 2]", b'{"answer": "x"}'):
        response = maintainer.post(f"/api/gaps/{task_id}/answer", content=body,
                                   headers={"content-type": "application/json"})
        assert response.status_code == 400 and response.json()["error"]
    hostile = "<script>alert(1)</script>" + ANSWER
    saved = change(maintainer, task_id, "answer", answer=hostile, item_no=0, version=1).json()
    assert saved["entry"]["answer"] == hostile  # kept as text; the page shows it as text
    assert GapTasks(kb).get(task_id)["version"] == 2
