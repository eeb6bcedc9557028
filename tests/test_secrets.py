"""The shared secrets: made once, kept owner-readable, the same for every process that asks
at once (`serve` and `status` start together)."""

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from xiaoshen import settings
from xiaoshen.secrets import Secrets, load_or_create, secrets_path


def secrets_for(db: str) -> Secrets:
    return load_or_create(settings.load({"XIAOSHEN_DB": db}))


def test_processes_asking_at_once_share_one_set_of_secrets(tmp_path: Path) -> None:
    db = str(tmp_path / "kb.db")
    with ProcessPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(secrets_for, [db] * 32))
    assert len(set(made)) == 1 and made[0] == secrets_for(db)
    path = secrets_path(settings.load({"XIAOSHEN_DB": db}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.json"]  # no staging file left


def test_a_damaged_file_is_replaced(tmp_path: Path) -> None:
    db = str(tmp_path / "kb.db")
    (tmp_path / "secrets.json").write_text("{not json", "utf-8")
    made = secrets_for(db)
    assert made == secrets_for(db) and made.rasa_token
