"""The Rasa launcher's validator checks action replies against Rasa's own schema, as before."""

import subprocess

from xiaoshen import settings
from xiaoshen.stack import service_env

CHECK = """
import sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from bot.rasa_server import validate
schema = RemoteAction.action_response_format_spec()
validate({"events": [{"event": "slot", "name": "x", "value": 1}], "responses": []}, schema)
try:
    validate({"events": "not a list"}, schema)
except ValidationError:
    sys.exit(0)
sys.exit(3)
"""


def test_valid_replies_pass_and_invalid_ones_are_rejected() -> None:
    result = subprocess.run([settings.load().rasa_python, "-c", CHECK], cwd=settings.ROOT,
                            env=service_env(settings.load()), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
