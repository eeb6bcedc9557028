"""A scheduled entry through the real retriever (embedder, index, classifier) over the seed
base: published ahead, not served the day before its effective date, served on the day
(Asia/Shanghai) and no longer after its expiry, without restarting anything."""

from __future__ import annotations

import os
import shutil
import time

from kb import clock
from kb.io import import_seed
from kb.store import Entry, KnowledgeBase
from kb.versions import EntryVersions
from tests.conftest import SEED
from xiaoshen import settings

QUESTION = "社区长者食堂的助餐补贴怎么申领"
ANSWER = "自2027年1月1日起，社区长者食堂助餐补贴向户籍所在街道社区事务受理服务中心申领。"


def answer_on(retriever, at, moment: str, timeout: float = 120.0) -> str | None:
    """The entry the bot answers QUESTION with at `moment`, once the snapshot for that day
    is served (it is built when the day changes)."""
    at(moment)
    deadline = time.monotonic() + timeout
    day = clock.today().isoformat()
    while True:
        decision = retriever.decision(QUESTION)
        served = retriever.live.key and retriever.live.key[1] == day
        if served or time.monotonic() > deadline:
            return decision.entry.entry_id if decision.entry else None
        time.sleep(0.2)



def test_a_scheduled_entry_is_served_from_its_day_to_its_expiry(tmp_path, at) -> None:
    from xiaoshen.app import open_retriever

    kb = KnowledgeBase(tmp_path / "kb.db")
    import_seed(kb, SEED)
    cache = settings.load().index_dir.with_name("index-vectors.db")
    if cache.is_file():
        shutil.copy(cache, tmp_path / "index-vectors.db")
    retriever = open_retriever(settings.load({**os.environ, "XIAOSHEN_DB": str(kb.path),
                                              "XIAOSHEN_INDEX_DIR": str(tmp_path / "index")}))
    at("2026-12-30T10:00:00+08:00")
    versions = EntryVersions(kb)
    versions.save(Entry("00-meal-2027", 0, QUESTION, ANSWER, ["老人在社区食堂吃饭的补贴怎么申请"],
                        effective_from="2027-01-01", effective_to="2027-01-31"),
                  "alice", 0, submit=True)
    versions.approve("00-meal-2027", 1, "bob")

    assert answer_on(retriever, at, "2026-12-31T23:59:00+08:00") != "00-meal-2027"
    assert answer_on(retriever, at, "2027-01-01T00:01:00+08:00") == "00-meal-2027"
    assert answer_on(retriever, at, "2027-01-31T18:00:00+08:00") == "00-meal-2027"
    assert answer_on(retriever, at, "2027-02-01T08:00:00+08:00") != "00-meal-2027"


def kb_path(kb: KnowledgeBase) -> str:
    return kb.db.execute("PRAGMA database_list").fetchone()[2]
