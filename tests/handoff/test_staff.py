"""Staff logins: throttled per name and address, expiring when idle, revoked by logout; a
look at a session without activity does not keep it alive."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from handoff.staff import LoginFailed, LoginThrottled, StaffDirectory
from kb import clock

PASSWORD = "correct horse battery"


@pytest.fixture
def staff(memory_kb) -> StaffDirectory:
    directory = StaffDirectory(memory_kb, idle_seconds=600)
    directory.add("wang", "agent", PASSWORD, "市公安局")
    return directory


def age(staff: StaffDirectory, token_hash_user: str, seconds: float) -> None:
    earlier = (clock.now() - timedelta(seconds=seconds)).isoformat()
    staff.db.execute("UPDATE staff_sessions SET last_seen_at = ? WHERE user = ?",
                     [earlier, token_hash_user])
    staff.db.conn.commit()


def test_idle_sessions_expire_and_only_activity_keeps_them(staff) -> None:
    token = staff.login("wang", PASSWORD, "10.0.0.1")
    age(staff, "wang", 300)
    staff.session(token, touch=False)  # the heartbeat's look
    age_after_look = staff.db.execute("SELECT last_seen_at FROM staff_sessions").fetchone()[0]
    assert clock.now() - datetime.fromisoformat(age_after_look) >= timedelta(seconds=299)
    staff.session(token)  # the seat did something
    age(staff, "wang", 601)
    with pytest.raises(LoginFailed):
        staff.session(token)


def test_logout_revokes(staff) -> None:
    token = staff.login("wang", PASSWORD)
    staff.logout(token)
    with pytest.raises(LoginFailed):
        staff.session(token)


def test_five_failures_lock_the_name_even_for_the_right_password(staff) -> None:
    for _ in range(5):
        with pytest.raises(LoginFailed):
            staff.login("wang", "wrong password", "10.0.0.2")
    with pytest.raises(LoginThrottled):
        staff.login("wang", PASSWORD, "10.0.0.3")


def test_unknown_names_fail_like_wrong_passwords(staff) -> None:
    with pytest.raises(LoginFailed, match="wrong name or password"):
        staff.login("nobody", PASSWORD)
    assert staff.verify(None, PASSWORD) is False  # checked against the decoy hash
