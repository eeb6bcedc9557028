"""The Rasa server runs without TensorFlow (bot/lean_imports.py): a deferred module's body runs
at the first use of one of its names only, and the running Rasa never maps TensorFlow."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.lean_imports import DeferringFinder, defined_names
from xiaoshen import settings
from xiaoshen.supervisor import read_state

PROBE = """
import os
from pathlib import Path

Path(os.environ["LEAN_PROBE_MARKER"]).touch()
LIMIT = 3


def answer() -> int:
    return 42
"""


@pytest.mark.parametrize(("source", "names"), [
    ("import os\nfrom a import b as c\n", {"os", "c"}),
    ("def f():\n    inner = 1\nclass K: pass\n", {"f", "K"}),
    ("X, Y = 1, 2\nprint(Z)\n", {"X", "Y"}),
    ("try:\n    import tensorflow as tf\nexcept ImportError:\n    tf = None\n", {"tf"}),
])
def test_defined_names_are_read_without_running(source: str, names: set[str]) -> None:
    assert defined_names(source, "<test>") == names


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "lean_probe.py").write_text(PROBE, encoding="utf-8")
    marker = tmp_path / "ran"
    monkeypatch.setenv("LEAN_PROBE_MARKER", str(marker))
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = DeferringFinder(("lean_probe",))
    sys.meta_path.insert(0, finder)
    yield marker
    sys.meta_path.remove(finder)
    sys.modules.pop("lean_probe", None)


def test_a_deferred_module_runs_at_the_first_use_of_its_names(probe: Path) -> None:
    import lean_probe

    assert not probe.exists()
    import lean_probe as again  # a second import (Rasa's modules do) does not run it

    assert again is lean_probe and not probe.exists()
    assert getattr(lean_probe, "agm", None) is None  # what pickle's whichmodule asks every module
    assert not probe.exists()
    assert lean_probe.answer() == 42
    assert probe.exists() and lean_probe.LIMIT == 3



def libraries_after_a_question(stack: str, stack_settings: settings.Settings, service: str,
                               question: str) -> str:
    """What `service` of the running stack has mapped, once it has answered `question`."""
    reply = httpx.post(stack + "/webhooks/rest/webhook", timeout=60,
                       json={"sender": f"lean-{service}", "message": question})
    assert reply.status_code == 200 and reply.json()[0]["text"]
    pid = read_state(stack_settings)[service]["pid"]
    return Path(f"/proc/{pid}/maps").read_text()


def test_the_running_rasa_never_loads_tensorflow(stack: str,
                                                 stack_settings: settings.Settings) -> None:
    maps = libraries_after_a_question(stack, stack_settings, "rasa", "居住证签注要带什么材料")
    assert "libtensorflow" not in maps and "xla_extension" not in maps


def test_the_running_action_server_never_loads_sklearn(stack: str,
                                                       stack_settings: settings.Settings) -> None:
    """The service classifier loads from plain arrays (kb/classifier.py): sklearn, scipy's
    statistics and joblib were a quarter of the action server's start."""
    maps = libraries_after_a_question(stack, stack_settings, "actions", "营业执照怎么办理")
    assert "/sklearn/" not in maps and "/scipy/stats/" not in maps
