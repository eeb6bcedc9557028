"""Entry versions and their review: every change kept with its author, review by someone
else, stale saves refused with the diff, rollback as a new version; and policies judged by
working days."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from kb.policies import Policies
from kb.store import Entry, KnowledgeBase
from kb.versions import EntryVersions, ReviewRefused, StaleVersion

OLD, NEW = "您好，需要身份证和居住证。", "您好，需要身份证、居住证和近期照片一张。"



@pytest.fixture
def kb(memory_kb: KnowledgeBase) -> KnowledgeBase:
    memory_kb.upsert_entries([Entry("03-materials", 3, "居住证签注要什么材料？", OLD,
                                    ["签注带啥"])], updated_by="import-admin")
    return memory_kb


def test_an_import_is_a_version_and_an_unchanged_reimport_writes_none(kb) -> None:
    versions = EntryVersions(kb)
    (first,) = versions.history("03-materials")
    assert (first.version, first.author, first.source, first.review) == (
        1, "import-admin", "import", "approved")
    before = kb.revision
    kb.upsert_entries([kb.get("03-materials")], updated_by="someone")
    assert len(versions.history("03-materials")) == 1 and kb.revision == before


def test_a_change_goes_live_only_when_another_approves_it(kb) -> None:
    versions = EntryVersions(kb)
    revision = kb.revision
    change = versions.save(replace(kb.get("03-materials"), answer=NEW), "alice", 1,
                           reason="新增照片要求", submit=True)
    assert (change.version, change.review, change.base_version) == (2, "in_review", 1)
    assert kb.get("03-materials").answer == OLD and kb.revision == revision  # not live yet
    with pytest.raises(ReviewRefused, match="不能审核自己"):
        versions.approve("03-materials", 2, "alice")
    approved = versions.approve("03-materials", 2, "bob")
    assert (approved.review, approved.reviewer) == ("approved", "bob")
    assert kb.get("03-materials").answer == NEW and kb.get("03-materials").version == 2
    assert kb.revision == revision + 1


def test_a_returned_change_needs_a_comment_and_can_be_resubmitted(kb) -> None:
    versions = EntryVersions(kb)
    versions.save(replace(kb.get("03-materials"), answer=NEW), "alice", 1, submit=True)
    with pytest.raises(ReviewRefused):
        versions.return_("03-materials", 2, "bob", " ")
    returned = versions.return_("03-materials", 2, "bob", "请注明照片尺寸")
    assert (returned.review, returned.review_comment) == ("returned", "请注明照片尺寸")
    assert versions.submit("03-materials", 2, "alice").review == "in_review"


def test_a_stale_save_is_refused_with_what_changed(kb) -> None:
    versions = EntryVersions(kb)
    versions.save(replace(kb.get("03-materials"), answer=NEW), "alice", 1)
    with pytest.raises(StaleVersion) as refused:
        versions.save(replace(kb.get("03-materials"), answer="另一种写法"), "bob", 1)
    assert refused.value.latest.author == "alice"
    assert [(c["field"], c["after"]) for c in refused.value.changes] == [("answer", NEW)]
    assert [v.version for v in versions.history("03-materials")] == [2, 1]


def test_an_approval_of_a_change_made_on_an_old_version_is_refused(kb) -> None:
    versions = EntryVersions(kb)
    versions.save(replace(kb.get("03-materials"), answer=NEW), "alice", 1, submit=True)
    kb.upsert_entries([replace(kb.get("03-materials"), answer="导入的新口径")], "importer")
    with pytest.raises(StaleVersion):
        versions.approve("03-materials", 2, "bob")
    assert kb.get("03-materials").answer == "导入的新口径"


def test_rollback_makes_the_old_wording_current_as_a_new_version(kb) -> None:
    versions = EntryVersions(kb)
    versions.save(replace(kb.get("03-materials"), answer=NEW), "alice", 1, submit=True)
    versions.approve("03-materials", 2, "bob")
    with pytest.raises(ReviewRefused):
        versions.rollback("03-materials", 1, "carol", "")
    rolled = versions.rollback("03-materials", 1, "carol", "新要求尚未生效")
    assert (rolled.version, rolled.source, rolled.review) == (3, "rollback", "approved")
    assert kb.get("03-materials").answer == OLD and kb.get("03-materials").version == 3
    assert [v.version for v in versions.history("03-materials")] == [3, 2, 1]


def test_a_new_entry_is_a_draft_until_approved(kb) -> None:
    versions = EntryVersions(kb)
    draft = Entry("03-new", 3, "签注可以代办吗？", "可以，代办人需携带双方身份证。")
    versions.save(draft, "alice", 0, source="seat_candidate", submit=True)
    assert kb.get("03-new").status == "draft"
    assert [v.entry_id for v in versions.queue("市公安局")] == ["03-new"]
    assert versions.queue("市人社局") == []
    versions.approve("03-new", 1, "bob")
    assert kb.get("03-new").status == "published"
    assert "03-new" in {e.entry_id for e in kb.live_entries()}


def test_a_scheduled_entry_is_served_from_its_effective_day(kb) -> None:
    EntryVersions(kb).save(replace(kb.get("03-materials"), answer=NEW, entry_id="03-2027",
                                   effective_from="2027-01-01"), "alice", 0, submit=True)
    EntryVersions(kb).approve("03-2027", 1, "bob")
    assert "03-2027" not in {e.entry_id for e in kb.live_entries(date(2026, 12, 31))}
    assert "03-2027" in {e.entry_id for e in kb.live_entries(date(2027, 1, 1))}


def approved_on(kb: KnowledgeBase, at, entry_id: str, moment: str) -> None:
    at(moment)
    versions = EntryVersions(kb)
    base = kb.latest_version(entry_id)
    versions.save(replace(kb.get("03-materials"), entry_id=entry_id, answer=NEW), "alice",
                  base, submit=True)
    versions.approve(entry_id, base + 1, "bob")


def test_a_policy_is_judged_by_working_days_before_it_takes_effect(kb, at) -> None:
    """端午 2026 is Friday 19 June to Sunday 21 June: for a policy in effect on Monday 22 June,
    the working day before is Thursday 18 June; an approval on Sunday (the calendar day
    before) is late."""
    approved_on(kb, at, "03-early", "2026-06-18T16:00:00+08:00")
    approved_on(kb, at, "03-sunday", "2026-06-21T10:00:00+08:00")
    policies = Policies(kb)
    at("2026-06-15T09:00:00+08:00")
    on_time = policies.add("居住证签注材料调整", date(2026, 6, 22),
                           doc_number="杨府办发〔2026〕8号", item_nos=[3],
                           entry_ids=["03-early"], by="sup")
    late = policies.add("居住证签注照片要求", date(2026, 6, 22), entry_ids=["03-sunday"],
                        by="sup")
    assert on_time.ready_by == date(2026, 6, 18) and not on_time.flagged
    assert late.flagged and late.entries[0].state == "late"
    assert late.lacking == ["条目 03-sunday 于 2026-06-21 才审核发布，晚于 2026-06-18"]


def test_a_policy_still_lacking_wording_is_flagged_once_its_day_is_close(kb, at) -> None:
    at("2026-12-01T09:00:00+08:00")
    policy = Policies(kb).add("新政策", date(2026, 12, 7), item_nos=[3, 5], by="sup")
    assert not policy.flagged and "尚未关联任何条目" in policy.lacking
    at("2026-12-05T09:00:00+08:00")  # Saturday: ready_by (Friday 4th) has passed
    assert Policies(kb).get(policy.id).flagged
    assert [p.id for p in Policies(kb).list("市公安局", upcoming=True)] == [policy.id]
