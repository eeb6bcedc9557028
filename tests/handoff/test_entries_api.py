"""The knowledge-base entries' HTTP API on the running gateway: who may see and change which
department's entries, saving a stale version (409 with the diff), review before publish (the
author cannot approve), rollback, the review queue, policies, and the bot's side (hit test,
live revision)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kb.store import KnowledgeBase
from kb.turns import TurnLog
from tests.handoff import test_gateway
from tests.handoff.test_gaps_api import client

gateway = test_gateway.gateway  # the fixtures: the running stack's gateway URL, its staff
staff = test_gateway.staff

pytestmark = pytest.mark.stack
PLATFORM = "一网通办平台"  # item 0's department
POLICE = "市公安局"  # items 3, 4, …
SUBJECT = "古籍修复志愿者"


@pytest.fixture(scope="module")
def kb(stack_env) -> KnowledgeBase:
    return KnowledgeBase(stack_env["XIAOSHEN_DB"])


def draft(tag: str, **changes: Any) -> dict[str, Any]:
    """An entry of item 0 about a subject no other test asks the bot about (published, it is
    served to the whole stack's tests)."""
    return {"item_no": 0, "topic": "faq", "question": f"{SUBJECT}{tag}如何报名？",
            "similar_questions": [f"{SUBJECT}{tag}报名入口"], "reason": "新增",
            "answer": f"{SUBJECT}{tag}请在区图书馆官网报名。", **changes}


def edited(entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The editor's fields of an entry's latest version, changed."""
    latest = entry["history"][0]
    fields = ("item_no", "topic", "question", "similar_questions", "answer", "status",
              "effective_from", "effective_to")
    return {**{name: latest[name] for name in fields},
            "base_version": latest["version"], **changes}


def approved_entry(maintainer: httpx.Client, reviewer: httpx.Client, tag: str) -> dict:
    created = maintainer.post("/api/kb/entries", json=draft(tag, submit=True))
    assert created.status_code == 201, created.text
    entry = created.json()
    done = reviewer.post(f"/api/kb/entries/{entry['entry_id']}/approve",
                         json={"version": entry["pending"]["version"]})
    assert done.status_code == 200, done.text
    return done.json()


PATHS = [("GET", "/api/kb/entries"), ("GET", "/api/kb/entries/00-certificates"),
         ("POST", "/api/kb/entries"), ("POST", "/api/kb/entries/00-certificates/approve"),
         ("GET", "/api/kb/review"), ("GET", "/api/kb/policies"), ("POST", "/api/kb/policies"),
         ("POST", "/api/kb/hit-test"), ("GET", "/api/kb/status")]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_only_maintainers_and_supervisors(gateway, staff, method, path) -> None:
    assert httpx.request(method, f"{gateway}{path}", json={}).status_code == 401
    seat = client(gateway, staff, "agent", POLICE)
    refused = seat.request(method, path, json={})
    assert refused.status_code == 403 and refused.json() == {"error": "无权访问"}


@pytest.mark.parametrize("page", ["/kb", "/kb/review", "/kb/policies"])
def test_the_pages_log_in_themselves(gateway, page) -> None:
    response = httpx.get(f"{gateway}{page}")
    assert response.status_code == 200 and "登录" in response.text


def test_a_maintainer_lists_their_department_with_the_bots_hits(gateway, staff, kb) -> None:
    maintainer = client(gateway, staff, "maintainer", PLATFORM)
    tag = uuid.uuid4().hex[:6]
    entry_id = approved_entry(maintainer, client(gateway, staff, "supervisor"), tag)["entry_id"]
    turns = TurnLog(kb)
    for conversation in ("a", "b"):
        turns.record(f"hits-{tag}-{conversation}", f"{SUBJECT}如何报名", "answered", 0, entry_id)
    turns.record(f"hits-{tag}-c", f"{SUBJECT}如何报名", "fallback")

    listed = maintainer.get("/api/kb/entries", params={"q": f"{SUBJECT}{tag}"}).json()
    assert listed["more"] is False and listed["hits_days"] == 30
    assert [(e["entry_id"], e["hits"], e["status"]) for e in listed["entries"]] == [
        (entry_id, 2, "published")]
    everything = maintainer.get("/api/kb/entries").json()["entries"]
    assert {e["department"] for e in everything} == {PLATFORM}
    police = client(gateway, staff, "maintainer", POLICE)
    assert police.get("/api/kb/entries", params={"q": f"{SUBJECT}{tag}"}).json()["entries"] == []
    assert police.get(f"/api/kb/entries/{entry_id}").status_code == 404
    supervisor = client(gateway, staff, "supervisor")
    found = supervisor.get("/api/kb/entries", params={
        "department": POLICE, "item_no": 3, "status": "published"}).json()["entries"]
    assert found and {(e["department"], e["item_no"]) for e in found} == {(POLICE, 3)}
    everyone = supervisor.get("/api/kb/entries").json()  # the seed's 290 and more
    assert (everyone["more"], len(everyone["entries"])) == (True, 200)
    bad = maintainer.get("/api/kb/entries", params={"status": "gone"})
    assert bad.status_code == 400 and "状态" in bad.json()["error"]


def test_scheduled_and_retired_entries_are_told_apart(gateway, staff) -> None:
    maintainer = client(gateway, staff, "maintainer", PLATFORM)
    reviewer = client(gateway, staff, "supervisor")
    tag = uuid.uuid4().hex[:6]
    later = maintainer.post("/api/kb/entries", json=draft(
        tag, effective_from="2099-01-01", effective_to="2099-12-31", submit=True)).json()
    reviewer.post(f"/api/kb/entries/{later['entry_id']}/approve",
                  json={"version": later["pending"]["version"]})
    gone = approved_entry(maintainer, reviewer, f"{tag}下线")
    retired = maintainer.post(f"/api/kb/entries/{gone['entry_id']}", json=edited(
        gone, status="retired", reason="事项取消", submit=True)).json()
    reviewer.post(f"/api/kb/entries/{gone['entry_id']}/approve",
                  json={"version": retired["pending"]["version"]})

    def listed(status: str) -> list[str]:
        return [e["entry_id"] for e in maintainer.get("/api/kb/entries", params={
            "q": f"{SUBJECT}{tag}", "status": status}).json()["entries"]]
    assert listed("scheduled") == [later["entry_id"]]
    assert listed("retired") == [gone["entry_id"]]
    assert listed("published") == []


def test_a_stale_save_is_refused_with_the_diff(gateway, staff) -> None:
    first = client(gateway, staff, "maintainer", PLATFORM)
    second = client(gateway, staff, "maintainer", PLATFORM)
    entry = approved_entry(first, second, uuid.uuid4().hex[:6])
    path = f"/api/kb/entries/{entry['entry_id']}"
    opened = second.get(path).json()  # both open version 1

    saved = first.post(path, json=edited(entry, answer="第一位维护员改的口径。", reason="改口径"))
    assert saved.status_code == 200, saved.text
    assert saved.json()["pending"]["review"] == "draft"
    assert [c["field"] for c in saved.json()["pending"]["changes"]] == ["answer"]

    stale = second.post(path, json=edited(opened, answer="第二位维护员改的口径。"))
    assert stale.status_code == 409
    body = stale.json()
    assert "已被" in body["error"] and body["latest"]["version"] == 2
    assert body["latest"]["answer"] == "第一位维护员改的口径。"
    assert [(c["name"], c["after"]) for c in body["changes"]] == [
        ("答复口径", "第一位维护员改的口径。")]
    assert second.get(path).json()["pending"]["answer"] == "第一位维护员改的口径。"  # kept


def test_the_author_cannot_approve_and_another_maintainer_publishes(gateway, staff, kb
                                                                    ) -> None:
    author = client(gateway, staff, "maintainer", PLATFORM)
    colleague = client(gateway, staff, "maintainer", PLATFORM)
    tag = uuid.uuid4().hex[:6]
    entry = author.post("/api/kb/entries", json=draft(tag, submit=True)).json()
    version = entry["pending"]["version"]
    assert entry["pending"]["own"] is True and entry["published"] is None

    queued = colleague.get("/api/kb/review").json()["changes"]
    mine = [c for c in queued if c["entry_id"] == entry["entry_id"]]
    assert [(c["source"], c["own"], c["new"]) for c in mine] == [("console", False, True)]
    assert [c["own"] for c in author.get("/api/kb/review").json()["changes"]
            if c["entry_id"] == entry["entry_id"]] == [True]

    refused = author.post(f"/api/kb/entries/{entry['entry_id']}/approve",
                          json={"version": version})
    assert refused.status_code == 403 and "不能审核自己" in refused.json()["error"]
    outsider = client(gateway, staff, "maintainer", POLICE)
    assert outsider.post(f"/api/kb/entries/{entry['entry_id']}/approve",
                         json={"version": version}).status_code == 404

    approved = colleague.post(f"/api/kb/entries/{entry['entry_id']}/approve",
                              json={"version": version})
    assert approved.status_code == 200, approved.text
    shown = approved.json()
    assert shown["published"]["version"] == version and shown["pending"] is None
    assert shown["revision"] == kb.revision
    assert kb.get(entry["entry_id"]).status == "published"


def test_returned_with_a_comment(gateway, staff) -> None:
    author = client(gateway, staff, "maintainer", PLATFORM)
    reviewer = client(gateway, staff, "supervisor")
    entry = author.post("/api/kb/entries", json=draft(uuid.uuid4().hex[:6], submit=True)).json()
    path = f"/api/kb/entries/{entry['entry_id']}"
    version = entry["pending"]["version"]
    assert reviewer.post(f"{path}/return", json={"version": version, "comment": " "}
                         ).status_code == 409
    returned = reviewer.post(f"{path}/return", json={"version": version, "comment": "请写明地址"})
    assert returned.status_code == 200
    assert (returned.json()["pending"]["review"],
            returned.json()["pending"]["review_comment"]) == ("returned", "请写明地址")
    again = author.post(f"{path}/submit", json={"version": version})
    assert again.json()["pending"]["review"] == "in_review"


def test_rollback_makes_an_older_version_current_as_a_new_one(gateway, staff, kb) -> None:
    author = client(gateway, staff, "maintainer", PLATFORM)
    reviewer = client(gateway, staff, "maintainer", PLATFORM)
    entry = approved_entry(author, reviewer, uuid.uuid4().hex[:6])
    path = f"/api/kb/entries/{entry['entry_id']}"
    first_answer = entry["published"]["answer"]
    changed = author.post(path, json=edited(entry, answer="改错的口径。", submit=True)).json()
    reviewer.post(f"{path}/approve", json={"version": changed["pending"]["version"]})
    assert kb.get(entry["entry_id"]).answer == "改错的口径。"

    assert author.post(f"{path}/rollback", json={"version": 1}).status_code == 400  # no reason
    rolled = author.post(f"{path}/rollback", json={"version": 1, "reason": "误改"})
    assert rolled.status_code == 200, rolled.text
    history = rolled.json()["history"]
    assert [(v["version"], v["source"], v["review"]) for v in history] == [
        (3, "rollback", "approved"), (2, "console", "approved"), (1, "console", "approved")]
    assert history[0]["changes"][0]["after"] == first_answer
    assert kb.get(entry["entry_id"]).answer == first_answer
    assert rolled.json()["revision"] == kb.revision


def test_bad_edits_are_refused_plainly(gateway, staff) -> None:
    maintainer = client(gateway, staff, "maintainer", PLATFORM)
    cases = [(draft("x", answer=" "), 400, "答复口径"),
             (draft("x", item_no=3), 403, "本部门"),
             (draft("x", item_no=999), 400, "未知的事项"),
             (draft("x", effective_from="2026-12-31", effective_to="2026-12-01"), 400, "失效日期"),
             (draft("x", effective_from="12/31"), 400, "日期"),
             (draft("x", similar_questions="不是列表"), 400, "相似问法"),
             (draft("x", item_no="0"), 400, "请选择所属事项"),
             (draft("x", question="问" * 201), 400, "标准问题应为不超过 200 字")]
    for body, status, words in cases:
        response = maintainer.post("/api/kb/entries", json=body)
        assert (response.status_code, words in response.json()["error"]) == (status, True), body


def test_policies_with_what_they_lack(gateway, staff) -> None:
    maintainer = client(gateway, staff, "maintainer", PLATFORM)
    entry = approved_entry(maintainer, client(gateway, staff, "supervisor"),
                           uuid.uuid4().hex[:6])
    title = f"{SUBJECT}招募调整{uuid.uuid4().hex[:4]}"
    added = maintainer.post("/api/kb/policies", json={
        "title": title, "doc_number": "杨府办发〔2099〕8号", "effective_on": "2099-06-22",
        "item_nos": [0], "entry_ids": [entry["entry_id"]]})
    assert added.status_code == 201, added.text
    policy = added.json()
    assert (policy["flagged"], policy["lacking"], policy["services"][0]["item_no"]) == (
        False, [], 0)
    waiting = maintainer.post("/api/kb/policies", json={
        "title": f"{title}二", "effective_on": "2099-07-01", "item_nos": [0]}).json()
    assert waiting["lacking"] == ["尚未关联任何条目", "事项 0 还没有实施该政策的条目"]
    link = f"/api/kb/policies/{waiting['id']}/entries"
    linked = maintainer.post(link, json={"entry_ids": [entry["entry_id"]]})
    assert linked.status_code == 200, linked.text
    assert (linked.json()["lacking"], linked.json()["entries"][0]["state"]) == ([], "ready")

    listed = maintainer.get("/api/kb/policies").json()["policies"]
    assert {title, f"{title}二"} <= {p["title"] for p in listed}
    police = client(gateway, staff, "maintainer", POLICE)
    assert title not in {p["title"] for p in police.get("/api/kb/policies").json()["policies"]}
    assert police.post(link, json={"entry_ids": ["03-materials"]}).status_code == 404
    assert maintainer.post(link, json={"entry_ids": ["03-materials"]}).status_code == 404
    assert maintainer.post("/api/kb/policies/999999/entries", json={
        "entry_ids": [entry["entry_id"]]}).status_code == 404
    refused = police.post("/api/kb/policies", json={
        "title": "别的部门", "effective_on": "2099-07-01", "item_nos": [0]})
    assert refused.status_code == 403
    assert maintainer.post("/api/kb/policies", json={
        "title": "x", "effective_on": "明天", "item_nos": [0]}).status_code == 400
    in_entry = maintainer.get(f"/api/kb/entries/{entry['entry_id']}").json()["policies"]
    assert [p["title"] for p in in_entry] == [title, f"{title}二"]


def test_the_hit_test_answers_with_the_draft_and_the_status_is_live(gateway, staff, kb
                                                                    ) -> None:
    maintainer = client(gateway, staff, "maintainer", "市人力资源社会保障局")
    entry = maintainer.get("/api/kb/entries/11-fees").json()["history"][0]
    wording = f"养老金卡（折）调整不收费（测试口径 {uuid.uuid4().hex[:6]}）。"
    draft_entry = {"entry_id": "11-fees", "item_no": 11, "topic": entry["topic"],
                   "question": entry["question"], "answer": wording,
                   "similar_questions": entry["similar_questions"]}
    tried = maintainer.post("/api/kb/hit-test", json={"question": "养老金卡调整要钱吗",
                                                      "entry": draft_entry})
    assert tried.status_code == 200, tried.text
    reply = tried.json()
    assert (reply["outcome"], reply["entry_id"], reply["uses_draft"], reply["answer"]) == (
        "answered", "11-fees", True, wording)
    assert kb.get("11-fees").answer != wording  # only tried, never saved
    status = maintainer.get("/api/kb/status")
    assert status.status_code == 200
    assert status.json()["live_revision"] <= status.json()["revision"] == kb.revision
    empty = maintainer.post("/api/kb/hit-test", json={"question": " ", "entry": draft_entry})
    assert empty.status_code == 400
    other = client(gateway, staff, "maintainer", PLATFORM)
    assert other.post("/api/kb/hit-test", json={"question": "养老金卡调整要钱吗",
                                                "entry": draft_entry}).status_code == 404
