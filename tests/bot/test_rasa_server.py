"""The Rasa launcher's compiled validator checks action replies against Rasa's own schema, and
rejects a bad one with Rasa's error, as before."""

import subprocess

from xiaoshen import settings
from xiaoshen.stack import service_env

CHECK = """
import sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from bot.rasa_server import validate_action_result
action = RemoteAction("action_answer_question", None)
good = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "好"}]}
assert validate_action_result(action, good)
assert validate_action_result(action, {"events": [], "responses": []})
for bad in ({"events": "not a list"}, {"events": [{"event": "no such event"}]},
            {"events": [{"event": "slot", "name": 3}]}, {"events": [{"name": "x"}]},
            {"events": [{"event": "user", "text": 5}]}, {"responses": "text"}):
    try:
        validate_action_result(action, bad)
    except ValidationError as error:
        assert "Failed to validate Action server response" in error.message
    else:
        sys.exit(f"accepted {bad}")
"""


def test_valid_replies_pass_and_invalid_ones_are_rejected() -> None:
    result = subprocess.run([settings.load().rasa_python, "-c", CHECK], cwd=settings.ROOT,
                            env=service_env(settings.load()), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
